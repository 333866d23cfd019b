package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/console"
)

// signIn signs in to the console with key and returns the session's cookie
// header and CSRF token.
func signIn(t *testing.T, h *harness, key string) (cookie, csrf string) {
	t.Helper()
	r := h.do("POST", "/v1/console/sessions", "", `{"api_key":"`+key+`"}`)
	if r.status != http.StatusCreated {
		t.Fatalf("sign-in: %d %s", r.status, r.body)
	}
	var v ConsoleSessionView
	r.decode(t, &v)
	set := r.header.Get("Set-Cookie")
	name, rest, _ := strings.Cut(set, "=")
	value, attrs, _ := strings.Cut(rest, ";")
	if name != sessionCookie || !strings.HasPrefix(value, "hub_cs_") {
		t.Fatalf("Set-Cookie = %q", set)
	}
	for _, want := range []string{"Path=/", "HttpOnly", "SameSite=Strict", "Max-Age="} {
		if !strings.Contains(attrs, want) {
			t.Errorf("Set-Cookie %q lacks %s", set, want)
		}
	}
	if strings.Contains(attrs, "Secure") {
		t.Errorf("Set-Cookie %q is Secure over plain HTTP, where the browser would drop it", set)
	}
	if v.CSRFToken == "" || strings.Contains(string(r.body), value) {
		t.Fatalf("session view %s: want a CSRF token and never the cookie's secret", r.body)
	}
	return sessionCookie + "=" + value, v.CSRFToken
}

// TestConsoleSessions checks the console's sign-in: a session cookie stands in
// for the API key it was made from, with that key's tenant and access; changes
// need the CSRF token and the hub's own origin; signing out and revoking the
// key end it at once.
func TestConsoleSessions(t *testing.T) {
	h, st := newStoreHarness(t)
	cookie, csrf := signIn(t, h, h.keyA)
	withCookie := "Cookie: " + cookie

	r := h.do("GET", "/v1/console/session", "", "", withCookie)
	var v ConsoleSessionView
	r.decode(t, &v)
	if r.status != 200 || v.TenantID != h.tenantA || v.Operator || v.CSRFToken != csrf || v.Key.Name != "a" || time.Until(v.ExpiresAt) > DefaultConsoleSessionTTL {
		t.Fatalf("GET session: %d %s", r.status, r.body)
	}
	// The cookie reads the tenant's data, and only the tenant's.
	if r = h.do("GET", "/v1/webhooks/endpoints", "", "", withCookie); r.status != 200 {
		t.Fatalf("GET with the cookie: %d %s", r.status, r.body)
	}
	if r = h.do("POST", "/v1/tenants", "", `{"name":"tenant-c"}`, withCookie, "X-CSRF-Token: "+csrf); r.status != http.StatusForbidden {
		t.Fatalf("a tenant's session on an operator route: %d", r.status)
	}
	// A change needs the CSRF token, and an Origin, when sent, must be the hub's.
	body := `{"url":"https://erp.example.com/hooks"}`
	if r = h.do("POST", "/v1/webhooks/endpoints", "", body, withCookie); r.status != http.StatusForbidden || !strings.Contains(string(r.body), "X-CSRF-Token") {
		t.Fatalf("change without the CSRF token: %d %s", r.status, r.body)
	}
	if r = h.do("POST", "/v1/webhooks/endpoints", "", body, withCookie, "X-CSRF-Token: "+csrf[1:]+"x"); r.status != http.StatusForbidden {
		t.Fatalf("change with a wrong CSRF token: %d", r.status)
	}
	if r = h.do("POST", "/v1/webhooks/endpoints", "", body, withCookie, "X-CSRF-Token: "+csrf, "Origin: https://evil.example"); r.status != http.StatusForbidden {
		t.Fatalf("change from another origin: %d", r.status)
	}
	if r = h.do("POST", "/v1/webhooks/endpoints", "", body, withCookie, "X-CSRF-Token: "+csrf, "Origin: "+h.srv.URL); r.status != http.StatusCreated {
		t.Fatalf("change with the token from the hub's origin: %d %s", r.status, r.body)
	}
	// Behind a reverse proxy the page's origin is the proxy's, which says so.
	proxied := []string{withCookie, "X-CSRF-Token: " + csrf, "Origin: https://hub.example.com", "X-Forwarded-Host: hub.example.com"}
	if r = h.do("POST", "/v1/webhooks/endpoints", "", `{"url":"https://erp.example.com/2"}`, proxied...); r.status != http.StatusCreated {
		t.Fatalf("change through a proxy: %d %s", r.status, r.body)
	}
	if r = h.do("POST", "/v1/console/sessions", "", `{"api_key":"`+h.keyA+`"}`, "Origin: https://hub.example.com",
		"X-Forwarded-Host: hub.example.com", "X-Forwarded-Proto: https"); r.status != http.StatusCreated || !strings.Contains(r.header.Get("Set-Cookie"), "Secure") {
		t.Fatalf("sign-in through a TLS proxy: %d %s %s", r.status, r.header.Get("Set-Cookie"), r.body)
	}
	// Another site cannot sign the browser in to its own tenant.
	if r = h.do("POST", "/v1/console/sessions", "", `{"api_key":"`+h.keyB+`"}`, "Origin: https://evil.example"); r.status != http.StatusForbidden || r.header.Get("Set-Cookie") != "" {
		t.Fatalf("cross-site sign-in: %d %s", r.status, r.body)
	}
	// Wrong keys: one 401 for all, no cookie, the secret never echoed.
	for _, bad := range []string{"hub_sk_" + strings.Repeat("x", 43), "nonsense", "hub_op_" + strings.Repeat("y", 43)} {
		r = h.do("POST", "/v1/console/sessions", "", `{"api_key":"`+bad+`"}`)
		if r.status != http.StatusUnauthorized || r.header.Get("Set-Cookie") != "" || strings.Contains(string(r.body), bad) {
			t.Fatalf("sign-in with %q: %d %s", bad, r.status, r.body)
		}
	}
	if r = h.do("POST", "/v1/console/sessions", "", `{}`); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("sign-in without a key: %d %s", r.status, r.body)
	}
	if r = h.do("GET", "/v1/console/session", h.keyA, ""); r.status != http.StatusNotFound {
		t.Fatalf("GET session with a bearer key: %d", r.status)
	}

	// Signing out ends the session at once, cache or not, and clears the cookie.
	if r = h.do("DELETE", "/v1/console/session", "", "", withCookie); r.status != http.StatusForbidden {
		t.Fatalf("sign-out without the CSRF token: %d", r.status)
	}
	r = h.do("DELETE", "/v1/console/session", "", "", withCookie, "X-CSRF-Token: "+csrf)
	if r.status != http.StatusNoContent || !strings.Contains(r.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("sign-out: %d %v", r.status, r.header)
	}
	if r = h.do("GET", "/v1/webhooks/endpoints", "", "", withCookie); r.status != http.StatusUnauthorized || !strings.Contains(string(r.body), "sign in again") {
		t.Fatalf("the signed-out cookie: %d %s", r.status, r.body)
	}

	// Revoking the key ends its sessions.
	k, secret, err := st.CreateAPIKey(context.Background(), h.tenantA, "short-lived", false)
	if err != nil {
		t.Fatal(err)
	}
	cookie2, _ := signIn(t, h, secret)
	if r = h.do("GET", "/v1/webhooks/endpoints", "", "", "Cookie: "+cookie2); r.status != 200 {
		t.Fatalf("second session: %d", r.status)
	}
	if err := st.RevokeAPIKey(context.Background(), h.tenantA, k.ID); err != nil {
		t.Fatal(err)
	}
	h.srv.Config.Handler.(*server).auth.revoke(k.ID) // as the API's own revocation does
	if r = h.do("GET", "/v1/webhooks/endpoints", "", "", "Cookie: "+cookie2); r.status != http.StatusUnauthorized {
		t.Fatalf("session of a revoked key: %d", r.status)
	}

	// An operator key's session: operator routes yes, tenant routes no.
	_, opSecret, err := st.CreateOperatorKey(context.Background(), "platform")
	if err != nil {
		t.Fatal(err)
	}
	opCookie, _ := signIn(t, h, opSecret)
	if r = h.do("GET", "/v1/tenants", "", "", "Cookie: "+opCookie); r.status != 200 {
		t.Fatalf("operator session on /v1/tenants: %d %s", r.status, r.body)
	}
	if r = h.do("GET", "/v1/webhooks/endpoints", "", "", "Cookie: "+opCookie); r.status != http.StatusForbidden {
		t.Fatalf("operator session on a tenant route: %d", r.status)
	}
	if r = h.do("GET", "/v1/connectors", "", "", "Cookie: "+opCookie); r.status != 200 {
		t.Fatalf("operator session on the catalogue: %d", r.status)
	}
	if strings.Contains(h.logs.String(), "hub_cs_") || strings.Contains(h.logs.String(), h.keyA) {
		t.Error("a session secret or key reached the logs")
	}
}

// TestConsoleIsServed checks /console/ serves the embedded page with its
// security headers, and that the page loads nothing from elsewhere.
func TestConsoleIsServed(t *testing.T) {
	h, _ := newStoreHarness(t, func(c *Config) { c.Console = console.Handler() })
	r := h.do("GET", "/console/", "", "")
	if r.status != 200 || !strings.Contains(string(r.body), `<script type="module" src="app.js">`) {
		t.Fatalf("GET /console/: %d %s", r.status, r.body)
	}
	csp := r.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	if r.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q", r.header.Get("X-Content-Type-Options"))
	}
	for _, f := range []string{"app.js", "app.css"} {
		r = h.do("GET", "/console/"+f, "", "")
		if r.status != 200 || strings.Contains(string(r.body), "http://") || strings.Contains(string(r.body), "https://") {
			t.Errorf("GET /console/%s: %d, or it names another site", f, r.status)
		}
	}
	if r = h.do("GET", "/console", "", ""); r.status != 200 || !strings.Contains(string(r.body), "app.js") { // through the redirect to /console/
		t.Errorf("GET /console: %d %s", r.status, r.body)
	}
	if r = h.do("GET", "/console/nope.js", "", ""); r.status != http.StatusNotFound {
		t.Errorf("GET /console/nope.js: %d", r.status)
	}
}
