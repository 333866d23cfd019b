package statusfile

import (
	"bytes"
	"embed"
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

//go:embed mappings/*.mapping mappings/*.csv
var mappingFiles embed.FS

func compile(name string) func() (*mappings.Program, error) {
	return sync.OnceValues(func() (*mappings.Program, error) {
		return mappings.CompileFS(mappingFiles, name, mappings.Options{Limits: mappings.Limits{
			MaxInputBytes: MaxFileBytes, MaxSteps: maxSteps}})
	})
}

var (
	x12Program = compile("mappings/x12-214.mapping")
	csvProgram = compile("mappings/csv.mapping")
)

// csvRequired are the columns the default CSV layout cannot do without.
var csvRequired = []string{"tracking_number", "status_code", "event_time"}

// readFile parses a file in format f and maps it to tracking results.
func readFile(f format, body []byte) (*model.PushResponse, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, sdk.InvalidField("/body", "the file is empty")
	}
	if len(body) > MaxFileBytes {
		return nil, sdk.InvalidField("/body", "the file is %d bytes; at most %d are read", len(body), MaxFileBytes)
	}
	var (
		tree  any
		lines []int // CSV: the line each data row starts on
		prog  *mappings.Program
		err   error
	)
	switch f {
	case formatX12:
		prog, err = x12Program()
		if err == nil {
			var root any
			root, err = edi.ReadX12(body, edi.ReadOptions{Limits: edi.Limits{MaxBytes: MaxFileBytes, MaxSegments: MaxSegments}})
			if err != nil {
				return nil, sdk.InvalidField("/body", "the file is not a valid X12 interchange: %v", err)
			}
			tree = root
		}
	default:
		prog, err = csvProgram()
		if err == nil {
			tree, lines, err = readCSV(body)
			if err != nil {
				return nil, err
			}
		}
	}
	if err != nil {
		return nil, sdk.Errorf(sdk.CodeInternal, "compiling the %s mapping: %v", f, err)
	}
	out, err := prog.ApplyDoc(nil, tree)
	if err != nil {
		return nil, mappingError(f, err, lines)
	}
	var res model.PushResponse
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, sdk.Errorf(sdk.CodeInternal, "reading the %s mapping's output: %v", f, err)
	}
	if res.Results == nil {
		res.Results = []model.Tracking{}
	}
	return &res, nil
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

// rowPath matches a runtime error's input path into the CSV rows: "[12].event_time".
var rowPath = regexp.MustCompile(`^\[(\d+)\](?:\.(\w+))?`)

// mappingError classifies a mapping failure. A runtime error means the file
// breaks a rule of the format (a missing date, an unreadable time, a set that
// is not a 214) and names where: the X12 tree path of the segment, or the CSV
// line and column. Anything else is the connector's own fault.
func mappingError(f format, err error, lines []int) error {
	var re *mappings.RuntimeError
	if errors.As(err, &re) {
		where := re.Path
		if f == formatCSV {
			if m := rowPath.FindStringSubmatch(re.Path); m != nil {
				i, _ := strconv.Atoi(m[1])
				if i < len(lines) {
					where = fmt.Sprintf("line %d", lines[i])
					if m[2] != "" {
						where += ", column " + m[2]
					}
				}
			}
		} else if where != "" {
			where = "segment " + where
		}
		if where == "" {
			return sdk.InvalidField("/body", "the %s file cannot be read: %s", f, re.Msg)
		}
		return sdk.InvalidField("/body", "%s: %s", where, re.Msg)
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
