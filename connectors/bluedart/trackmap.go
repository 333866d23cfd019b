package bluedart

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/carrierhub/hub/mappings"
	"github.com/carrierhub/hub/mappings/doc"
	mxml "github.com/carrierhub/hub/mappings/xml"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
	"github.com/carrierhub/hub/sdk/transport/xmlhttp"
)

// The translation of a tracking answer (Blue Dart's XML to model.Tracking) is
// the mapping mappings/track.mapping with its table mappings/bluedart-status.csv:
// statuses by type and text, raw code and text, IST times, locations, scans
// oldest first and the fall back to the latest mapped scan. What stays in Go is
// what a mapping cannot say: the HTTP call, a refused query (<Error>), the
// not-found result for a requested number the answer leaves out, and
// classifying failures as sdk errors.

//go:embed mappings/*.mapping mappings/bluedart-status.csv
var mappingFiles embed.FS

// trackProgram compiles the tracking mapping on first use.
var trackProgram = mappings.Lazy(mappingFiles, "mappings/track.mapping")

// ParseTracking reads a tracking servlet answer into the mapping language's
// document tree. A refused query (<ShipmentData><Error>) is returned as the
// classified carrier error.
func ParseTracking(b []byte) (*doc.Object, error) {
	if t := bytes.TrimSpace(b); len(t) == 0 || t[0] != '<' || xmlhttp.IsHTML(t) {
		return nil, &sdk.Error{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceCarrier,
			Message: "Blue Dart's tracking answer is not XML (an HTML error page?)"}
	}
	root, err := mxml.Read(bytes.NewReader(b), mxml.Options{})
	if err != nil {
		return nil, &sdk.Error{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceCarrier,
			Message: fmt.Sprintf("decoding Blue Dart's tracking XML: %v", err)}
	}
	data, _ := root.Get("ShipmentData")
	sd, ok := data.(*doc.Object)
	if !ok {
		if _, isText := data.(string); isText { // <ShipmentData/>: no shipments
			return root, nil
		}
		return nil, &sdk.Error{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceCarrier,
			Message: "Blue Dart's tracking answer has no <ShipmentData> root"}
	}
	if v, ok := sd.Get("Error"); ok {
		text, _ := v.(string)
		e := sdk.CarrierError(ClassifyStatusText(text), "", strings.TrimSpace(text))
		e.Message = "Blue Dart said: " + e.CarrierMessage
		return nil, e
	}
	return root, nil
}

// FromTracking maps a tracking answer through the mapping and returns one
// result per requested number, in request order. Numbers Blue Dart does not
// return carry a not_found item error; NF records come out of the mapping as
// not_found too.
func FromTracking(numbers []string, root *doc.Object) (*model.TrackResponse, error) {
	prog, err := trackProgram()
	if err != nil {
		return nil, sdk.Errorf(sdk.CodeInternal, "compiling the tracking mapping: %v", err)
	}
	out, err := prog.ApplyDoc(nil, root)
	if err != nil {
		return nil, &sdk.Error{Code: sdk.CodePermanent, Source: sdk.SourceConnector,
			Message: fmt.Sprintf("reading Blue Dart's tracking answer: %v", err)}
	}
	var mapped model.TrackResponse
	if err := json.Unmarshal(out, &mapped); err != nil {
		return nil, sdk.Errorf(sdk.CodeInternal, "reading the tracking mapping's output: %v", err)
	}
	byAWB := make(map[string]model.Tracking, len(mapped.Results))
	for _, t := range mapped.Results {
		byAWB[t.TrackingNumber] = t
	}
	resp := &model.TrackResponse{Results: make([]model.Tracking, 0, len(numbers))}
	for _, n := range numbers {
		n = strings.TrimSpace(n)
		t, ok := byAWB[n]
		if !ok {
			t = model.Tracking{TrackingNumber: n, Status: model.StatusUnknown,
				Error: &model.ItemError{Code: string(sdk.CodeNotFound), Message: "Blue Dart returned no record for this waybill"}}
		}
		resp.Results = append(resp.Results, t)
	}
	return resp, nil
}
