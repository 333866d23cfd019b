package statusfile_test

import (
	"testing"

	"github.com/carrierhub/hub/connectors/statusfile"
	"github.com/carrierhub/hub/sdk"
)

// FuzzReceivePush feeds arbitrary files to receive_push as X12, CSV and
// sniffed input: the connector must answer or refuse with a classified,
// non-internal error, never panic.
func FuzzReceivePush(f *testing.F) {
	for _, p := range []string{
		"mappings/x12-214.two-shipments.in.edi", "mappings/x12-214.attempt.in.edi", "mappings/csv.three-shipments.in.csv",
		"mappings/csv.minimal.in.csv", "testdata/bad-date.csv", "testdata/bad-truncated.214", "testdata/bad-timecode.edi",
	} {
		f.Add(readFile(f, p), uint8(0))
	}
	f.Add([]byte("ISA*00*"), uint8(2))
	f.Add([]byte("tracking_number,status_code,event_time\nA,DL,2026-01-01T00:00:00Z\n"), uint8(1))
	d := newDispatcher(f)
	types := []string{statusfile.ContentTypeOctet, statusfile.ContentTypeCSV, statusfile.ContentTypeX12}
	f.Fuzz(func(t *testing.T, body []byte, kind uint8) {
		ct := types[int(kind)%len(types)]
		res, perr := push(t, d, "fuzz", ct, body)
		if perr != nil {
			if perr.Code != sdk.CodeInvalidRequest {
				t.Fatalf("%s: %s %q", ct, perr.Code, perr.Message)
			}
			return
		}
		for _, r := range res.Results {
			if r.TrackingNumber == "" {
				t.Fatalf("a result without a tracking number: %+v", r)
			}
		}
	})
}
