package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/carrierhub/hub/mappings"
	mcsv "github.com/carrierhub/hub/mappings/csv"
	"github.com/carrierhub/hub/mappings/edi"
	"github.com/carrierhub/hub/mappings/fixed"
	"github.com/carrierhub/hub/mappings/form"
	"github.com/carrierhub/hub/mappings/formats"
	mxml "github.com/carrierhub/hub/mappings/xml"
)

// mapCmd groups the mapping language's tools: apply a mapping, run every
// mapping's fixtures, list the functions.
func mapCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "map",
		Short: "Apply mapping files and run their fixtures",
		Long: `Mapping files translate between a provider's payloads and the canonical model
(mappings/README.md describes the language).

  hub map apply --mapping track.mapping response.json    map one input
  hub map test connectors/                               run every mapping's fixtures
  hub map functions                                      list the functions`,
	}
	cmd.AddCommand(mapApplyCmd(), mapTestCmd(), mapFunctionsCmd())
	return cmd
}

func mapApplyCmd() *cobra.Command {
	var mappingFile, from, to string
	var ropts readerOptions
	cmd := &cobra.Command{
		Use:   "apply --mapping FILE [--from FORMAT] [INPUT|-]",
		Short: "Map records from a file or stdin to stdout",
		Long: `Apply a mapping to INPUT (or stdin when INPUT is - or absent) and write the result
to stdout. JSON input is a stream of documents (NDJSON, or any concatenation of JSON
values) and the output is NDJSON, one line per input document; other formats are one
document per input. --from defaults to the format the mapping declares. Fixed-width
input needs --layout (a JSON column layout); form input parses the fields named by
--json-field as JSON (default: data, as in Delhivery's format=json&data=...).

--to writes the result through a writer instead of as JSON: xml, soap11, soap12
(the result's "Body" and "Header", or all of it as the body), csv (a list of flat
objects), form (an object of fields; --json-field fields as JSON), x12 and edifact
(the tree their readers produce; trailer counts and control numbers are written
from the headers). One document per input then, JSON input included.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if mappingFile == "" {
				return errors.New("--mapping is required")
			}
			prog, err := mappings.CompileFile(mappingFile, mappings.Options{})
			if err != nil {
				return err
			}
			if from == "" {
				from = prog.From()
			}
			if from != prog.From() {
				return fmt.Errorf("--from %s disagrees with the mapping, which reads %s", from, prog.From())
			}
			if !slices.Contains(formats.Outputs, to) {
				return fmt.Errorf("--to %q: write one of %s", to, strings.Join(formats.Outputs, ", "))
			}
			in := cmd.InOrStdin()
			if len(args) == 1 && args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			}
			out := bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10)
			defer out.Flush()
			if from == "json" && to == "json" {
				return applyStream(prog, in, out)
			}
			data, err := readLimited(in, int64(mappings.DefaultLimits.MaxInputBytes))
			if err != nil {
				return err
			}
			var res []byte
			if from == "json" {
				res, err = prog.ApplyJSON(nil, data)
			} else {
				var tree any
				if tree, err = readDoc(from, data, ropts); err == nil {
					res, err = prog.ApplyDoc(nil, tree)
				}
			}
			if err != nil {
				return err
			}
			if res, err = formats.Write(to, res, formats.WriteOptions{JSONFields: ropts.jsonFields, Declaration: true}); err != nil {
				return err
			}
			out.Write(res)
			if len(res) > 0 && res[len(res)-1] != '\n' {
				return out.WriteByte('\n')
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&mappingFile, "mapping", "", "the mapping file")
	cmd.Flags().StringVar(&from, "from", "", "input format: "+strings.Join(mappings.Formats, ", ")+" (default: the mapping's)")
	cmd.Flags().StringVar(&to, "to", "json", "output format: "+strings.Join(formats.Outputs, ", "))
	cmd.Flags().StringVar(&ropts.layoutFile, "layout", "", "fixed-width input: the column layout, a JSON file (see mappings/fixed)")
	cmd.Flags().StringSliceVar(&ropts.jsonFields, "json-field", []string{"data"}, "form input: fields whose value is JSON")
	return cmd
}

// applyStream maps each JSON document of in to one output line.
func applyStream(prog *mappings.Program, in io.Reader, out *bufio.Writer) error {
	sp := newJSONSplitter(in, mappings.DefaultLimits.MaxInputBytes)
	var buf []byte
	for n := 1; ; n++ {
		rec, err := sp.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("record %d: %w", n, err)
		}
		buf, err = prog.ApplyJSON(buf[:0], rec)
		if err != nil {
			return fmt.Errorf("record %d: %w", n, err)
		}
		buf = append(buf, '\n')
		if _, err := out.Write(buf); err != nil {
			return err
		}
	}
}

// jsonSplitter cuts a stream into top-level JSON values without decoding them;
// the mapping validates each one. It scans whole lines at a time, so NDJSON
// costs one copy per record.
type jsonSplitter struct {
	r    *bufio.Reader
	max  int
	buf  []byte
	pend []byte // unread bytes of the reader's buffer
	eof  bool
}

func newJSONSplitter(r io.Reader, max int) *jsonSplitter {
	return &jsonSplitter{r: bufio.NewReaderSize(r, 256<<10), max: max}
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

func (s *jsonSplitter) next() ([]byte, error) {
	s.buf = s.buf[:0]
	depth, inStr, esc, started, scalar := 0, false, false, false, false
	for {
		if len(s.pend) == 0 {
			if s.eof {
				if started {
					return s.record() // a scalar or truncated value: validation says which
				}
				return nil, io.EOF
			}
			line, err := s.r.ReadSlice('\n')
			switch {
			case err == io.EOF:
				s.eof = true
			case err != nil && err != bufio.ErrBufferFull:
				return nil, err
			}
			s.pend = line
			continue
		}
		chunk := s.pend
		from := 0
		for i := 0; i < len(chunk); i++ {
			c := chunk[i]
			if !started {
				if isSpace(c) {
					from = i + 1
					continue
				}
				started = true
				scalar = c != '{' && c != '[' && c != '"'
			}
			done := false
			switch {
			case inStr:
				if esc {
					esc = false
				} else if c == '\\' {
					esc = true
				} else if c == '"' {
					inStr = false
					done = depth == 0
				}
			case scalar:
				if isSpace(c) || c == '{' || c == '[' || c == '"' {
					s.buf = append(s.buf, chunk[from:i]...)
					s.pend = chunk[i:]
					return s.record()
				}
			case c == '"':
				inStr = true
			case c == '{' || c == '[':
				depth++
			case c == '}' || c == ']':
				depth--
				done = depth <= 0
			}
			if done {
				s.buf = append(s.buf, chunk[from:i+1]...)
				s.pend = chunk[i+1:]
				return s.record()
			}
		}
		s.buf = append(s.buf, chunk[from:]...)
		s.pend = nil
		if len(s.buf) > s.max {
			return nil, fmt.Errorf("document larger than the %d-byte limit", s.max)
		}
	}
}

func (s *jsonSplitter) record() ([]byte, error) {
	if len(s.buf) > s.max {
		return nil, fmt.Errorf("document larger than the %d-byte limit", s.max)
	}
	return s.buf, nil
}

func readLimited(r io.Reader, max int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("input larger than the %d-byte limit", max)
	}
	return data, nil
}

// readerOptions are what some readers need beyond the bytes: the column
// layout of a fixed-width file and the form fields that carry JSON.
type readerOptions struct {
	// layoutFile is a fixed.Layout as JSON; fixed input needs one.
	layoutFile string
	// jsonFields name form fields whose value is JSON (Delhivery's data=).
	jsonFields []string
}

// loadLayout reads and compiles a fixed-width layout file.
func loadLayout(file string) (*fixed.Format, error) {
	if file == "" {
		return nil, errors.New("fixed-width input needs a column layout: --layout FILE (a JSON fixed.Layout; hub map test looks for NAME.layout.json beside NAME.mapping)")
	}
	b, err := readFileLimited(file, 1<<20)
	if err != nil {
		return nil, err
	}
	var l fixed.Layout
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("layout %s: %w", file, err)
	}
	f, err := fixed.Compile(l)
	if err != nil {
		return nil, fmt.Errorf("layout %s: %w", file, err)
	}
	return f, nil
}

func readFileLimited(name string, max int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := readLimited(f, max)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return b, nil
}

// readDoc parses a non-JSON input into the document tree with the format's reader.
func readDoc(format string, data []byte, opts readerOptions) (any, error) {
	switch format {
	case "fixed":
		f, err := loadLayout(opts.layoutFile)
		if err != nil {
			return nil, err
		}
		return f.Read(bytes.NewReader(data))
	case "form":
		return form.Decode(string(data), form.Options{JSONFields: opts.jsonFields})
	case "xml":
		return mxml.Unmarshal(data, mxml.Options{})
	case "csv":
		return mcsv.Read(bytes.NewReader(data), mcsv.Options{})
	case "x12":
		return edi.ReadX12(data, edi.ReadOptions{})
	case "edifact":
		return edi.ReadEDIFACT(data, edi.ReadOptions{})
	}
	return nil, fmt.Errorf("input format %s has no reader", format)
}

// fixture is one input/expected-output pair next to a mapping:
// NAME.CASE.in.EXT and NAME.CASE.out.json beside NAME.mapping.
type fixture struct {
	name, in, out string
}

func findFixtures(mappingPath string) ([]fixture, error) {
	dir := filepath.Dir(mappingPath)
	base := strings.TrimSuffix(filepath.Base(mappingPath), ".mapping")
	ins, err := filepath.Glob(filepath.Join(dir, base+".*.in.*"))
	if err != nil {
		return nil, err
	}
	sort.Strings(ins)
	var fx []fixture
	for _, in := range ins {
		rest := strings.TrimPrefix(filepath.Base(in), base+".")
		i := strings.LastIndex(rest, ".in.")
		if i <= 0 {
			continue
		}
		name := rest[:i]
		fx = append(fx, fixture{name: name, in: in, out: filepath.Join(dir, base+"."+name+".out.json")})
	}
	return fx, nil
}

func mapTestCmd() *cobra.Command {
	var update bool
	cmd := &cobra.Command{
		Use:   "test [DIR]",
		Short: "Run every mapping's fixtures under DIR (default .)",
		Long: `Find every *.mapping file under DIR and run its fixtures: for NAME.mapping, each
NAME.CASE.in.EXT is mapped and compared with NAME.CASE.out.json (as JSON values, so
formatting does not matter). A mismatch prints a line diff; any failure exits 1.
--update writes the actual outputs as the expected ones.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			root := "."
			if len(args) == 1 {
				root = args[0]
			}
			var files []string
			err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
					return filepath.SkipDir
				}
				if !d.IsDir() && strings.HasSuffix(p, ".mapping") {
					files = append(files, p)
				}
				return nil
			})
			if err != nil {
				return err
			}
			if len(files) == 0 {
				return fmt.Errorf("no .mapping files under %s", root)
			}
			w := cmd.OutOrStdout()
			failed, passed := 0, 0
			for _, f := range files {
				p, err := mappings.CompileFile(f, mappings.Options{})
				if err != nil {
					fmt.Fprintf(w, "FAIL %s\n     %v\n", f, err)
					failed++
					continue
				}
				fx, err := findFixtures(f)
				if err != nil {
					return err
				}
				if len(fx) == 0 {
					fmt.Fprintf(w, "?    %s (no fixtures: add %s.CASE.in.%s and .out.json beside it)\n", f, strings.TrimSuffix(filepath.Base(f), ".mapping"), p.From())
					continue
				}
				for _, x := range fx {
					msg := runFixture(p, x, update)
					if msg == "" {
						fmt.Fprintf(w, "ok   %s %s\n", f, x.name)
						passed++
					} else {
						fmt.Fprintf(w, "FAIL %s %s\n%s\n", f, x.name, indent(msg, "     "))
						failed++
					}
				}
			}
			fmt.Fprintf(w, "%d passed, %d failed\n", passed, failed)
			if failed > 0 {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&update, "update", false, "write the actual outputs as the expected ones")
	return cmd
}

// layoutFor is the fixed-width layout of a fixture: NAME.layout.json beside
// NAME.CASE.in.EXT.
func layoutFor(x fixture) string {
	base := filepath.Base(x.in)
	name, _, _ := strings.Cut(base, ".")
	return filepath.Join(filepath.Dir(x.in), name+".layout.json")
}

// runFixture maps one fixture and returns "" when the output matches.
func runFixture(p *mappings.Program, x fixture, update bool) string {
	in, err := os.ReadFile(x.in)
	if err != nil {
		return err.Error()
	}
	var got []byte
	if p.From() == "json" {
		got, err = p.ApplyJSON(nil, in)
	} else {
		var tree any
		ropts := readerOptions{jsonFields: []string{"data"}}
		if p.From() == "fixed" {
			ropts.layoutFile = layoutFor(x)
		}
		if tree, err = readDoc(p.From(), in, ropts); err == nil {
			got, err = p.ApplyDoc(nil, tree)
		}
	}
	if err != nil {
		return err.Error()
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, got, "", "  "); err != nil {
		return fmt.Sprintf("output is not JSON: %v", err)
	}
	pretty.WriteByte('\n')
	if update {
		if err := os.WriteFile(x.out, pretty.Bytes(), 0o644); err != nil {
			return err.Error()
		}
		return ""
	}
	want, err := os.ReadFile(x.out)
	if err != nil {
		return fmt.Sprintf("no expected output: %v (run with --update to write it)", err)
	}
	if sameJSON(got, want) {
		return ""
	}
	var wantPretty bytes.Buffer
	if err := json.Indent(&wantPretty, want, "", "  "); err != nil {
		return fmt.Sprintf("%s is not JSON: %v", x.out, err)
	}
	wantPretty.WriteByte('\n')
	return "--- " + x.out + " (expected)\n+++ actual\n" + lineDiff(wantPretty.String(), pretty.String())
}

func sameJSON(a, b []byte) bool {
	var x, y any
	da := json.NewDecoder(bytes.NewReader(a))
	da.UseNumber()
	db := json.NewDecoder(bytes.NewReader(b))
	db.UseNumber()
	if da.Decode(&x) != nil || db.Decode(&y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// lineDiff returns the lines that differ, with two lines of context, from a
// longest-common-subsequence alignment.
func lineDiff(a, b string) string {
	al := strings.Split(strings.TrimSuffix(a, "\n"), "\n")
	bl := strings.Split(strings.TrimSuffix(b, "\n"), "\n")
	if len(al)*len(bl) > 4_000_000 {
		return "(outputs too large to diff)"
	}
	lcs := make([][]int, len(al)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(bl)+1)
	}
	for i := len(al) - 1; i >= 0; i-- {
		for j := len(bl) - 1; j >= 0; j-- {
			if al[i] == bl[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		op   byte
		text string
	}
	var ops []line
	i, j := 0, 0
	for i < len(al) || j < len(bl) {
		switch {
		case i < len(al) && j < len(bl) && al[i] == bl[j]:
			ops = append(ops, line{' ', al[i]})
			i++
			j++
		case j < len(bl) && (i == len(al) || lcs[i][j+1] >= lcs[i+1][j]):
			ops = append(ops, line{'+', bl[j]})
			j++
		default:
			ops = append(ops, line{'-', al[i]})
			i++
		}
	}
	var sb strings.Builder
	const ctx = 2
	last := -1
	for k, o := range ops {
		near := false
		for d := -ctx; d <= ctx; d++ {
			if k+d >= 0 && k+d < len(ops) && ops[k+d].op != ' ' {
				near = true
				break
			}
		}
		if !near {
			continue
		}
		if last >= 0 && k > last+1 {
			sb.WriteString("...\n")
		}
		sb.WriteByte(o.op)
		sb.WriteString(o.text)
		sb.WriteByte('\n')
		last = k
	}
	return strings.TrimSuffix(sb.String(), "\n")
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

func mapFunctionsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "functions",
		Short: "List the mapping language's functions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, f := range mappings.Builtins() {
				fmt.Fprintf(cmd.OutOrStdout(), "%-14s %s\n", f[0], f[1])
			}
			return nil
		},
	}
}
