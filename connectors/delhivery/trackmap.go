package delhivery

import (
	"embed"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/carrierhub/hub/mappings"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
)

// The translation of a tracking answer (Delhivery JSON to model.Tracking) is
// the mapping mappings/track.mapping with its table mappings/delhivery-status.csv:
// status and sub-status per state, raw code and text, IST times, locations,
// sorting scans and the fall back to the latest mapped scan. What stays in Go is
// what a mapping cannot say: the HTTP calls, the refused-batch envelope
// ("Error") and the one-waybill-at-a-time fallback (connector.go), the
// per-number not-found results, and classifying failures as sdk errors.

//go:embed mappings/*.mapping mappings/delhivery-status.csv
var mappingFiles embed.FS

// trackProgram compiles the tracking mapping on first use.
var trackProgram = mappings.Lazy(mappingFiles, "mappings/track.mapping")

// fromTrackResponse maps a tracking answer through the mapping and indexes the
// results by waybill.
func fromTrackResponse(data []byte) (map[string]model.Tracking, error) {
	prog, err := trackProgram()
	if err != nil {
		return nil, sdk.Errorf(sdk.CodeInternal, "compiling the tracking mapping: %v", err)
	}
	out, err := prog.ApplyJSON(nil, data)
	if err != nil {
		return nil, &sdk.Error{Code: sdk.CodePermanent, Source: sdk.SourceConnector,
			Message: fmt.Sprintf("reading Delhivery's tracking response: %v", err), CarrierMessage: snippet(data)}
	}
	var resp model.TrackResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		return nil, sdk.Errorf(sdk.CodeInternal, "reading the tracking mapping's output: %v", err)
	}
	found := make(map[string]model.Tracking, len(resp.Results))
	for _, t := range resp.Results {
		found[t.TrackingNumber] = t
	}
	return found, nil
}

type mapped struct {
	status model.TrackingStatus
	sub    string
}

// statusTable is mappings/delhivery-status.csv, read on first use: the same
// table the tracking mapping looks states up in.
var statusTable = sync.OnceValues(func() (map[string]mapped, error) {
	f, err := mappingFiles.Open("mappings/delhivery-status.csv")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comment = '#'
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("reading delhivery-status.csv: %w", err)
	}
	out := make(map[string]mapped, len(rows))
	for _, row := range rows[1:] { // rows[0] is the header
		if len(row) < 3 {
			return nil, fmt.Errorf("reading delhivery-status.csv: row %q has fewer than three columns", row)
		}
		out[strings.TrimSpace(row[0])] = mapped{model.TrackingStatus(strings.TrimSpace(row[1])), strings.TrimSpace(row[2])}
	}
	return out, nil
})

// MapStatus maps Delhivery's StatusType, Status text and StatusCode onto the
// canonical status and sub-status with the connector's status table
// (mappings/delhivery-status.csv), by the rule the tracking mapping follows: a
// TYPE/text/CODE row wins over its TYPE/text row, the type and code compared in
// upper case and the text in lower case with runs of ASCII whitespace collapsed.
// A pair that is not in the table is unknown/unmapped, never a guess. It is pure
// and safe for concurrent use.
func MapStatus(statusType, status, statusCode string) (model.TrackingStatus, string) {
	table, err := statusTable()
	if err != nil {
		return model.StatusUnknown, "unmapped"
	}
	typ := strings.ToUpper(strings.TrimSpace(statusType))
	text := strings.ToLower(strings.Join(strings.FieldsFunc(status, isASCIISpace), " "))
	code := strings.ToUpper(strings.TrimSpace(statusCode))
	if m, ok := table[typ+"/"+text+"/"+code]; ok {
		return m.status, m.sub
	}
	if m, ok := table[typ+"/"+text]; ok {
		return m.status, m.sub
	}
	return model.StatusUnknown, "unmapped"
}

// isASCIISpace is the whitespace the mapping collapses in Status texts.
func isASCIISpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }
