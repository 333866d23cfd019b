package soap_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/carrierhub/hub/sdk/transport/soap"
	"github.com/carrierhub/hub/sdk/transport/soap/internal/trackws"
	gsoap "github.com/hooklift/gowsdl/soap"
)

const benchReply = `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>` +
	`<TrackResponse xmlns="urn:carrierhub:test:track:v1"><Event><Number>90012345678</Number><Code>OFD</Code>` +
	`<Description>Out for delivery</Description><Location>Pune Hub</Location></Event></TrackResponse></s:Body></s:Envelope>`

func benchServer(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		io.WriteString(w, benchReply)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkCall is one SOAP 1.1 round trip through Client.Call over loopback:
// envelope, HTTP, guarded decode.
func BenchmarkCall(b *testing.B) {
	srv := benchServer(b)
	c := &soap.Client{URL: srv.URL}
	req := &trackws.TrackRequest{Number: []string{"90012345678"}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		var out trackws.TrackResponse
		if err := c.Call(ctx, "urn:carrierhub:test:track:v1/Track", req, &out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCallDigest adds a WS-Security PasswordDigest token with a timestamp.
func BenchmarkCallDigest(b *testing.B) {
	srv := benchServer(b)
	c := &soap.Client{URL: srv.URL, Security: &soap.UsernameToken{Username: "u", Password: "p", Digest: true, Timestamp: 300e9}}
	req := &trackws.TrackRequest{Number: []string{"90012345678"}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		var out trackws.TrackResponse
		if err := c.Call(ctx, "urn:carrierhub:test:track:v1/Track", req, &out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGowsdlPlain is the alternative: the generated client on a plain
// http.Client (no limits, no classification). gowsdl sets req.Close, so every
// call opens a connection; both gowsdl benchmarks pay that alike.
func BenchmarkGowsdlPlain(b *testing.B) {
	srv := benchServer(b)
	port := trackws.NewTrackPort(gsoap.NewClient(srv.URL, gsoap.WithHTTPClient(&http.Client{})))
	req := &trackws.TrackRequest{Number: []string{"90012345678"}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := port.TrackContext(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGowsdlTransport is the generated client through soap.Transport.
func BenchmarkGowsdlTransport(b *testing.B) {
	srv := benchServer(b)
	tr := &soap.Transport{}
	port := trackws.NewTrackPort(gsoap.NewClient(srv.URL, gsoap.WithHTTPClient(tr.Client())))
	req := &trackws.TrackRequest{Number: []string{"90012345678"}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := port.TrackContext(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
