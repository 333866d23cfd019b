package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/carrierhub/hub/engine/plugins"
	"github.com/carrierhub/hub/engine/router"
	"github.com/carrierhub/hub/engine/store/storetest"
)

// The regressions FuzzHandler found; its corpus under
// testdata/fuzz/FuzzHandler holds the inputs that found them.

// TestStoreRefusalIs422 checks that input the store refuses (a name with
// surrounding spaces or a control character, a base URL with a user) is a 422
// naming the field, not a 503 saying the store did not answer.
func TestStoreRefusalIs422(t *testing.T) {
	h, st := newStoreHarness(t)
	h.conns.infos = []plugins.Info{{Manifest: acmeManifest}}
	_, opKey, err := st.CreateOperatorKey(t.Context(), "ops")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, key, body, pointer string
	}{
		{"/v1/api-keys", h.keyA, `{"name":" ops"}`, "/name"},
		{"/v1/api-keys", h.keyA, `{"name":"ops\u0001"}`, "/name"},
		{"/v1/tenants", opKey, `{"name":"acme "}`, "/name"},
		{"/v1/tenants", opKey, "{\"name\":\"ac\x7fme\"}", "/name"},
		{"/v1/accounts", h.keyA, `{"connector_id":"acme","name":" main","environment":"sandbox","credentials":{"api_token":"t"},"settings":{"client_name":"C"}}`, "/name"},
		{"/v1/accounts", h.keyA, `{"connector_id":"acme","name":"main","environment":"sandbox","base_url":"https://user:pw@acme.test","credentials":{"api_token":"t"},"settings":{"client_name":"C"}}`, "/base_url"},
	} {
		r := h.do("POST", tc.path, tc.key, tc.body)
		p := r.problem(t)
		if r.status != http.StatusUnprocessableEntity || p.Code != "invalid_request" || len(p.Errors) != 1 || *p.Errors[0].Pointer != tc.pointer {
			t.Errorf("POST %s %s: %d %s, want 422 at %s", tc.path, tc.body, r.status, r.body, tc.pointer)
		}
	}
	if strings.Contains(h.logs.String(), `"level":"ERROR"`) {
		t.Errorf("a refused input was logged as a store failure:\n%s", h.logs)
	}
}

func TestStorePointer(t *testing.T) {
	for field, want := range map[string]string{
		"name": "/name", "base_url": "/base_url", "credentials.api_token": "/credentials/api_token",
		"settings.a/b.c": "/settings/a~1b.c", "credentials key": "/credentials",
	} {
		if got := storePointer(field); got != want {
			t.Errorf("storePointer(%q) = %q, want %q", field, got, want)
		}
	}
}

// TestUncleanPathRedirect checks that a path the mux cleans (//, ..) is
// redirected without the mux's HTML body, on a path of this host.
func TestUncleanPathRedirect(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, path := range []string{"/v1//accounts/../api-keys", "/v1/./connectors", "//healthz"} {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+h.keyA)
		rec := httptest.NewRecorder()
		h.srv.Config.Handler.ServeHTTP(rec, req)
		loc := rec.Header().Get("Location")
		if rec.Code < 300 || rec.Code > 399 || rec.Body.Len() != 0 || !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") {
			t.Errorf("GET %s: %d Location %q body %q", path, rec.Code, loc, rec.Body)
		}
	}
}

// TestHeaderTooLarge checks the API's own header limit: a request with more
// than MaxHeaderBytes of headers gets a 431 problem, through a real server set
// up with ServerMaxHeaderBytes, and one just under the limit is served.
func TestHeaderTooLarge(t *testing.T) {
	t.Parallel()
	st := storetest.OpenSQLite(t)
	conns := &fakeConnectors{}
	rt, err := router.New(router.Config{Connectors: conns, Accounts: st})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(New(Config{Store: st, Router: rt, Connectors: conns, Logger: slog.New(slog.DiscardHandler)}))
	srv.Config.MaxHeaderBytes = ServerMaxHeaderBytes
	srv.Start()
	t.Cleanup(srv.Close)

	get := func(filler int) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(context.Background(), "GET", srv.URL+"/healthz", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Filler", strings.Repeat("f", filler))
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res, body
	}
	if res, body := get(MaxHeaderBytes - 200); res.StatusCode != http.StatusOK {
		t.Fatalf("headers under the limit: %d %s", res.StatusCode, body)
	}
	res, body := get(MaxHeaderBytes)
	var p Problem
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge || res.Header.Get("Content-Type") != "application/problem+json" ||
		json.Unmarshal(body, &p) != nil || p.Code != "request_header_fields_too_large" || p.Status != 431 || p.RequestID == "" {
		t.Fatalf("headers over the limit: %d %v %s", res.StatusCode, res.Header, body)
	}
}
