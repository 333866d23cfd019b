package xmlhttp

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/sdktest"
)

// tallyEnvelope is the shape of a Tally request, enough for the tests.
type tallyEnvelope struct {
	XMLName xml.Name `xml:"ENVELOPE"`
	Header  struct {
		Version      string `xml:"VERSION"`
		TallyRequest string `xml:"TALLYREQUEST"`
		Type         string `xml:"TYPE"`
		ID           string `xml:"ID"`
	} `xml:"HEADER"`
	Body struct {
		Data string `xml:",innerxml"`
	} `xml:"BODY"`
}

func importRequest() *tallyEnvelope {
	e := &tallyEnvelope{}
	e.Header.Version = "1"
	e.Header.TallyRequest = "Import"
	e.Header.Type = "Data"
	e.Header.ID = "Vouchers"
	e.Body.Data = `<DATA><TALLYMESSAGE><VOUCHER VCHTYPE="Sales" ACTION="Create"><NARRATION>Freight ₹ 1,200</NARRATION></VOUCHER></TALLYMESSAGE></DATA>`
	return e
}

func utf16le(s string, bom bool) []byte {
	var out []byte
	if bom {
		out = []byte{0xFF, 0xFE}
	}
	for _, u := range utf16.Encode([]rune(s)) {
		out = append(out, byte(u), byte(u>>8))
	}
	return out
}

// A Tally Prime import answer: one voucher created, one refused with a LINEERROR.
const tallyPartial = `<ENVELOPE><HEADER><VERSION>1</VERSION><STATUS>1</STATUS></HEADER>` +
	`<BODY><DATA><IMPORTRESULT><CREATED>1</CREATED><ALTERED>0</ALTERED><DELETED>0</DELETED>` +
	`<LASTVCHID>917</LASTVCHID><LASTMID>0</LASTMID><COMBINED>0</COMBINED><IGNORED>0</IGNORED>` +
	`<ERRORS>1</ERRORS><CANCELLED>0</CANCELLED><EXCEPTIONS>0</EXCEPTIONS></IMPORTRESULT>` +
	`<LINEERROR>Ledger 'Freight Outward' does not exist!</LINEERROR></DATA></BODY></ENVELOPE>`

func TestTallyImportPartialLineError(t *testing.T) {
	t.Parallel()
	var got tallyEnvelope
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/xml") {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if err := xml.NewDecoder(r.Body).Decode(&got); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		io.WriteString(w, tallyPartial)
	}))
	defer srv.Close()

	c := &Client{Provider: "Tally", Errors: TallyErrors}
	err := c.Post(context.Background(), srv.URL, importRequest(), nil)
	e := sdktest.Error(t, err)
	if e.Code != sdk.CodeInvalidRequest || e.Source != sdk.SourceCarrier {
		t.Fatalf("code %s source %s, want invalid_request from carrier", e.Code, e.Source)
	}
	if e.CarrierMessage != "Ledger 'Freight Outward' does not exist!" {
		t.Errorf("carrier message %q", e.CarrierMessage)
	}
	if !strings.Contains(e.Message, "created 1") {
		t.Errorf("message %q does not say one voucher was created", e.Message)
	}
	if got.Header.TallyRequest != "Import" || !strings.Contains(got.Body.Data, "Freight ₹ 1,200") {
		t.Errorf("server saw %+v", got)
	}

	r, err := ParseTallyResponse([]byte(tallyPartial), 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Created != 1 || r.Errors != 1 || r.LastVoucherID != "917" || r.Status != "1" || len(r.LineErrors) != 1 {
		t.Errorf("parsed %+v", r)
	}
}

func TestTallyERP9ResponseSucceeds(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `<RESPONSE><CREATED>1</CREATED><ALTERED>0</ALTERED><LASTVCHID>12</LASTVCHID><LASTMID>0</LASTMID>`+
			`<COMBINED>0</COMBINED><IGNORED>0</IGNORED><ERRORS>0</ERRORS><CANCELLED>0</CANCELLED></RESPONSE>`)
	}))
	defer srv.Close()
	c := &Client{Provider: "Tally", Errors: TallyErrors}
	var out struct {
		Created   int    `xml:"CREATED"`
		LastVchID string `xml:"LASTVCHID"`
	}
	if err := c.Post(context.Background(), srv.URL, importRequest(), &out); err != nil {
		t.Fatal(err)
	}
	if out.Created != 1 || out.LastVchID != "12" {
		t.Errorf("decoded %+v", out)
	}
}

// Tally answering UTF-16LE with a BOM (and a declaration saying so), and a client
// that sends UTF-16LE itself.
func TestTallyUTF16(t *testing.T) {
	t.Parallel()
	var sawBOM, sawCharset bool
	var sawText string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		sawBOM = bytes.HasPrefix(b, []byte{0xFF, 0xFE})
		sawCharset = strings.Contains(r.Header.Get("Content-Type"), "utf-16")
		units := make([]uint16, (len(b)-2)/2)
		for i := range units {
			units[i] = uint16(b[2+2*i]) | uint16(b[3+2*i])<<8
		}
		sawText = string(utf16.Decode(units))
		w.Header().Set("Content-Type", "text/xml")
		w.Write(utf16le(`<?xml version="1.0" encoding="UTF-16"?>`+tallyPartial, true))
	}))
	defer srv.Close()

	c := &Client{Provider: "Tally", Encoding: UTF16LE}
	var out struct {
		Data struct {
			Result struct {
				Created int `xml:"CREATED"`
			} `xml:"IMPORTRESULT"`
			LineError string `xml:"LINEERROR"`
		} `xml:"BODY>DATA"`
	}
	if err := c.Post(context.Background(), srv.URL, `<?xml version="1.0" encoding="UTF-8"?><ENVELOPE><BODY>₹</BODY></ENVELOPE>`, &out); err != nil {
		t.Fatal(err)
	}
	if out.Data.Result.Created != 1 || !strings.Contains(out.Data.LineError, "Freight Outward") {
		t.Errorf("decoded %+v", out)
	}
	if !sawBOM || !sawCharset || !strings.Contains(sawText, `encoding="UTF-16"`) || !strings.Contains(sawText, "₹") {
		t.Errorf("server saw BOM %v charset %v text %q", sawBOM, sawCharset, sawText)
	}
}

func TestToUTF8(t *testing.T) {
	t.Parallel()
	doc := `<A>₹ é</A>`
	be := func(s string) []byte {
		var out []byte
		for _, u := range utf16.Encode([]rune(s)) {
			out = append(out, byte(u>>8), byte(u))
		}
		return out
	}
	for name, tc := range map[string]struct {
		body []byte
		ct   string
	}{
		"utf8":            {[]byte(doc), ""},
		"utf8 bom":        {append([]byte{0xEF, 0xBB, 0xBF}, doc...), ""},
		"utf16le bom":     {utf16le(doc, true), ""},
		"utf16le no bom":  {utf16le(doc, false), ""},
		"utf16le charset": {utf16le(doc, false), "text/xml; charset=UTF-16LE"},
		"utf16be bom":     {append([]byte{0xFE, 0xFF}, be(doc)...), ""},
		"utf16be charset": {be(doc), "text/xml; charset=utf-16be"},
	} {
		got, err := ToUTF8(tc.body, tc.ct)
		if err != nil || string(got) != doc {
			t.Errorf("%s: %q, %v", name, got, err)
		}
	}
	if _, err := ToUTF8([]byte{0xFF, 0xFE, '<'}, ""); err == nil {
		t.Error("odd-length UTF-16 accepted")
	}
	var v struct {
		A string `xml:",chardata"`
	}
	if err := Decode([]byte("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><A>caf\xe9</A>"), &v, 0); err != nil || v.A != "café" {
		t.Errorf("latin-1: %q %v", v.A, err)
	}
}

// A Canada Post error document with a 400 and with the throttle's "Server" code.
func TestCanadaPostMessages(t *testing.T) {
	t.Parallel()
	const mt = "application/vnd.cpc.shipment-v8+xml"
	cases := []struct {
		name   string
		status int
		body   string
		want   sdk.Code
		cc     string
	}{
		{"invalid", 400, `<?xml version="1.0" encoding="UTF-8"?><messages xmlns="http://www.canadapost.ca/ws/messages">` +
			`<message><code>8503</code><description>The destination postal code is invalid.</description></message>` +
			`<message><code>9111</code><description>Weight is missing.</description></message></messages>`,
			sdk.CodeInvalidRequest, "8503,9111"},
		{"mobo refused", 400, `<messages xmlns="http://www.canadapost.ca/ws/messages"><message><code>AA004</code>` +
			`<description>You cannot mail on behalf of the requested customer.</description></message></messages>`,
			sdk.CodeAuthFailed, "AA004"},
		{"throttled", 503, `<messages xmlns="http://www.canadapost.ca/ws/messages"><message><code>Server</code>` +
			`<description>Rejected by SLM Monitor</description></message></messages>`,
			sdk.CodeRateLimited, "Server"},
		{"unauthorised", 401, `<messages xmlns="http://www.canadapost.ca/ws/messages"><message><code>E002</code>` +
			`<description>AAA Authentication Failure</description></message></messages>`,
			sdk.CodeAuthFailed, "E002"},
		{"not found", 404, `<messages xmlns="http://www.canadapost.ca/ws/messages"><message><code>004</code>` +
			`<description>No Pin History</description></message></messages>`,
			sdk.CodeNotFound, "004"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				u, p, ok := r.BasicAuth()
				if r.Header.Get("Content-Type") != mt || r.Header.Get("Accept") != mt || !ok || u != "key" || p != "secret" {
					http.Error(w, "wrong headers", http.StatusUnsupportedMediaType)
					return
				}
				w.Header().Set("Content-Type", "application/vnd.cpc.shipment-v8+xml")
				w.Header().Set("Retry-After", "60")
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			c := &Client{Provider: "Canada Post", ContentType: CanadaPostMediaType("shipment", 8),
				Accept: CanadaPostMediaType("shipment", 8), Auth: BasicAuth("key", "secret"), Errors: CanadaPostErrors}
			err := c.Post(context.Background(), srv.URL+"/rs/0001234567/0001234567/shipment", `<shipment/>`, nil)
			e := sdktest.Error(t, err)
			if e.Code != tc.want || e.CarrierCode != tc.cc || e.Source != sdk.SourceCarrier || e.CarrierMessage == "" {
				t.Fatalf("got %s %q %q, want %s %q", e.Code, e.CarrierCode, e.CarrierMessage, tc.want, tc.cc)
			}
			if tc.want == sdk.CodeRateLimited && e.RetryAfter != time.Minute {
				t.Errorf("retry after %v", e.RetryAfter)
			}
			if strings.Contains(e.Error(), "secret") {
				t.Errorf("error leaks the password: %v", e)
			}
		})
	}
}

func TestClassification(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		status int
		ct     string
		body   string
		want   sdk.Code
	}{
		{"html 502", 502, "text/html", "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head></html>", sdk.CodeCarrierUnavailable},
		{"html 200", 200, "text/html", "<html><body>Login</body></html>", sdk.CodeCarrierUnavailable},
		{"html 403", 403, "text/html", "<html><title>Forbidden</title></html>", sdk.CodeAuthFailed},
		{"doctype", 200, "text/xml", `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>`, sdk.CodePermanent},
		{"doctype after comment", 200, "text/xml", `<!-- c --><!DOCTYPE r><r/>`, sdk.CodePermanent},
		{"inner directive", 200, "text/xml", `<r><!ENTITY x "y"></r>`, sdk.CodePermanent},
		{"malformed", 200, "text/xml", `<r><a></r>`, sdk.CodeCarrierUnavailable},
		{"429", 429, "text/plain", "slow down", sdk.CodeRateLimited},
		{"409", 409, "text/xml", "<r/>", sdk.CodeConflict},
		{"422", 422, "text/xml", "<r/>", sdk.CodeInvalidRequest},
		{"500", 500, "text/xml", "<r/>", sdk.CodeCarrierUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.ct)
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			var out struct {
				A string `xml:"a"`
			}
			err := (&Client{Provider: "P"}).Post(context.Background(), srv.URL, "<q/>", &out)
			if e := sdktest.Error(t, err); e.Code != tc.want {
				t.Fatalf("code %s, want %s (%v)", e.Code, tc.want, e)
			}
		})
	}
}

func TestDepthLimit(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("<a>", 50) + strings.Repeat("</a>", 50)
	var v struct{}
	if err := Decode([]byte(deep), &v, 20); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("want ErrTooDeep, got %v", err)
	}
	if err := Decode([]byte(deep), &v, 60); err != nil {
		t.Fatalf("depth 50 under a limit of 60: %v", err)
	}
}

func TestOversizeRefused(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<r>"+strings.Repeat("x", 5000)+"</r>")
	}))
	defer srv.Close()
	err := (&Client{MaxResponseBytes: 1024}).Post(context.Background(), srv.URL, "<q/>", nil)
	if e := sdktest.Error(t, err); e.Code != sdk.CodePermanent || e.NotSent || !strings.Contains(e.Message, "1024-byte limit") {
		t.Fatalf("got %+v", e)
	}
	// Exactly at the limit is fine.
	if err := (&Client{MaxResponseBytes: 5007}).Post(context.Background(), srv.URL, "<q/>", nil); err != nil {
		t.Fatalf("at the limit: %v", err)
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
	err := (&Client{Provider: "Tally"}).Post(ctx, srv.URL, "<q/>", nil)
	e := sdktest.Error(t, err)
	if e.Code != sdk.CodeTimeout || e.NotSent {
		t.Fatalf("got %+v, want a timeout that may have been sent", e)
	}
}

func TestNotSentOnRefusedConnection(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	err = (&Client{Provider: "Tally"}).Post(context.Background(), "http://"+addr+"/?key=topsecret", "<q/>", nil)
	e := sdktest.Error(t, err)
	if e.Code != sdk.CodeCarrierUnavailable || !e.NotSent {
		t.Fatalf("got %+v, want not-sent unavailable", e)
	}
	if strings.Contains(e.Error(), "topsecret") {
		t.Errorf("error echoes the URL: %v", e)
	}
	err = (&Client{}).Post(context.Background(), "http://bad host/", "<q/>", nil)
	if e := sdktest.Error(t, err); !e.NotSent || e.Code != sdk.CodeInvalidRequest {
		t.Fatalf("bad URL: %+v", e)
	}
}
