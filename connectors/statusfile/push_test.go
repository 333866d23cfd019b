package statusfile_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/carrierhub/hub/connectors/statusfile"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
)

// contentTypeFor is the hub's rule: the content type follows the extension.
func contentTypeFor(name string) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".edi", ".x12", ".214":
		return statusfile.ContentTypeX12
	case ".csv":
		return statusfile.ContentTypeCSV
	}
	return statusfile.ContentTypeOctet
}

// canonical re-encodes a push response so two can be compared as JSON values.
func canonical(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var x any
	if err := json.Unmarshal(b, &x); err != nil {
		t.Fatal(err)
	}
	b, _ = json.MarshalIndent(x, "", "  ")
	return string(b)
}

// TestFixturesThroughTheConnector pushes every mapping fixture through
// receive_push, once with the content type its extension gives and once as
// octet-stream (sniffed), and expects the fixture's expected output: the
// connector adds nothing to the mapping and loses nothing.
func TestFixturesThroughTheConnector(t *testing.T) {
	d := newDispatcher(t)
	ins, _ := filepath.Glob("mappings/*.in.*")
	if len(ins) < 4 {
		t.Fatalf("found only %v", ins)
	}
	for _, in := range ins {
		out := strings.Replace(in, ".in.", ".out.", 1)
		out = strings.TrimSuffix(out, filepath.Ext(out)) + ".json"
		var want model.PushResponse
		if err := json.Unmarshal(readFile(t, out), &want); err != nil {
			t.Fatalf("%s: %v", out, err)
		}
		for _, ct := range []string{contentTypeFor(in), statusfile.ContentTypeOctet, ""} {
			got, perr := push(t, d, filepath.Base(in), ct, readFile(t, in))
			if perr != nil {
				t.Fatalf("%s as %q: %v", in, ct, perr)
			}
			if g, w := canonical(t, got), canonical(t, &want); g != w {
				t.Errorf("%s as %q:\n got %s\nwant %s", in, ct, g, w)
			}
		}
	}
}

// TestX12TwoShipments checks the points of the 214 fixture a reader cares
// about, so a careless --update of the fixture cannot hide a regression.
func TestX12TwoShipments(t *testing.T) {
	res, perr := push(t, newDispatcher(t), "odfl.214", statusfile.ContentTypeX12, readFile(t, "mappings/x12-214.two-shipments.in.edi"))
	if perr != nil {
		t.Fatal(perr)
	}
	if len(res.Results) != 2 {
		t.Fatalf("results: %+v", res.Results)
	}
	a, b := res.Results[0], res.Results[1]
	central := time.FixedZone("CST", -6*3600)
	if a.TrackingNumber != "PRO5550001" || a.Status != model.StatusDelivered || a.SubStatus != "delivered_to_consignee" ||
		a.DeliveredAt == nil || !a.DeliveredAt.Equal(time.Date(2026, 3, 4, 14, 20, 0, 0, central)) {
		t.Errorf("first shipment: %+v", a)
	}
	// Three transaction sets: the repeated D1 is one event, the AG estimate and
	// the appointment AT7 are not events.
	if len(a.Events) != 6 || a.EstimatedDelivery == nil || !a.EstimatedDelivery.Equal(time.Date(2026, 3, 5, 17, 0, 0, 0, central)) {
		t.Errorf("first shipment's events and estimate: %d, %v", len(a.Events), a.EstimatedDelivery)
	}
	for i := 1; i < len(a.Events); i++ {
		if a.Events[i].Time.Before(a.Events[i-1].Time) {
			t.Errorf("events out of order at %d: %v", i, a.Events)
		}
	}
	// The latest event is unmapped (ZZ): the status is the latest mapped one's,
	// the raw code the latest event's.
	if b.TrackingNumber != "PRO5550002" || b.Status != model.StatusException || b.SubStatus != "weather_delay" ||
		b.Reason != "Weather or Natural Disaster Related" || b.RawCode != "ZZ/NS" {
		t.Errorf("second shipment: %+v", b)
	}
	last := b.Events[len(b.Events)-1]
	if last.Status != model.StatusUnknown || last.SubStatus != "unmapped" {
		t.Errorf("unmapped event: %+v", last)
	}
	// Time code 20 is UTC-05:00.
	if !b.Events[1].Time.Equal(time.Date(2026, 3, 3, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("numeric time code: %v", b.Events[1].Time)
	}
}

// TestBadFilesAreRefused expects every broken file to be refused whole, as a
// non-retryable invalid_request naming where the problem is.
func TestBadFilesAreRefused(t *testing.T) {
	d := newDispatcher(t)
	for _, tc := range []struct {
		file, contentType string
		want              []string
	}{
		{"testdata/bad-truncated.214", statusfile.ContentTypeX12, []string{"bad-truncated.214", "segment 19", "truncated"}},
		{"testdata/bad-count.edi", statusfile.ContentTypeX12, []string{"SE01 says 30 segments, counted 31"}},
		{"testdata/bad-date.edi", statusfile.ContentTypeX12, []string{`transaction set "0001" (the 1st in the file), segment LX.AT7["05"]`, "20261340 0800 are not CCYYMMDD"}},
		{"testdata/bad-nodate.edi", statusfile.ContentTypeX12, []string{"transaction set", "AT7", "no date (AT705)"}},
		{"testdata/bad-timecode.edi", statusfile.ContentTypeX12, []string{"AT7", "QQ is not an X12 time code"}},
		{"testdata/bad-not214.edi", statusfile.ContentTypeX12, []string{"is a 210, not a 214"}},
		{"testdata/bad-noref.edi", statusfile.ContentTypeX12, []string{"no B10 shipment reference"}},
		{"testdata/garbage.x12", statusfile.ContentTypeOctet, []string{"not a valid X12 interchange"}},
		{"testdata/bad-missing-column.csv", statusfile.ContentTypeCSV, []string{"line 1", "no event_time column"}},
		{"testdata/bad-date.csv", statusfile.ContentTypeCSV, []string{"line 3, column event_time", "03/04/2026 10:00"}},
		{"testdata/bad-ragged.csv", statusfile.ContentTypeCSV, []string{"line 2", "5 fields, the header has 6"}},
		{"testdata/bad-empty-number.csv", statusfile.ContentTypeCSV, []string{"line 3, column tracking_number", "tracking_number is empty"}},
		// An X12 file named .csv is read as CSV and refused for its header.
		{"mappings/x12-214.attempt.in.edi", statusfile.ContentTypeCSV, []string{"line 1", "no tracking_number column"}},
	} {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			res, perr := push(t, d, filepath.Base(tc.file), tc.contentType, readFile(t, tc.file))
			if perr == nil {
				t.Fatalf("accepted: %+v", res)
			}
			if perr.Code != sdk.CodeInvalidRequest || perr.Code.Retryable() || perr.Field != "/body" {
				t.Fatalf("got %s %q field %q", perr.Code, perr.Message, perr.Field)
			}
			for _, w := range tc.want {
				if !strings.Contains(perr.Message, w) {
					t.Errorf("message %q lacks %q", perr.Message, w)
				}
			}
		})
	}
}

// TestLimits refuses empty, oversized and overlong files before mapping them.
func TestLimits(t *testing.T) {
	d := newDispatcher(t)
	if _, perr := push(t, d, "empty.csv", statusfile.ContentTypeCSV, []byte(" \n")); perr == nil || !strings.Contains(perr.Message, "empty") {
		t.Errorf("empty file: %v", perr)
	}
	big := bytes.Repeat([]byte("x"), statusfile.MaxFileBytes+1)
	if _, perr := push(t, d, "big.csv", statusfile.ContentTypeCSV, big); perr == nil || perr.Code != sdk.CodeInvalidRequest || !strings.Contains(perr.Message, "at most") {
		t.Errorf("oversized file: %v", perr)
	}
	var rows bytes.Buffer
	rows.WriteString("tracking_number,status_code,event_time\n")
	for i := 0; i <= statusfile.MaxRows; i++ {
		fmt.Fprintf(&rows, "A%d,IT,2026-03-01 10:00\n", i%50)
	}
	if _, perr := push(t, d, "long.csv", statusfile.ContentTypeCSV, rows.Bytes()); perr == nil || !strings.Contains(perr.Message, "more than") {
		t.Errorf("too many rows: %v", perr)
	}
}

// TestLargeFileWithinLimits maps a CSV at the row limit: the step budget and
// the gRPC message size must not refuse a file the limits allow.
func TestLargeFileWithinLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("large file")
	}
	var rows bytes.Buffer
	rows.WriteString("tracking_number,status_code,status_text,event_time,location,remarks\n")
	for i := 0; i < statusfile.MaxRows; i++ {
		fmt.Fprintf(&rows, "AWB%06d,IT,In transit,2026-03-01 %02d:%02d,\"Delhi, Delhi, IN\",\n", i/4, (i%4)*5, i%60)
	}
	res, perr := push(t, newDispatcher(t), "big.csv", statusfile.ContentTypeCSV, rows.Bytes())
	if perr != nil {
		t.Fatal(perr)
	}
	if len(res.Results) != statusfile.MaxRows/4 || len(res.Results[0].Events) != 4 {
		t.Fatalf("%d results, %d events in the first", len(res.Results), len(res.Results[0].Events))
	}
}

// TestFileNameInErrors names the file in a refusal, clipped and made valid UTF-8.
func TestFileNameInErrors(t *testing.T) {
	d := newDispatcher(t)
	name := "inbox-" + strings.Repeat("\xff", 300) + ".csv"
	_, perr := push(t, d, name, statusfile.ContentTypeCSV, []byte("a,b\n1,2\n"))
	if perr == nil || !strings.HasPrefix(perr.Message, "status file inbox-") || len(perr.Message) > 1200 {
		t.Fatalf("%v", perr)
	}
}
