package statusfile_test

import (
	"encoding/json"
	"testing"

	"github.com/carrierhub/hub/connectors/statusfile"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/conformance"
	"github.com/carrierhub/hub/sdk/model"
)

// TestConformance runs the SDK's contract kit with the connector out of process:
// a 214 and a CSV read through the process boundary, and bad files refused as
// invalid requests.
func TestConformance(t *testing.T) {
	x12 := readFile(t, "mappings/x12-214.two-shipments.in.edi")
	csv := readFile(t, "mappings/csv.three-shipments.in.csv")
	results := func(n int) func(t *testing.T, out []byte) {
		return func(t *testing.T, out []byte) {
			var r model.PushResponse
			if err := json.Unmarshal(out, &r); err != nil || len(r.Results) != n {
				t.Errorf("want %d results, got %s (%v)", n, out, err)
			}
		}
	}
	conformance.Run(t, statusfile.New(), conformance.Options{
		Account: func(t *testing.T) *sdk.Account { return account() },
		Cases: []conformance.Case{
			{Name: "x12_214", Operation: sdk.OpReceivePush, Check: results(2), Request: model.PushRequest{
				ContentType: statusfile.ContentTypeX12, Headers: map[string]string{"x-hub-file-name": "odfl-0305.214"}, Body: x12}},
			{Name: "csv", Operation: sdk.OpReceivePush, Check: results(3), Request: model.PushRequest{
				ContentType: statusfile.ContentTypeCSV, Headers: map[string]string{"x-hub-file-name": "status.csv"}, Body: csv}},
			{Name: "sniffed_x12", Operation: sdk.OpReceivePush, Check: results(2), Request: model.PushRequest{
				ContentType: statusfile.ContentTypeOctet, Body: x12}},
			{Name: "truncated_214", Operation: sdk.OpReceivePush, WantCode: sdk.CodeInvalidRequest, Request: model.PushRequest{
				ContentType: statusfile.ContentTypeX12, Body: readFile(t, "testdata/bad-truncated.214")}},
			{Name: "csv_bad_date", Operation: sdk.OpReceivePush, WantCode: sdk.CodeInvalidRequest, Request: model.PushRequest{
				ContentType: statusfile.ContentTypeCSV, Body: readFile(t, "testdata/bad-date.csv")}},
		},
	})
}
