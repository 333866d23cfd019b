package rest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carrierhub/hub/internal/testclock"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/sdktest"
)

func newClock() *testclock.Clock { return testclock.New(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)) }

func newClient(t testing.TB, base string, mod func(*Config)) *Client {
	t.Helper()
	cfg := Config{Name: "Acme", BaseURL: base}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClassification(t *testing.T) {
	clock := newClock()
	type row struct {
		name        string
		status      int
		ctype       string
		body        string
		retryAfter  string
		code        sdk.Code
		carrierCode string
		carrierMsg  string
		wantAfter   time.Duration
	}
	rows := []row{
		{"400 message", 400, "application/json", `{"message":"pin code 99999 is not serviceable"}`, "", sdk.CodeInvalidRequest, "", "pin code 99999 is not serviceable", 0},
		{"422 errors[0]", 422, "application/json", `{"errors":[{"code":"E_WEIGHT","message":"weight must be positive"}]}`, "", sdk.CodeInvalidRequest, "E_WEIGHT", "weight must be positive", 0},
		{"401 oauth style", 401, "application/json", `{"error":"invalid_token","error_description":"token expired"}`, "", sdk.CodeAuthFailed, "invalid_token", "token expired", 0},
		{"403 error string", 403, "application/json", `{"error":"forbidden for this client"}`, "", sdk.CodeAuthFailed, "", "forbidden for this client", 0},
		{"404 code and message", 404, "application/json", `{"code":4040,"message":"AWB not found"}`, "", sdk.CodeNotFound, "4040", "AWB not found", 0},
		{"409 nested error", 409, "application/json", `{"error":{"code":"DUP","message":"order already exists"}}`, "", sdk.CodeConflict, "DUP", "order already exists", 0},
		{"429 seconds", 429, "application/json", `{"message":"slow down"}`, "7", sdk.CodeRateLimited, "", "slow down", 7 * time.Second},
		{"429 http date", 429, "text/plain", `Too Many Requests`, clock.Now().Add(90 * time.Second).Format(http.TimeFormat), sdk.CodeRateLimited, "", "Too Many Requests", 90 * time.Second},
		{"429 date in the past", 429, "", ``, clock.Now().Add(-time.Minute).Format(http.TimeFormat), sdk.CodeRateLimited, "", "", 0},
		{"500 plain text", 500, "text/plain", "internal   error\nat line 3", "", sdk.CodeCarrierUnavailable, "", "internal error at line 3", 0},
		{"502 html page", 502, "text/html; charset=utf-8", "<!DOCTYPE html><html><head><title>502 Bad\n Gateway</title></head><body>nginx</body></html>", "", sdk.CodeCarrierUnavailable, "", "502 Bad Gateway", 0},
		{"503 html without content type", 503, "", "  <HTML><HEAD><TITLE>Service Unavailable</TITLE></HEAD></HTML>", "120", sdk.CodeCarrierUnavailable, "", "Service Unavailable", 2 * time.Minute},
		{"504", 504, "", "", "", sdk.CodeCarrierUnavailable, "", "", 0},
		{"501", 501, "", "", "", sdk.CodePermanent, "", "", 0},
		{"408", 408, "", "", "", sdk.CodeTimeout, "", "", 0},
		{"410", 410, "", "", "", sdk.CodeNotFound, "", "", 0},
		{"302 not followed", 302, "", "", "", sdk.CodePermanent, "", "", 0},
		{"415 other 4xx", 415, "application/json", `{"detail":"use JSON"}`, "", sdk.CodeInvalidRequest, "", "use JSON", 0},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if r.ctype != "" {
					w.Header().Set("Content-Type", r.ctype)
				}
				if r.retryAfter != "" {
					w.Header().Set("Retry-After", r.retryAfter)
				}
				if r.status == 302 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(r.status)
				io.WriteString(w, r.body)
			}))
			defer srv.Close()
			c := newClient(t, srv.URL, func(cfg *Config) { cfg.Now = clock.Now })
			resp, err := c.Do(context.Background(), &Request{Method: "POST", Path: "/v1/orders", Body: []byte(`{}`)})
			e := sdktest.Error(t, err)
			if resp == nil || resp.Status != r.status {
				t.Fatalf("response = %+v, want status %d alongside the error", resp, r.status)
			}
			if e.Code != r.code || e.Source != sdk.SourceCarrier {
				t.Errorf("code, source = %s, %s; want %s, carrier", e.Code, e.Source, r.code)
			}
			if e.CarrierCode != r.carrierCode || e.CarrierMessage != r.carrierMsg {
				t.Errorf("carrier code, message = %q, %q; want %q, %q", e.CarrierCode, e.CarrierMessage, r.carrierCode, r.carrierMsg)
			}
			if e.RetryAfter != r.wantAfter {
				t.Errorf("RetryAfter = %v, want %v", e.RetryAfter, r.wantAfter)
			}
			if e.NotSent {
				t.Error("an answered request is marked NotSent")
			}
			if !strings.Contains(e.Message, "Acme answered POST /v1/orders with HTTP") {
				t.Errorf("message %q does not say who answered what", e.Message)
			}
		})
	}
}

func TestExtractErrorHook(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(400)
		io.WriteString(w, `{"status":false,"remark":"Consignee pincode missing","rmk_code":"P12"}`)
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, func(cfg *Config) {
		cfg.ExtractError = func(_ int, _ http.Header, body []byte) (string, string, bool) {
			if !bytes.Contains(body, []byte("remark")) {
				return "", "", false
			}
			return "P12", "Consignee pincode missing", true
		}
	})
	e := sdktest.Error(t, c.GetJSON(context.Background(), "/x", nil, nil))
	if e.CarrierCode != "P12" || e.CarrierMessage != "Consignee pincode missing" {
		t.Fatalf("carrier code, message = %q, %q", e.CarrierCode, e.CarrierMessage)
	}
}

func TestQuotedBodyIsTruncated(t *testing.T) {
	long := strings.Repeat("é", 2000) // two bytes each: the cut must not split one
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(500)
		io.WriteString(w, long)
	}))
	defer srv.Close()
	e := sdktest.Error(t, newClient(t, srv.URL, nil).GetJSON(context.Background(), "/x", nil, nil))
	if len(e.CarrierMessage) > QuoteLimit+len("…") {
		t.Fatalf("quoted %d bytes, limit %d", len(e.CarrierMessage), QuoteLimit)
	}
	if !strings.HasSuffix(e.CarrierMessage, "…") || strings.ContainsRune(e.CarrierMessage, '\uFFFD') {
		t.Fatalf("bad truncation: %q", e.CarrierMessage[len(e.CarrierMessage)-10:])
	}
}

func TestHTMLInsteadOfJSON(t *testing.T) {
	for _, tc := range []struct{ name, ctype, body string }{
		{"content type", "text/html", "<p>maintenance</p><title>Down for maintenance</title>"},
		{"doctype with json content type", "application/json", "\n<!doctype html><html><title>Access Denied</title></html>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", tc.ctype)
				io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			var out map[string]any
			e := sdktest.Error(t, newClient(t, srv.URL, nil).GetJSON(context.Background(), "/track", nil, &out))
			if e.Code != sdk.CodeCarrierUnavailable || e.Source != sdk.SourceCarrier {
				t.Fatalf("code, source = %s, %s", e.Code, e.Source)
			}
			if !strings.Contains(e.Message, "HTML page instead of JSON") || !strings.Contains(e.CarrierMessage, "Down for maintenance") && !strings.Contains(e.CarrierMessage, "Access Denied") {
				t.Fatalf("error = %+v", e)
			}
			// Without an output value the page is still refused.
			if err := newClient(t, srv.URL, nil).GetJSON(context.Background(), "/track", nil, nil); err == nil {
				t.Fatal("an HTML page passed for JSON when the answer was discarded")
			}
		})
	}
}

func TestMalformedJSON(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, `{"data": [1, 2`)
	}))
	defer srv.Close()
	var out map[string]any
	e := sdktest.Error(t, newClient(t, srv.URL, nil).GetJSON(context.Background(), "/x", nil, &out))
	if e.Code != sdk.CodePermanent || e.CarrierMessage != `{"data": [1, 2` {
		t.Fatalf("error = %+v", e)
	}
}

func TestResponseSizeLimit(t *testing.T) {
	var mu sync.Mutex
	written := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/declared" {
			w.Header().Set("Content-Length", "4096")
			w.Write(bytes.Repeat([]byte("x"), 4096))
			return
		}
		// A body without a length that never ends: the client must stop reading.
		chunk := bytes.Repeat([]byte("y"), 512)
		for i := 0; i < 1<<16; i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			mu.Lock()
			written += len(chunk)
			mu.Unlock()
		}
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, func(cfg *Config) { cfg.MaxResponseBytes = 1024 })
	for _, path := range []string{"/declared", "/endless"} {
		resp, err := c.Do(context.Background(), &Request{Path: path})
		e := sdktest.Error(t, err)
		if resp != nil {
			t.Errorf("%s: got a response with the error", path)
		}
		if e.Code != sdk.CodePermanent || !strings.Contains(e.Message, "1024-byte response limit") {
			t.Errorf("%s: error = %+v", path, e)
		}
	}
	srv.CloseClientConnections()
	mu.Lock()
	defer mu.Unlock()
	if written >= 512<<16 {
		t.Fatal("the client read the endless body to its end")
	}
}

func TestNotSentOnConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := newClient(t, "http://"+addr, func(cfg *Config) { cfg.Auth = APIKey{Query: "api_key", Key: "sekret-key-123"} })
	e := sdktest.Error(t, c.PostJSON(context.Background(), "/v1/shipments", map[string]int{"n": 1}, nil))
	if !e.NotSent || e.Code != sdk.CodeCarrierUnavailable {
		t.Fatalf("error = %+v, want carrier_unavailable with NotSent", e)
	}
	if strings.Contains(e.Error(), "sekret-key-123") {
		t.Fatalf("the API key leaked: %v", e)
	}
}

func TestNotSentOnTLSHandshakeFailure(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("the request reached the handler")
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	srv.StartTLS()
	defer srv.Close()
	c := newClient(t, srv.URL, nil) // the default client does not trust the test certificate
	e := sdktest.Error(t, c.PostJSON(context.Background(), "/v1/shipments", map[string]int{"n": 1}, nil))
	if !e.NotSent || e.Code != sdk.CodeCarrierUnavailable {
		t.Fatalf("error = %+v, want carrier_unavailable with NotSent", e)
	}
}

// TestMaybeSentOnReset: a server that reads the whole request and then resets
// the connection may have acted on it, so the error must not say NotSent.
func TestMaybeSentOnReset(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		req, err := http.ReadRequest(bufio.NewReader(conn))
		if err == nil {
			b, _ := io.ReadAll(req.Body)
			got <- string(b)
		}
		conn.(*net.TCPConn).SetLinger(0) // close with RST
		conn.Close()
	}()
	c := newClient(t, "http://"+ln.Addr().String(), nil)
	e := sdktest.Error(t, c.PostJSON(context.Background(), "/v1/shipments", map[string]string{"ref": "A1"}, nil))
	if body := <-got; body != `{"ref":"A1"}` {
		t.Fatalf("server read %q", body)
	}
	if e.NotSent {
		t.Fatalf("error = %+v: the server had the request, yet NotSent is set", e)
	}
	if e.Code != sdk.CodeCarrierUnavailable {
		t.Fatalf("code = %s", e.Code)
	}
}

func TestContextDeadline(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	e := sdktest.Error(t, newClient(t, srv.URL, nil).GetJSON(ctx, "/hang", nil, nil))
	if e.Code != sdk.CodeTimeout || e.NotSent {
		t.Fatalf("error = %+v, want a timeout that may have been sent", e)
	}
	if !e.Code.Retryable() {
		t.Fatal("timeout is not retryable")
	}

	// A context already over never sends anything.
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	e = sdktest.Error(t, newClient(t, srv.URL, nil).GetJSON(ctx2, "/hang", nil, nil))
	if e.Code != sdk.CodeTimeout || !e.NotSent {
		t.Fatalf("error = %+v, want a timeout with NotSent", e)
	}
}

func TestRequestShape(t *testing.T) {
	type seen struct {
		method, path, query, ua, tenant, accept, ctype, body, custom string
	}
	ch := make(chan seen, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ch <- seen{r.Method, r.URL.Path, r.URL.RawQuery, r.UserAgent(), r.Header.Get("X-Tenant"), r.Header.Get("Accept"), r.Header.Get("Content-Type"), string(b), r.Header.Get("X-Custom")}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()
	c := newClient(t, srv.URL+"/api/", func(cfg *Config) {
		cfg.Header = http.Header{"X-Tenant": {"t1"}, "X-Custom": {"default"}}
	})
	ctx := context.Background()
	var out struct{ OK bool }
	if err := c.GetJSON(ctx, "/track?format=json", url.Values{"waybill": {"123 45"}}, &out); err != nil || !out.OK {
		t.Fatalf("GetJSON: %v %+v", err, out)
	}
	s := <-ch
	if s.method != "GET" || s.path != "/api/track" || s.query != "format=json&waybill=123+45" || s.ua != DefaultUserAgent || s.tenant != "t1" || s.accept != "application/json" {
		t.Fatalf("GET seen as %+v", s)
	}
	if err := c.PostForm(ctx, "token", url.Values{"grant_type": {"password"}}, nil); err != nil {
		t.Fatal(err)
	}
	s = <-ch
	if s.method != "POST" || s.path != "/api/token" || s.ctype != "application/x-www-form-urlencoded" || s.body != "grant_type=password" {
		t.Fatalf("form POST seen as %+v", s)
	}
	req, _ := NewJSON("PUT", "/orders/9", map[string]int{"qty": 2})
	req.Header = http.Header{"X-Custom": {"mine"}, "User-Agent": {"acme-connector/2"}}
	if _, err := c.Do(ctx, req); err != nil {
		t.Fatal(err)
	}
	s = <-ch
	if s.method != "PUT" || s.ctype != "application/json" || s.body != `{"qty":2}` || s.custom != "mine" || s.ua != "acme-connector/2" {
		t.Fatalf("PUT seen as %+v", s)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, base := range []string{"", "ftp://x", "/relative", "https://"} {
		if _, err := New(Config{BaseURL: base}); sdktest.Error(t, err).Code != sdk.CodeInvalidRequest {
			t.Errorf("base %q: %v", base, err)
		}
	}
	c := newClient(t, "https://example.invalid", nil)
	if _, err := c.For("https://user:pw@:bad", nil); err == nil || strings.Contains(err.Error(), "pw") {
		t.Errorf("For with a bad URL: %v", err)
	}
	if _, err := NewJSON("POST", "/x", map[string]any{"f": func() {}}); sdktest.Error(t, err).Code != sdk.CodeInternal || !sdktest.Error(t, err).NotSent {
		t.Errorf("NewJSON: %v", err)
	}
}

// TestSecretsStayOut sends credentials every way the package supports against a
// server that echoes them back in errors, and checks no error, field or log line
// carries them.
func TestSecretsStayOut(t *testing.T) {
	const apiKey, password, hmacKey, loginPassword = "key-AAAA-1111", "pw-BBBB-2222", "hmac-CCCC-3333", "login-DDDD-4444"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.WriteHeader(400)
		// Echo everything back, as careless APIs do.
		io.WriteString(w, `{"message":"bad request `+r.URL.RawQuery+` `+strings.Join(r.Header.Values("Authorization"), ",")+` `+r.Header.Get("X-Key")+` `+string(b)+`"}`)
	}))
	defer srv.Close()
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cache := NewTokenCache(nil, logger)
	c := newClient(t, srv.URL, func(cfg *Config) { cfg.Logger = logger })
	auths := []Auth{
		APIKey{Query: "api_key", Key: apiKey},
		APIKey{Header: "X-Key", Key: apiKey},
		APIKey{Prefix: "Token ", Key: apiKey},
		Basic{Username: "user", Password: password},
		Chain{APIKey{Key: apiKey}, &HMAC{Secret: []byte(hmacKey)}},
		&TokenLogin{Key: []string{"acme login", "user", loginPassword}, Cache: cache, Login: func(context.Context) (string, time.Duration, error) {
			return "tok-" + apiKey, time.Hour, nil
		}},
		&TokenLogin{Key: []string{"acme login", "user2", loginPassword}, Cache: cache, Login: func(context.Context) (string, time.Duration, error) {
			return "", 0, errors.New("login refused for password " + loginPassword)
		}},
	}
	secrets := []string{apiKey, password, hmacKey, loginPassword}
	for i, a := range auths {
		req, _ := NewJSON("POST", "/v1/x", map[string]string{"echo": "body"})
		req.Auth = a
		_, err := c.Do(context.Background(), req)
		e := sdktest.Error(t, err)
		all := strings.Join([]string{e.Error(), e.Message, e.CarrierCode, e.CarrierMessage}, "|")
		for _, s := range secrets {
			if strings.Contains(all, s) {
				t.Errorf("auth %d (%v): secret %q in error %q", i, a, s, all)
			}
		}
		for _, printed := range []string{fmtV(a), fmtGoV(a)} {
			for _, s := range secrets {
				if strings.Contains(printed, s) {
					t.Errorf("auth %d prints its secret: %s", i, printed)
				}
			}
		}
		logger.Debug("auth in use", "auth", a)
	}
	// A request-body secret the caller declares is redacted too.
	req, _ := NewJSON("POST", "/login", map[string]string{"password": loginPassword})
	req.Secrets = []string{loginPassword}
	_, err := c.Do(context.Background(), req)
	if strings.Contains(err.Error(), loginPassword) {
		t.Errorf("declared secret leaked: %v", err)
	}
	for _, s := range secrets {
		if strings.Contains(logs.String(), s) {
			t.Errorf("secret %q in logs:\n%s", s, logs.String())
		}
	}
	if !strings.Contains(logs.String(), `"msg":"rest call"`) {
		t.Errorf("no call was logged:\n%s", logs.String())
	}
}

func fmtV(v any) string   { return fmt.Sprintf("%v %s %+v", v, v, v) }
func fmtGoV(v any) string { return fmt.Sprintf("%#v", v) }
