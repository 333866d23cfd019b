package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/carrierhub/hub/mappings"
	mcsv "github.com/carrierhub/hub/mappings/csv"
	"github.com/carrierhub/hub/mappings/edi"
	"github.com/carrierhub/hub/mappings/fixed"
	"github.com/carrierhub/hub/mappings/fixtures"
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
	f, err := fixed.ParseLayout(b)
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
			fsys := os.DirFS(root)
			files, err := fixtures.Mappings(fsys)
			if err != nil {
				return err
			}
			if len(files) == 0 {
				return fmt.Errorf("no .mapping files under %s", root)
			}
			w := cmd.OutOrStdout()
			failed, passed := 0, 0
			for _, f := range files {
				shown := filepath.Join(root, f)
				p, err := fixtures.Compile(fsys, f)
				if err != nil {
					fmt.Fprintf(w, "FAIL %s\n     %v\n", shown, err)
					failed++
					continue
				}
				fx, err := fixtures.For(fsys, f)
				if err != nil {
					return err
				}
				if len(fx) == 0 {
					fmt.Fprintf(w, "?    %s (no fixtures: add %s.CASE.in.%s and .out.json beside it)\n", shown, strings.TrimSuffix(filepath.Base(f), ".mapping"), p.From())
					continue
				}
				for _, x := range fx {
					got, msg := fixtures.Check(fsys, p, x)
					if update && got != nil {
						if err := os.WriteFile(filepath.Join(root, x.Out), got, 0o644); err != nil {
							return err
						}
						msg = ""
					}
					if msg == "" {
						fmt.Fprintf(w, "ok   %s %s\n", shown, x.Name)
						passed++
					} else {
						fmt.Fprintf(w, "FAIL %s %s\n%s\n", shown, x.Name, indent(msg, "     "))
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
