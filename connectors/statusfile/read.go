package statusfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/carrierhub/hub/mappings"
	mcsv "github.com/carrierhub/hub/mappings/csv"
	"github.com/carrierhub/hub/mappings/doc"
	"github.com/carrierhub/hub/mappings/edi"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
)

// Limits on one status file.
const (
	// MaxFileBytes is the largest file read (16 MiB).
	MaxFileBytes = 16 << 20
	// MaxRows is the most data rows a CSV file may hold.
	MaxRows = 100_000
	// MaxSegments is the most segments an X12 file may hold.
	MaxSegments = 500_000
	// maxSteps is the mapping's evaluation budget per file: far above what a
	// file within the row and segment limits needs, so only a runaway stops.
	maxSteps = 200_000_000
)

// format is how a file is read.
type format int

const (
	formatCSV format = iota
	formatX12
)

func (f format) String() string {
	if f == formatX12 {
		return "X12 214"
	}
	return "CSV"
}

// detectFormat picks the reader from the content type the hub set from the
// file's extension, sniffing the body when the type says nothing.
func detectFormat(contentType string, body []byte) format {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(contentType))
	}
	switch mt {
	case ContentTypeX12, "application/x12":
		return formatX12
	case ContentTypeCSV, "application/csv":
		return formatCSV
	}
	return sniff(body)
}

// sniff says X12 when the body starts with an ISA segment (after a byte order
// mark and white space), CSV otherwise.
func sniff(body []byte) format {
	b := bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	b = bytes.TrimLeft(b, " \t\r\n")
	if bytes.HasPrefix(b, []byte("ISA")) {
		return formatX12
	}
	return formatCSV
}

func compile(name string) func() (*mappings.Program, error) {
	return sync.OnceValues(func() (*mappings.Program, error) {
		return mappings.CompileFS(folder, name, mappings.Options{Limits: mappings.Limits{
			MaxInputBytes: MaxFileBytes, MaxSteps: maxSteps}})
	})
}

var (
	x12Program = compile("mappings/x12-214.mapping")
	csvProgram = compile("mappings/csv.mapping")
)

// csvRequired are the columns the default CSV layout cannot do without.
var csvRequired = []string{"tracking_number", "status_code", "event_time"}

// readFile parses a file in format f and maps it to tracking results. Go
// splits the file into one document per shipment (first appearance order) and
// maps each; a shipment's document holds only its own rows or transaction
// sets. (The split was first made because the mapping language's group_by was
// quadratic; it is linear now, and the split stays for its smaller documents.)
func readFile(f format, body []byte) (*model.PushResponse, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, sdk.InvalidField("/body", "the file is empty")
	}
	if len(body) > MaxFileBytes {
		return nil, sdk.InvalidField("/body", "the file is %d bytes; at most %d are read", len(body), MaxFileBytes)
	}
	var (
		parts []part
		prog  *mappings.Program
		err   error
	)
	if f == formatX12 {
		if prog, err = x12Program(); err != nil {
			return nil, sdk.Errorf(sdk.CodeInternal, "compiling the %s mapping: %v", f, err)
		}
		root, err := edi.ReadX12(body, edi.ReadOptions{Limits: edi.Limits{MaxBytes: MaxFileBytes, MaxSegments: MaxSegments}})
		if err != nil {
			return nil, sdk.InvalidField("/body", "the file is not a valid X12 interchange: %v", err)
		}
		parts = splitX12(root)
	} else {
		if prog, err = csvProgram(); err != nil {
			return nil, sdk.Errorf(sdk.CodeInternal, "compiling the %s mapping: %v", f, err)
		}
		rows, lines, err := readCSV(body)
		if err != nil {
			return nil, err
		}
		parts = splitCSV(rows, lines)
	}
	res := &model.PushResponse{Results: []model.Tracking{}}
	var buf []byte
	for _, p := range parts {
		buf, err = prog.ApplyDoc(buf[:0], p.doc)
		if err != nil {
			return nil, mappingError(f, err, p.where)
		}
		var one model.PushResponse
		if err := json.Unmarshal(buf, &one); err != nil {
			// The mappings write text wherever the model wants it, unless the
			// file holds a composite or repeated element (an object or a
			// list) where a simple one belongs and the value passed through.
			return nil, sdk.InvalidField("/body", "%s: a value has an unexpected shape (a composite or repeated element where the format has a simple one): %v",
				p.where[0], err)
		}
		res.Results = append(res.Results, one.Results...)
	}
	return res, nil
}

// part is one shipment's share of a file, as a document the mapping reads.
// where[i] names the i-th row (CSV: "line N") or transaction set (X12:
// "transaction set CTL (the Nth in the file)") of the part, for errors.
type part struct {
	doc   any
	where []string
}

// splitCSV groups data rows by trimmed tracking number, in order of first
// appearance. Rows without one form their own part, which the mapping refuses.
func splitCSV(rows []any, lines []int) []part {
	var parts []part
	index := map[string]int{}
	for i, r := range rows {
		key := strings.TrimSpace(get(r, "tracking_number"))
		j, ok := index[key]
		if !ok || key == "" {
			j = len(parts)
			parts = append(parts, part{doc: []any{}})
			if key != "" {
				index[key] = j
			}
		}
		parts[j].doc = append(parts[j].doc.([]any), r)
		parts[j].where = append(parts[j].where, "line "+strconv.Itoa(lines[i]))
	}
	return parts
}

// splitX12 groups the transaction sets of every interchange and group by the
// B10 reference the mapping takes as the tracking number (B1001, else B1006,
// else B1002), in order of first appearance, each part a tree of one ISA, GS
// and the sets. Sets that are not 214s or have no reference form their own
// part, which the mapping refuses.
func splitX12(root *doc.Object) []part {
	var parts []part
	index := map[string]int{}
	n := 0
	for _, isa := range objects(root, "ISA") {
		for _, gs := range objects(isa, "GS") {
			for _, st := range objects(gs, "ST") {
				n++
				key := ""
				if get(st, "01") == "214" {
					if b10, ok := st.Get("B10"); ok {
						for _, k := range []string{"01", "06", "02"} {
							if key = strings.TrimSpace(get(b10, k)); key != "" {
								break
							}
						}
					}
				}
				j, ok := index[key]
				if !ok || key == "" {
					j = len(parts)
					parts = append(parts, part{doc: doc.NewObject(1)})
					if key != "" {
						index[key] = j
					}
				}
				p := &parts[j]
				p.where = append(p.where, fmt.Sprintf("transaction set %s (the %s in the file)", clip(get(st, "02")), ordinal(n)))
				sets, _ := p.doc.(*doc.Object)
				sets.Append("ST", st)
			}
		}
	}
	for i := range parts {
		gs := parts[i].doc.(*doc.Object)
		isa, top := doc.NewObject(1), doc.NewObject(1)
		isa.Set("GS", gs)
		top.Set("ISA", isa)
		parts[i].doc = top
	}
	return parts
}

// objects returns the objects under key: one, a list of them, or none.
func objects(o *doc.Object, key string) []*doc.Object {
	v, _ := o.Get(key)
	switch v := v.(type) {
	case *doc.Object:
		return []*doc.Object{v}
	case []any:
		out := make([]*doc.Object, 0, len(v))
		for _, x := range v {
			if obj, ok := x.(*doc.Object); ok {
				out = append(out, obj)
			}
		}
		return out
	}
	return nil
}

// get returns the string under key of an object, or "".
func get(v any, key string) string {
	o, ok := v.(*doc.Object)
	if !ok {
		return ""
	}
	s, _ := o.Get(key)
	str, _ := s.(string)
	return str
}

func clip(s string) string {
	if len(s) > 20 {
		return strconv.Quote(s[:20]) + "..."
	}
	return strconv.Quote(s)
}

func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return strconv.Itoa(n) + suffix
}

// readCSV reads the rows of a CSV file with the mapping language's reader (the
// same one `hub map test` uses), checks the header names the required columns
// and bounds the row count. lines[i] is the line data row i starts on.
func readCSV(body []byte) (rows []any, lines []int, err error) {
	rd, err := mcsv.NewReader(bytes.NewReader(body), mcsv.Options{MaxBytes: MaxFileBytes})
	if err != nil {
		return nil, nil, csvError(err)
	}
	header := rd.Header()
	for _, col := range csvRequired {
		if !contains(header, col) {
			return nil, nil, sdk.InvalidField("/body", "line 1: the header has no %s column (the layout needs %s; see the connector's README)",
				col, strings.Join(csvRequired, ", "))
		}
	}
	rows = []any{}
	for {
		row, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, csvError(err)
		}
		if len(rows) == MaxRows {
			return nil, nil, sdk.InvalidField("/body", "line %d: the file has more than %d rows", rd.Line(), MaxRows)
		}
		rows = append(rows, row)
		lines = append(lines, rd.Line())
	}
	return rows, lines, nil
}

func csvError(err error) error {
	var ce *mcsv.Error
	if errors.As(err, &ce) {
		return sdk.InvalidField("/body", "the file is not valid CSV: %s", strings.TrimPrefix(ce.Error(), "csv: "))
	}
	return sdk.InvalidField("/body", "the file is not valid CSV: %v", err)
}

// Paths of a runtime error into a part: "[12].event_time" (CSV) or
// "ISA.GS.ST[1].LX[2].AT7[\"05\"]" (X12).
var (
	rowPath = regexp.MustCompile(`^\[(\d+)\](?:\.(\w+))?`)
	setPath = regexp.MustCompile(`^ISA\.GS\.ST(?:\[(\d+)\])?\.?`)
)

// mappingError classifies a mapping failure. A runtime error means the file
// breaks a rule of the format (a missing date, an unreadable time, a set that
// is not a 214) and names where: the CSV line and column, or the X12
// transaction set and the path of the segment in it. Anything else is the
// connector's own fault.
func mappingError(f format, err error, where []string) error {
	var re *mappings.RuntimeError
	if errors.As(err, &re) {
		at := ""
		switch f {
		case formatCSV:
			if m := rowPath.FindStringSubmatch(re.Path); m != nil {
				if i, _ := strconv.Atoi(m[1]); i < len(where) {
					at = where[i]
					if m[2] != "" {
						at += ", column " + m[2]
					}
				}
			}
		default:
			if m := setPath.FindStringSubmatch(re.Path); m != nil {
				i, _ := strconv.Atoi(m[1])
				if i < len(where) {
					at = where[i]
					if rest := re.Path[len(m[0]):]; rest != "" {
						at += ", segment " + rest
					}
				}
			} else if len(where) == 1 {
				at = where[0]
			}
		}
		if at == "" {
			return sdk.InvalidField("/body", "the %s file cannot be read: %s", f, re.Msg)
		}
		return sdk.InvalidField("/body", "%s: %s", at, re.Msg)
	}
	if errors.Is(err, mappings.ErrInvalidInput) {
		return sdk.InvalidField("/body", "the %s file cannot be read: %v", f, err)
	}
	return sdk.Errorf(sdk.CodeInternal, "mapping the %s file: %v", f, err)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
