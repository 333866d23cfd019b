package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/carrierhub/hub/engine/router"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/sdk"
)

// Console sessions. The browser console (engine/console, served at /console/)
// signs in once with an API key and then calls /v1 like any client, with a
// session cookie in place of the Authorization header: the same routes, the
// same access rules, the same tenant limits. The cookie is HttpOnly, so a
// script on the page cannot read it; SameSite=Strict, so other sites' pages do
// not send it; Secure when the browser reached the hub over TLS. A change made with the cookie
// (any method but GET and HEAD) must also carry the session's CSRF token in
// X-CSRF-Token, which only a page that read GET /v1/console/session knows, and
// an Origin header, when the browser sends one, must be the hub's own.

const (
	// sessionCookie holds a console session's secret.
	sessionCookie = "hub_session"
	// csrfHeader carries the session's CSRF token on changes.
	csrfHeader = "X-CSRF-Token"
	// DefaultConsoleSessionTTL is how long a console sign-in lasts unless its
	// key expires first.
	DefaultConsoleSessionTTL = 8 * time.Hour
)

// ConsoleSignIn is the body of POST /v1/console/sessions.
type ConsoleSignIn struct {
	// APIKey is a tenant's API key (hub_sk_...) or an operator key (hub_op_...).
	APIKey string `json:"api_key"`
}

// ConsoleSessionView is a console session as its browser sees it.
type ConsoleSessionView struct {
	ID        string    `json:"id"`
	ExpiresAt time.Time `json:"expires_at"`
	// CSRFToken must accompany every change made with the session's cookie, as
	// the X-CSRF-Token header.
	CSRFToken string `json:"csrf_token"`
	// Operator is true for an operator key's session, which manages tenants
	// and sees no tenant's data.
	Operator bool `json:"operator"`
	// TenantID is the tenant a tenant key's session acts for.
	TenantID string `json:"tenant_id,omitempty"`
	// Key is the key signed in with, without its secret.
	Key ConsoleKeyView `json:"key"`
}

// ConsoleKeyView names the key a console session acts as.
type ConsoleKeyView struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Prefix string `json:"prefix"`
	Admin  bool   `json:"admin"`
}

// csrfToken derives a session's CSRF token from its secret: a page learns it
// from GET /v1/console/session, and nobody without the HttpOnly cookie can
// compute it.
func csrfToken(secret string) string {
	sum := sha256.Sum256([]byte("hub console csrf\x00" + secret))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// safeMethod reports whether a method only reads.
func safeMethod(m string) bool { return m == http.MethodGet || m == http.MethodHead }

// sameOrigin reports whether the request's Origin header, when there is one,
// names the host the request was sent to: its Host, or the X-Forwarded-Host a
// reverse proxy in front of the hub set (nginx passes its upstream's name as
// Host by default). A page on another site can set neither header, so taking
// the forwarded one opens nothing; and the CSRF token is checked besides.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil {
		return false
	}
	if u.Host == r.Host {
		return true
	}
	fwd, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Host"), ",")
	return fwd != "" && strings.TrimSpace(fwd) == u.Host
}

// overTLS reports whether the browser reached the hub over TLS: directly, or
// through a proxy that says so (X-Forwarded-Proto). It only decides the
// cookie's Secure flag, which a wrong "https" could only make stricter.
func overTLS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// authenticateSession is authenticate for a request that carries the console's
// session cookie instead of an Authorization header.
func (s *server) authenticateSession(w http.ResponseWriter, r *http.Request, need access, secret string) (store.APIKey, bool) {
	if !safeMethod(r.Method) {
		if !sameOrigin(r) {
			writeProblem(w, r, newProblem(http.StatusForbidden, codeForbidden, "a change made with the console's session cookie must come from the hub's own pages (the Origin header names another site)"))
			return store.APIKey{}, false
		}
		if got := r.Header.Get(csrfHeader); subtle.ConstantTimeCompare([]byte(got), []byte(csrfToken(secret))) != 1 {
			writeProblem(w, r, newProblem(http.StatusForbidden, codeForbidden, "a change made with the console's session cookie needs the session's CSRF token as "+csrfHeader+" (GET /v1/console/session gives it)"))
			return store.APIKey{}, false
		}
	}
	h := sha256.Sum256([]byte(secret))
	now := s.now()
	key, ok := s.auth.get(h, now)
	if !ok {
		sess, k, err := s.store.AuthenticateConsoleSession(r.Context(), secret)
		switch {
		case errors.Is(err, store.ErrNotFound):
			writeProblem(w, r, newProblem(http.StatusUnauthorized, codeUnauthenticated, "the console session has ended (signed out, expired, or its key was revoked); sign in again"))
			return store.APIKey{}, false
		case err != nil:
			s.log.ErrorContext(r.Context(), "authenticating console session", "error", err)
			writeProblem(w, r, newProblem(http.StatusServiceUnavailable, codeUnavailable, "the hub's store is unavailable; try again"))
			return store.APIKey{}, false
		}
		key = k
		s.auth.putUntil(h, key, now, sess.ExpiresAt)
	}
	return s.admit(w, r, need, key, now)
}

// consoleRoutes are the console's sign-in routes of the route table.
func (s *server) consoleRoutes() []route {
	return []route{
		{Method: "POST", Pattern: "/v1/console/sessions", ID: "createConsoleSession",
			Summary: "Sign in to the console: trade an API key (a tenant's or an operator's) for a session cookie (HttpOnly, SameSite=Strict, Secure over TLS) that then authenticates /v1 calls in its place. Changes made with the cookie must send the answer's csrf_token as X-CSRF-Token.",
			Auth:    public, Body: ref("ConsoleSignIn"), Responses: []response{{201, "The session; the cookie is in Set-Cookie.", ref("ConsoleSession")}},
			Errors: []int{401, 403}, handler: s.createConsoleSession},
		{Method: "GET", Pattern: "/v1/console/session", ID: "getConsoleSession",
			Summary: "The console session the cookie holds: who is signed in, until when, and its CSRF token.", Auth: tenantOrOperator,
			Responses: []response{{200, "The session.", ref("ConsoleSession")}}, Errors: []int{404}, handler: s.getConsoleSession},
		{Method: "DELETE", Pattern: "/v1/console/session", ID: "endConsoleSession",
			Summary: "Sign out: end the cookie's console session and clear the cookie.", Auth: tenantOrOperator,
			Responses: []response{{204, "Signed out.", nil}}, Errors: []int{404}, handler: s.endConsoleSession},
	}
}

// consoleSchemas are the OpenAPI schemas of the console's routes.
func consoleSchemas() map[string]any {
	str := schema{"type": "string"}
	return map[string]any{
		"ConsoleSignIn": schema{"type": "object", "additionalProperties": false, "required": []string{"api_key"}, "properties": schema{
			"api_key": schema{"type": "string", "description": "A tenant's API key (hub_sk_...) or an operator key (hub_op_...)."},
		}},
		"ConsoleSession": schema{"type": "object", "required": []string{"id", "expires_at", "csrf_token", "operator", "key"}, "properties": schema{
			"id": str, "expires_at": schema{"type": "string", "format": "date-time"},
			"csrf_token": schema{"type": "string", "description": "Send it as X-CSRF-Token with every change made with the session's cookie."},
			"operator":   schema{"type": "boolean"}, "tenant_id": str,
			"key": schema{"type": "object", "properties": schema{"id": str, "name": str, "prefix": str, "admin": schema{"type": "boolean"}}},
		}},
	}
}

func (s *server) createConsoleSession(w http.ResponseWriter, r *http.Request, _ store.APIKey) {
	if !sameOrigin(r) {
		// Another site's page could otherwise sign the browser in to its own tenant.
		writeProblem(w, r, newProblem(http.StatusForbidden, codeForbidden, "console sign-in must come from the hub's own pages (the Origin header names another site)"))
		return
	}
	in, ok := readInput[ConsoleSignIn](s, w, r)
	if !ok {
		return
	}
	if in.APIKey == "" {
		writeProblem(w, r, invalidFields([]router.FieldError{{Pointer: "/api_key", Message: "an API key is required"}}))
		return
	}
	key, err := s.lookupKey(r.Context(), in.APIKey)
	switch {
	case errors.Is(err, store.ErrNotFound):
		unknownKey(w, r)
		return
	case err != nil:
		writeProblem(w, r, s.storeProblem(r.Context(), err, "console session"))
		return
	}
	sess, secret, err := s.store.CreateConsoleSession(r.Context(), key, s.consoleTTL)
	if err != nil {
		writeProblem(w, r, s.storeProblem(r.Context(), err, "console session"))
		return
	}
	if st := stateOf(r.Context()); st != nil {
		st.tenant = key.TenantID
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: secret, Path: "/", Expires: sess.ExpiresAt,
		MaxAge: max(1, int(sess.ExpiresAt.Sub(s.now()).Seconds())), HttpOnly: true, Secure: overTLS(r), SameSite: http.SameSiteStrictMode})
	writeJSON(w, http.StatusCreated, sessionView(sess.ID, sess.ExpiresAt, secret, key))
}

func (s *server) getConsoleSession(w http.ResponseWriter, r *http.Request, key store.APIKey) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || r.Header.Get("Authorization") != "" {
		writeProblem(w, r, newProblem(http.StatusNotFound, string(sdk.CodeNotFound), "this request carries no console session: sign in with POST /v1/console/sessions"))
		return
	}
	sess, _, err := s.store.AuthenticateConsoleSession(r.Context(), c.Value)
	if err != nil {
		writeProblem(w, r, s.storeProblem(r.Context(), err, "console session"))
		return
	}
	writeJSON(w, http.StatusOK, sessionView(sess.ID, sess.ExpiresAt, c.Value, key))
}

func (s *server) endConsoleSession(w http.ResponseWriter, r *http.Request, _ store.APIKey) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || r.Header.Get("Authorization") != "" {
		writeProblem(w, r, newProblem(http.StatusNotFound, string(sdk.CodeNotFound), "this request carries no console session to end"))
		return
	}
	if err := s.store.EndConsoleSession(r.Context(), c.Value); err != nil && !errors.Is(err, store.ErrNotFound) {
		writeProblem(w, r, s.storeProblem(r.Context(), err, "console session"))
		return
	}
	s.auth.drop(sha256.Sum256([]byte(c.Value)))
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: overTLS(r), SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}

func sessionView(id string, expires time.Time, secret string, key store.APIKey) ConsoleSessionView {
	return ConsoleSessionView{ID: id, ExpiresAt: expires, CSRFToken: csrfToken(secret), Operator: isOperator(key), TenantID: key.TenantID,
		Key: ConsoleKeyView{ID: key.ID, Name: key.Name, Prefix: key.Prefix, Admin: key.Admin}}
}
