package soap

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/sdktest"
	"github.com/carrierhub/hub/sdk/transport/xmlhttp"
)

var fixedNow = func() time.Time { return time.Date(2026, 3, 14, 15, 9, 26, 535e6, time.FixedZone("IST", 19800)) }

func TestCall11RoundTrip(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/xml") {
			http.Error(w, "content type "+ct, http.StatusUnsupportedMediaType)
			return
		}
		if a := r.Header.Get("SOAPAction"); a != `"urn:carrierhub:test:track:v1/Track"` {
			w.Header().Set("Content-Type", "text/xml")
			w.WriteHeader(500)
			io.WriteString(w, fault11("s:Client", "Unknown SOAPAction "+a, ""))
			return
		}
		var env simEnvelope
		if err := xml.NewDecoder(r.Body).Decode(&env); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		problems := []string{}
		if env.XMLName.Space != Namespace11 || env.XMLName.Local != "Envelope" {
			problems = append(problems, "envelope "+env.XMLName.Space)
		}
		if err := checkUsernameToken(env.Header.Security, "hub-user", "p<a>ss&word", true); err != nil {
			problems = append(problems, err.Error())
		}
		if s := env.Header.Security; s != nil {
			if s.MustUnderstand != "1" {
				problems = append(problems, "mustUnderstand "+s.MustUnderstand)
			}
			if s.Timestamp == nil || s.Timestamp.Created != "2026-03-14T09:39:26.535Z" || s.Timestamp.Expires != "2026-03-14T09:44:26.535Z" {
				problems = append(problems, fmt.Sprintf("timestamp %+v", s.Timestamp))
			}
		}
		if env.Header.Trace == nil || env.Header.Trace.ID != "trace-42" {
			problems = append(problems, "trace header missing")
		}
		if env.Body.Track == nil || len(env.Body.Track.Number) != 2 || env.Body.Track.Number[1] != "90012345679" {
			problems = append(problems, fmt.Sprintf("body %+v", env.Body.Track))
		}
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		if len(problems) > 0 {
			w.WriteHeader(500)
			io.WriteString(w, fault11("s:Client", strings.Join(problems, "; "), ""))
			return
		}
		io.WriteString(w, `<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">`+
			`<s:Header><Session xmlns="urn:carrierhub:test:trace"><ID>sess-7</ID></Session></s:Header><s:Body>`+trackReply+`</s:Body></s:Envelope>`)
	}))
	defer srv.Close()

	c := &Client{
		URL:  srv.URL + "/track",
		HTTP: xmlhttp.Client{Provider: "TrackSim"},
		Security: &UsernameToken{Username: "hub-user", Password: "p<a>ss&word", Digest: true,
			Timestamp: 5 * time.Minute, MustUnderstand: true, Now: fixedNow},
	}
	var out trackResponse
	var session struct {
		Session struct {
			ID string `xml:"ID"`
		} `xml:"urn:carrierhub:test:trace Session"`
	}
	err := c.Call(context.Background(), trackNS+"/Track",
		&trackRequest{Number: []string{"90012345678", "90012345679"}}, &out,
		WithHeader(&traceHeader{ID: "trace-42"}), WithResponseHeader(&session))
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Event) != 1 || out.Event[0].Code != "OFD" || out.Event[0].Location != "Pune Hub" {
		t.Errorf("decoded %+v", out)
	}
	if session.Session.ID != "sess-7" {
		t.Errorf("response header %+v", session)
	}
}

func TestCall12RoundTrip(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/soap+xml; charset=utf-8")
		mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "application/soap+xml" || params["action"] != trackNS+"/Track" || params["charset"] != "utf-8" {
			w.WriteHeader(400)
			io.WriteString(w, fault12("env:Sender", "", "bad content type "+r.Header.Get("Content-Type"), ""))
			return
		}
		if _, ok := r.Header["Soapaction"]; ok {
			w.WriteHeader(400)
			io.WriteString(w, fault12("env:Sender", "", "SOAPAction header sent with SOAP 1.2", ""))
			return
		}
		var env simEnvelope
		if err := xml.NewDecoder(r.Body).Decode(&env); err != nil || env.XMLName.Space != Namespace12 {
			w.WriteHeader(400)
			io.WriteString(w, fault12("env:Sender", "", fmt.Sprintf("not a 1.2 envelope: %v %s", err, env.XMLName.Space), ""))
			return
		}
		if err := checkUsernameToken(env.Header.Security, "hub", "secret", false); err != nil {
			w.WriteHeader(400)
			io.WriteString(w, fault12("env:Sender", "wsse:FailedAuthentication", err.Error(), ""))
			return
		}
		if s := env.Header.Security; s.MustUnderstand != "true" || s.Token.Nonce == nil {
			w.WriteHeader(400)
			io.WriteString(w, fault12("env:Sender", "", "mustUnderstand or nonce", ""))
			return
		}
		io.WriteString(w, envelope12(trackReply))
	}))
	defer srv.Close()

	c := &Client{URL: srv.URL, Version: V12,
		Security: &UsernameToken{Username: "hub", Password: "secret", Nonce: true, MustUnderstand: true}}
	var out trackResponse
	if err := c.Call(context.Background(), trackNS+"/Track", &trackRequest{Number: []string{"1"}}, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Event) != 1 || out.Event[0].Description != "Out for delivery" {
		t.Errorf("decoded %+v", out)
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("ERR-4711 shipment rejected by rule engine ", 100)
	cases := []struct {
		name     string
		status   int
		ct       string
		body     string
		want     sdk.Code
		carrier  string // CarrierCode, when checked
		inText   string // must appear in CarrierMessage
		maxBytes int    // CarrierMessage length bound, when checked
	}{
		{"1.1 client", 500, "text/xml", fault11("s:Client", "Pincode 999999 is not serviceable", "<ErrorCode>PIN-404</ErrorCode>"),
			sdk.CodeInvalidRequest, "s:Client", "PIN-404", 0},
		{"1.1 client auth", 500, "text/xml", fault11("s:Client", "Authentication failed for login AB123", ""),
			sdk.CodeAuthFailed, "s:Client", "Authentication failed", 0},
		{"1.1 dotted client authentication", 500, "text/xml", fault11("soap:Client.Authentication", "Denied", ""),
			sdk.CodeAuthFailed, "soap:Client.Authentication", "Denied", 0},
		{"1.1 server", 500, "text/xml", fault11("s:Server", "Database timeout", ""),
			sdk.CodeCarrierUnavailable, "s:Server", "Database timeout", 0},
		{"1.1 asmx server bad login", 500, "text/xml", fault11("soap:Server", "Server was unable to process request. ---> Invalid password for user X", ""),
			sdk.CodeAuthFailed, "soap:Server", "Invalid password", 0},
		{"1.1 fault with 200", 200, "text/xml", fault11("s:Client", "Invalid weight", ""),
			sdk.CodeInvalidRequest, "s:Client", "Invalid weight", 0},
		{"1.1 wsse failed authentication", 500, "text/xml", fault11("wsse:FailedAuthentication", "The security token could not be authenticated or authorized", ""),
			sdk.CodeAuthFailed, "wsse:FailedAuthentication", "security token", 0},
		{"1.1 must understand", 500, "text/xml", fault11("s:MustUnderstand", "Header Security not understood", ""),
			sdk.CodeInvalidRequest, "s:MustUnderstand", "", 0},
		{"1.1 wcf internal", 500, "text/xml", fault11("a:InternalServiceFault", "The server was unable to process the request due to an internal error.", ""),
			sdk.CodeCarrierUnavailable, "a:InternalServiceFault", "", 0},
		{"1.1 unknown code", 500, "text/xml", fault11("ns1:BusinessRule", "Consignment already manifested", ""),
			sdk.CodePermanent, "ns1:BusinessRule", "already manifested", 0},
		{"1.1 long detail truncated", 500, "text/xml", fault11("s:Client", "Validation failed", "<Errors><Error>"+long+"</Error></Errors>"),
			sdk.CodeInvalidRequest, "s:Client", "ERR-4711", xmlhttp.MaxCarrierText + len("…")},
		{"1.2 sender", 400, "application/soap+xml", fault12("env:Sender", "", "Weight must be positive", "<e:Field xmlns:e=\"urn:e\">weight</e:Field>"),
			sdk.CodeInvalidRequest, "env:Sender", "Weight must be positive | detail: weight", 0},
		{"1.2 sender wsse subcode", 400, "application/soap+xml", fault12("env:Sender", "wsse:FailedAuthentication", "Rejected", ""),
			sdk.CodeAuthFailed, "env:Sender/wsse:FailedAuthentication", "Rejected", 0},
		{"1.2 sender auth text", 400, "application/soap+xml", fault12("env:Sender", "m:Login", "Authentication required", ""),
			sdk.CodeAuthFailed, "env:Sender/m:Login", "", 0},
		{"1.2 receiver", 500, "application/soap+xml", fault12("env:Receiver", "", "Backend down", ""),
			sdk.CodeCarrierUnavailable, "env:Receiver", "Backend down", 0},
		{"1.2 version mismatch", 500, "application/soap+xml", fault12("env:VersionMismatch", "", "Wrong envelope", ""),
			sdk.CodeInvalidRequest, "env:VersionMismatch", "", 0},
		{"html 503", 503, "text/html", "<!DOCTYPE html><html><head><title>503 Service Unavailable</title></head><body>maintenance</body></html>",
			sdk.CodeCarrierUnavailable, "HTTP 503", "503 Service Unavailable", 0},
		{"html 200 login page", 200, "text/html", "<html><body>Please log in</body></html>",
			sdk.CodeCarrierUnavailable, "HTTP 200", "", 0},
		{"500 not an envelope", 500, "text/plain", "Internal Server Error", sdk.CodeCarrierUnavailable, "HTTP 500", "", 0},
		{"401 empty", 401, "text/plain", "", sdk.CodeAuthFailed, "HTTP 401", "", 0},
		{"429", 429, "text/plain", "", sdk.CodeRateLimited, "HTTP 429", "", 0},
		{"200 not soap", 200, "text/xml", "<TrackResponse/>", sdk.CodeCarrierUnavailable, "", "", 0},
		{"200 wrong body element", 200, "text/xml", envelope11("<Other xmlns=\"urn:x\"/>"), sdk.CodeCarrierUnavailable, "", "", 0},
		{"doctype", 200, "text/xml", `<?xml version="1.0"?><!DOCTYPE s:Envelope [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>` + envelope11("<x>&xxe;</x>"),
			sdk.CodePermanent, "", "", 0},
		{"doctype in 500", 500, "text/xml", `<!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>` + fault11("s:Server", "&b;", ""),
			sdk.CodePermanent, "", "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(reply(tc.status, tc.ct, tc.body))
			defer srv.Close()
			c := &Client{URL: srv.URL, HTTP: xmlhttp.Client{Provider: "Sim"},
				Security: &UsernameToken{Username: "u", Password: "hunter2-secret"}}
			var out trackResponse
			err := c.Call(context.Background(), "urn:a", &trackRequest{Number: []string{"1"}}, &out)
			e := sdktest.Error(t, err)
			if e.Code != tc.want {
				t.Fatalf("code %s, want %s: %v", e.Code, tc.want, e)
			}
			if tc.carrier != "" && e.CarrierCode != tc.carrier {
				t.Errorf("carrier code %q, want %q", e.CarrierCode, tc.carrier)
			}
			if !strings.Contains(e.CarrierMessage, tc.inText) {
				t.Errorf("carrier message %q lacks %q", e.CarrierMessage, tc.inText)
			}
			if tc.maxBytes > 0 && len(e.CarrierMessage) > tc.maxBytes {
				t.Errorf("carrier message is %d bytes, want at most %d", len(e.CarrierMessage), tc.maxBytes)
			}
			if e.NotSent {
				t.Error("a reply arrived, yet NotSent")
			}
			if strings.Contains(e.Error(), "hunter2") {
				t.Errorf("error leaks the password: %v", e)
			}
		})
	}
}

func TestOversizeRefused(t *testing.T) {
	t.Parallel()
	big := envelope11(`<TrackResponse xmlns="urn:carrierhub:test:track:v1">` +
		strings.Repeat("<Event><Number>1</Number></Event>", 2000) + `</TrackResponse>`)
	srv := httptest.NewServer(reply(200, "text/xml", big))
	defer srv.Close()
	c := &Client{URL: srv.URL, HTTP: xmlhttp.Client{MaxResponseBytes: 16 << 10}}
	var out trackResponse
	e := sdktest.Error(t, c.Call(context.Background(), "urn:a", &trackRequest{}, &out))
	if e.Code != sdk.CodePermanent || e.NotSent {
		t.Fatalf("got %+v", e)
	}
	c.HTTP.MaxResponseBytes = 1 << 20
	if err := c.Call(context.Background(), "urn:a", &trackRequest{}, &out); err != nil || len(out.Event) != 2000 {
		t.Fatalf("under the limit: %v, %d events", err, len(out.Event))
	}
}

func TestDepthLimit(t *testing.T) {
	t.Parallel()
	deep := envelope11(strings.Repeat("<a>", 200) + strings.Repeat("</a>", 200))
	srv := httptest.NewServer(reply(200, "text/xml", deep))
	defer srv.Close()
	c := &Client{URL: srv.URL, HTTP: xmlhttp.Client{MaxDepth: 50}}
	var out struct {
		XMLName xml.Name `xml:"a"`
	}
	e := sdktest.Error(t, c.Call(context.Background(), "urn:a", &trackRequest{}, &out))
	if e.Code != sdk.CodePermanent || !strings.Contains(e.Message, "deeper") {
		t.Fatalf("got %+v", e)
	}
}

func TestDeadline(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	e := sdktest.Error(t, (&Client{URL: srv.URL}).Call(ctx, "urn:a", &trackRequest{}, nil))
	if e.Code != sdk.CodeTimeout || e.NotSent {
		t.Fatalf("got %+v, want a timeout that may have reached the server", e)
	}
}

func TestNotSent(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	e := sdktest.Error(t, (&Client{URL: "http://" + addr + "/svc"}).Call(context.Background(), "urn:a", &trackRequest{}, nil))
	if e.Code != sdk.CodeCarrierUnavailable || !e.NotSent {
		t.Fatalf("got %+v", e)
	}
	// A body encoding/xml cannot marshal fails before anything is sent.
	e = sdktest.Error(t, (&Client{URL: "http://" + addr}).Call(context.Background(), "urn:a", map[string]int{"x": 1}, nil))
	if e.Code != sdk.CodeInternal || !e.NotSent {
		t.Fatalf("unmarshalable body: %+v", e)
	}
	// A failing nonce source too.
	c := &Client{URL: "http://" + addr, Security: &UsernameToken{Username: "u", Password: "p", Digest: true, Rand: failingReader{}}}
	e = sdktest.Error(t, c.Call(context.Background(), "urn:a", &trackRequest{}, nil))
	if e.Code != sdk.CodeInternal || !e.NotSent {
		t.Fatalf("nonce failure: %+v", e)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("entropy exhausted") }

// The digest of the profile's worked form: a fixed nonce, created and password,
// checked against a value computed by hand with sha1sum and base64.
func TestPasswordDigestKnownValue(t *testing.T) {
	t.Parallel()
	// printf 'abcdefghijklmnop2026-03-14T09:39:26.535Zsecret' | sha1sum | xxd -r -p | base64
	const want = "CvieWrMenI150NsN8ATXRAi7kpE="
	if got := PasswordDigest([]byte("abcdefghijklmnop"), "2026-03-14T09:39:26.535Z", "secret"); got != want {
		t.Fatalf("digest %s, want %s", got, want)
	}
}

func TestFaultHook(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(reply(500, "text/xml", fault11("s:Client", "Shipment exists", "<Code>DUP-01</Code>")))
	defer srv.Close()
	c := &Client{URL: srv.URL, Faults: func(f *Fault) *sdk.Error {
		if strings.Contains(f.Detail, "DUP-01") {
			return sdk.CarrierError(sdk.CodeConflict, "DUP-01", f.Reason)
		}
		return nil
	}}
	if e := sdktest.Error(t, c.Call(context.Background(), "urn:a", &trackRequest{}, nil)); e.Code != sdk.CodeConflict {
		t.Fatalf("got %+v", e)
	}
}
