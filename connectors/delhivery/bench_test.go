package delhivery_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/carrierhub/hub/connectors/delhivery"
	"github.com/carrierhub/hub/sdk"
)

// BenchmarkTrack measures one track call through the connector's dispatcher,
// as the connector process serves it: the binding's request (values mapping,
// auth), the HTTP exchange with a loopback server answering the recorded
// in-transit response (nine scans), the error mapping and the tracking mapping,
// and the canonical answer assembled. It replaces BenchmarkFromTrackResponse,
// which timed the mapping alone through Go glue that no longer exists.
func BenchmarkTrack(b *testing.B) {
	answer, err := os.ReadFile("mappings/track.recorded-in-transit.in.json")
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/packages/json/" || r.URL.Query().Get("waybill") != "26805710004126" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(answer)
	}))
	defer srv.Close()
	d, err := sdk.NewDispatcher(delhivery.New())
	if err != nil {
		b.Fatal(err)
	}
	call := &sdk.Call{Operation: sdk.OpTrack, Account: account(srv.URL, "bench-token"), RequestID: "bench",
		Payload: []byte(`{"tracking_numbers":["26805710004126"]}`)}
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(answer)))
	for b.Loop() {
		if _, err := d.Invoke(ctx, call); err != nil {
			b.Fatal(err)
		}
	}
}
