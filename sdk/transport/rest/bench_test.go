package rest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

const benchBody = `{"ShipmentData":[{"Shipment":{"AWB":"1234567890","Status":{"Status":"In Transit","StatusDateTime":"2026-03-01T10:00:00"},"Origin":"Delhi","Destination":"Pune"}}]}`

type benchAnswer struct {
	ShipmentData []struct {
		Shipment struct {
			AWB    string `json:"AWB"`
			Status struct {
				Status string `json:"Status"`
			} `json:"Status"`
		} `json:"Shipment"`
	} `json:"ShipmentData"`
}

func benchServer(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, benchBody)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkGetJSON is one GetJSON round trip (API key auth, query, decode)
// against a loopback httptest server.
func BenchmarkGetJSON(b *testing.B) {
	srv := benchServer(b)
	c := newClient(b, srv.URL, func(cfg *Config) { cfg.Auth = APIKey{Key: "k", Prefix: "Token "} })
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		var out benchAnswer
		if err := c.GetJSON(ctx, "/api/v1/packages/json/", map[string][]string{"waybill": {"1234567890"}}, &out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlainHTTP is the same round trip written by hand with net/http, for
// comparison.
func BenchmarkPlainHTTP(b *testing.B) {
	srv := benchServer(b)
	hc := NewHTTPClient()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/packages/json/?waybill=1234567890", nil)
		req.Header.Set("Authorization", "Token k")
		req.Header.Set("Accept", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		data, _ := io.ReadAll(io.LimitReader(resp.Body, DefaultMaxResponseBytes+1))
		resp.Body.Close()
		var out benchAnswer
		if err := json.Unmarshal(data, &out); err != nil {
			b.Fatal(err)
		}
	}
}
