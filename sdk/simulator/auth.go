package simulator

import (
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/carrierhub/hub/mappings"
	mdoc "github.com/carrierhub/hub/mappings/doc"
	"github.com/carrierhub/hub/mappings/formats"
	mxml "github.com/carrierhub/hub/mappings/xml"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/transport/rest"
	"github.com/carrierhub/hub/sdk/transport/soap"
)

// tokenTTL is the lifetime, in seconds, the simulator gives its tokens.
const tokenTTL = 3600

// authEntry is one auth entry of the manifest, ready to serve and check.
type authEntry struct {
	name string
	spec *sdk.AuthSpec
	// tokenPath is an oauth2 entry's token endpoint path.
	tokenPath string
	// loginMethod and loginRoute recognise a token_login's login request (its
	// path with every placeholder a wildcard); loginBody is the body fields
	// it must carry.
	loginMethod string
	loginRoute  *regexp.Regexp
	loginBody   map[string]string
}

// loadAuth prepares the manifest's auth entries, in name order.
func (s *Simulator) loadAuth(fsys fs.FS) error {
	s.authQuery, s.authBody = map[string]bool{}, map[string]bool{}
	for _, name := range sortedKeys(s.manifest.Auth) {
		a := &authEntry{name: name, spec: s.manifest.Auth[name]}
		switch a.spec.Type {
		case sdk.AuthOAuth2:
			u := s.expand(a.spec.TokenURL)
			if p, err := url.Parse(u); err == nil && p.IsAbs() {
				u = p.Path
			}
			u, _, _ = strings.Cut(u, "?")
			a.tokenPath = "/" + strings.TrimLeft(u, "/")
		case sdk.AuthTokenLogin:
			l := a.spec.Login
			a.loginMethod = strings.ToUpper(l.Method)
			if a.loginMethod == "" {
				a.loginMethod = http.MethodGet
			}
			_, route := sdk.PathHost(l.Path)
			a.loginRoute = templateRE(route, func(string, string) (string, bool) { return "", false })
			if l.Body != nil {
				var err error
				if a.loginBody, err = s.loginBody(fsys, l.Body); err != nil {
					return fmt.Errorf("auth.%s.login: %w", name, err)
				}
			}
		}
		if a.spec.Query != "" {
			s.authQuery[a.spec.Query] = true
		}
		for path := range a.spec.Fields {
			s.authBody[path] = true
		}
		s.auths = append(s.auths, a)
	}
	return nil
}

// loginBody is the body fields a login must carry: what its body mapping
// writes for the simulator's account, flattened.
func (s *Simulator) loginBody(fsys fs.FS, b *sdk.BodyBinding) (map[string]string, error) {
	p, err := mappings.CompileFS(fsys, path.Clean(b.Mapping), mappings.Options{})
	if err != nil {
		return nil, err
	}
	input, err := json.Marshal(map[string]map[string]string{"credentials": s.creds, "settings": s.settings})
	if err != nil {
		return nil, err
	}
	js, err := p.ApplyJSON(nil, input)
	if err != nil {
		return nil, fmt.Errorf("applying %s to the simulator's account: %w", b.Mapping, err)
	}
	body, err := formats.Write(b.Format, js, formats.WriteOptions{JSONFields: b.JSONFields, Declaration: true})
	if err != nil {
		return nil, fmt.Errorf("writing the %s login body: %w", b.Format, err)
	}
	ct := b.ContentType
	if ct == "" {
		ct = formats.ContentType(b.Format)
	}
	return flattenBody(ct, body), nil
}

// serves reports whether r is a request to the entry's own endpoint (a token
// endpoint or a login).
func (a *authEntry) serves(r *http.Request) bool {
	switch a.spec.Type {
	case sdk.AuthOAuth2:
		return r.Method == http.MethodPost && r.URL.Path == a.tokenPath
	case sdk.AuthTokenLogin:
		return r.Method == a.loginMethod && a.loginRoute.MatchString(r.URL.EscapedPath())
	}
	return false
}

// issue answers a token request or a login.
func (s *Simulator) issue(w http.ResponseWriter, r *http.Request, a *authEntry, body []byte) {
	in := s.incoming(r, body)
	switch a.spec.Type {
	case sdk.AuthOAuth2:
		form, _ := url.ParseQuery(string(body))
		if form.Get("grant_type") != "client_credentials" {
			(&answer{status: http.StatusBadRequest, header: jsonHeader,
				body: `{"error":"unsupported_grant_type"}`}).write(w)
			return
		}
		id, secret := form.Get("client_id"), form.Get("client_secret")
		if u, p, basic := r.BasicAuth(); basic {
			id, secret = unescape(u), unescape(p)
		}
		if id != s.expand(a.spec.ClientID) || secret != s.expand(a.spec.ClientSecret) {
			s.log.Info("simulator: refused client credentials", "connector", s.manifest.ID, "auth", a.name)
			ans := s.tokenRefusal(in)
			w.Header().Set("WWW-Authenticate", `Basic realm="simulator"`)
			ans.write(w)
			return
		}
		tok := s.newToken(a)
		b, _ := json.Marshal(map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": tokenTTL})
		w.Header().Set("Cache-Control", "no-store")
		(&answer{status: http.StatusOK, header: jsonHeader, body: string(b)}).write(w)
	case sdk.AuthTokenLogin:
		if !s.loginAccepted(a, r, in) || !s.loginSigned(a, r, body) {
			s.refusal(in).write(w)
			return
		}
		tok := s.newToken(a)
		if a.spec.Token == sdk.TokenIsBody {
			(&answer{status: http.StatusOK, header: map[string]string{"Content-Type": "text/plain"}, body: tok}).write(w)
			return
		}
		out := setPath(map[string]any{}, a.spec.Token, tok)
		if a.spec.TTLPath != "" {
			out = setPath(out, a.spec.TTLPath, tokenTTL)
		}
		b, _ := json.Marshal(out)
		(&answer{status: http.StatusOK, header: jsonHeader, body: string(b)}).write(w)
	}
}

var jsonHeader = map[string]string{"Content-Type": "application/json"}

// tokenRefusal is a token endpoint's 401: a recorded 401 for the token path,
// else any recorded 401, else RFC 6749's invalid_client.
func (s *Simulator) tokenRefusal(in *request) *answer {
	ans := s.recorded(in, http.StatusUnauthorized)
	if ans.body != "" {
		return ans
	}
	for _, t := range s.tmpls {
		if t.x.Response.Status == http.StatusUnauthorized && t.x.Response.Body != "" {
			return &answer{status: http.StatusUnauthorized, header: t.x.Response.Headers, body: t.x.Response.Body}
		}
	}
	return &answer{status: http.StatusUnauthorized, header: jsonHeader, body: `{"error":"invalid_client"}`}
}

// newToken issues a token for entry a.
func (s *Simulator) newToken(a *authEntry) string {
	tok := "sim-token-" + randomHex(16)
	s.mu.Lock()
	s.tokens[tok] = a.name
	s.mu.Unlock()
	return tok
}

// loginAccepted checks the credentials a login carries: its path, query and
// header templates, and the body fields its mapping writes.
func (s *Simulator) loginAccepted(a *authEntry, r *http.Request, in *request) bool {
	l := a.spec.Login
	if !s.fits(l.Path, r.URL.EscapedPath(), url.PathEscape) {
		return false
	}
	q := r.URL.Query()
	for k, t := range l.Query {
		if want := s.expand(t); want != "" && !s.fits(t, q.Get(k), nil) {
			return false
		}
	}
	for k, t := range l.Headers {
		if want := s.expand(t); want != "" && !s.fits(t, r.Header.Get(k), nil) {
			return false
		}
	}
	for k, v := range a.loginBody {
		if in.body[k] != v {
			return false
		}
	}
	return true
}

// loginSigned checks a login whose entry names a login_auth: it must carry
// that entry's credentials (the token the simulator issued to it).
func (s *Simulator) loginSigned(a *authEntry, r *http.Request, body []byte) bool {
	if a.spec.LoginAuth == "" {
		return true
	}
	for _, inner := range s.auths {
		if inner.name == a.spec.LoginAuth {
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.accepts(inner, r, body)
		}
	}
	return false
}

// authorized checks r against the auth of the binding t's file runs under.
func (s *Simulator) authorized(t *template, r *http.Request, body []byte) bool {
	switch {
	case t.anyAuth:
		return s.authorizedAny(r, body)
	case t.auth == nil:
		return true
	}
	return s.accepts(t.auth, r, body)
}

// authorizedAny reports whether some auth entry accepts r (true when there
// are none).
func (s *Simulator) authorizedAny(r *http.Request, body []byte) bool {
	if len(s.auths) == 0 {
		return true
	}
	for _, a := range s.auths {
		if s.accepts(a, r, body) {
			return true
		}
	}
	return false
}

// accepts reports whether r carries the credentials of entry a. The caller
// holds s.mu.
func (s *Simulator) accepts(a *authEntry, r *http.Request, body []byte) bool {
	sp := a.spec
	if len(sp.Fields) > 0 {
		leaves := flattenBody(r.Header.Get("Content-Type"), body)
		for path, t := range sp.Fields {
			if v, ok := leaves[path]; !ok || !s.fits(t, v, nil) {
				return false
			}
		}
	}
	switch sp.Type {
	case sdk.AuthAPIKey, sdk.AuthBearer:
		header, prefix := sp.Header, sp.Prefix
		if sp.Type == sdk.AuthBearer && header == "" && sp.Query == "" {
			header = "Authorization"
			if prefix == "" {
				prefix = "Bearer "
			}
		}
		if sp.Query != "" {
			if !s.fits(sp.Value, r.URL.Query().Get(sp.Query), nil) {
				return false
			}
			if header == "" {
				return true
			}
		}
		v, ok := strings.CutPrefix(r.Header.Get(header), prefix)
		return ok && s.fits(sp.Value, v, nil)
	case sdk.AuthBasic:
		u, p, ok := r.BasicAuth()
		return ok && s.fits(sp.Username, u, nil) && s.fits(sp.Password, p, nil)
	case sdk.AuthOAuth2:
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		return ok && s.tokens[tok] == a.name
	case sdk.AuthTokenLogin:
		var tok string
		if sp.Query != "" {
			tok = r.URL.Query().Get(sp.Query)
		} else {
			header, prefix := sp.Header, sp.Prefix
			if header == "" {
				header = "Authorization"
				if prefix == "" {
					prefix = "Bearer "
				}
			}
			v, ok := strings.CutPrefix(r.Header.Get(header), prefix)
			if !ok {
				return false
			}
			tok = v
		}
		return tok != "" && s.sameLogin(s.tokens[tok], a)
	case sdk.AuthHMAC:
		return s.signed(sp, r, body)
	case sdk.AuthWSSecurity:
		return s.wsseValid(sp, body)
	case sdk.AuthBody:
		return true // its fields, checked above
	}
	return false
}

// sameLogin reports whether the entry named issuer issued tokens a accepts:
// a itself, or another token_login entry that logs in the same way (one
// login, a token sent in a header by one entry and beside body fields by
// another).
func (s *Simulator) sameLogin(issuer string, a *authEntry) bool {
	if issuer == a.name {
		return true
	}
	for _, e := range s.auths {
		if e.name == issuer {
			return e.spec.Type == sdk.AuthTokenLogin && a.spec.Type == sdk.AuthTokenLogin &&
				e.loginMethod == a.loginMethod && e.loginRoute.String() == a.loginRoute.String()
		}
	}
	return false
}

// signed verifies an hmac signature as sdk/transport/rest's HMAC makes it:
// HMAC-SHA256 of rest.CanonicalRequest, hex or Base64. Without a timestamp
// header ("-") only the signature's presence is checked.
func (s *Simulator) signed(sp *sdk.AuthSpec, r *http.Request, body []byte) bool {
	sig, ok := strings.CutPrefix(r.Header.Get(sp.Header), sp.Prefix)
	if !ok || sig == "" {
		return false
	}
	tsHeader := sp.TimestampHeader
	if tsHeader == "" {
		tsHeader = "X-Timestamp"
	}
	if tsHeader == "-" {
		return true
	}
	secs, err := strconv.ParseInt(r.Header.Get(tsHeader), 10, 64)
	if err != nil {
		return false
	}
	secret := []byte(s.expand(sp.Secret))
	msg := rest.CanonicalRequest(r, body, time.Unix(secs, 0))
	return hmac.Equal([]byte(sig), []byte(rest.Sign(secret, msg, false))) ||
		hmac.Equal([]byte(sig), []byte(rest.Sign(secret, msg, true)))
}

// wsseValid finds the wsse:Security header of a SOAP body and checks its
// UsernameToken: the username, and the password as text or as a digest.
func (s *Simulator) wsseValid(sp *sdk.AuthSpec, body []byte) bool {
	root, err := mxml.Unmarshal(body, mxml.Options{Prefixes: map[string]string{"wsse": soap.NamespaceWSSE}})
	if err != nil {
		return false
	}
	sec := findKey(root, "wsse:Security")
	if sec == nil {
		return false
	}
	tok, _ := child(sec, "wsse:UsernameToken").(*mdoc.Object)
	if tok == nil {
		return false
	}
	if !s.fits(sp.Username, textOf(child(tok, "wsse:Username")), nil) {
		return false
	}
	pw := child(tok, "wsse:Password")
	password := s.expand(sp.Password)
	if o, ok := pw.(*mdoc.Object); ok && textOf(child(o, "@Type")) == soap.PasswordDigestType {
		nonce, err := base64.StdEncoding.DecodeString(textOf(child(tok, "wsse:Nonce")))
		if err != nil {
			return false
		}
		return hmac.Equal([]byte(textOf(pw)), []byte(soap.PasswordDigest(nonce, textOf(child(tok, "Created")), password)))
	}
	return textOf(pw) == password
}

// findKey returns the first value under key anywhere in a document tree.
func findKey(v any, key string) any {
	switch x := v.(type) {
	case *mdoc.Object:
		for i := range x.Len() {
			k, c := x.At(i)
			if k == key {
				return c
			}
			if f := findKey(c, key); f != nil {
				return f
			}
		}
	case []any:
		for _, c := range x {
			if f := findKey(c, key); f != nil {
				return f
			}
		}
	}
	return nil
}

func child(v any, key string) any {
	o, ok := v.(*mdoc.Object)
	if !ok {
		return nil
	}
	c, _ := o.Get(key)
	return c
}

// textOf is an element's text: the string, or an object's #text.
func textOf(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case *mdoc.Object:
		t, _ := x.Get("#text")
		s, _ := t.(string)
		return s
	}
	return ""
}

// fits reports whether got is what template t yields for the simulator's
// account; placeholders other than credentials and settings ({input.X},
// {account.id}, ...) match anything. escape, when set, is applied to the
// account's values as the runtime applies it (paths).
func (s *Simulator) fits(t, got string, escape func(string) string) bool {
	re := templateRE(t, func(kind, name string) (string, bool) {
		var v string
		switch kind {
		case "credential":
			v = s.creds[name]
		case "setting":
			v = s.settings[name]
		default:
			return "", false
		}
		if escape != nil {
			v = escape(v)
		}
		return v, true
	})
	return re.MatchString(got)
}

// templateRE compiles a template into an anchored expression: the values
// value returns for placeholders literally, the others as wildcards.
func templateRE(t string, value func(kind, name string) (string, bool)) *regexp.Regexp {
	const wild = "\x00"
	exp := sdk.ExpandTemplate(t, func(kind, name string) string {
		v, ok := value(kind, name)
		if !ok {
			return wild
		}
		return strings.ReplaceAll(v, wild, "")
	}, nil)
	parts := strings.Split(exp, wild)
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*") + "$")
}

// unescape undoes the form escaping golang.org/x/oauth2 applies to Basic
// credentials (RFC 6749 §2.3.1).
func unescape(v string) string {
	if u, err := url.QueryUnescape(v); err == nil {
		return u
	}
	return v
}

// setPath sets v at a dotted gjson path in m, building the objects on the way.
func setPath(m map[string]any, p string, v any) map[string]any {
	keys := splitPath(p)
	cur := m
	for i, k := range keys {
		if i == len(keys)-1 {
			cur[k] = v
			break
		}
		next, ok := cur[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[k] = next
		}
		cur = next
	}
	return m
}

// splitPath splits a gjson path on the dots that are not escaped.
func splitPath(p string) []string {
	var out []string
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch {
		case p[i] == '\\' && i+1 < len(p):
			i++
			b.WriteByte(p[i])
		case p[i] == '.':
			out = append(out, b.String())
			b.Reset()
		default:
			b.WriteByte(p[i])
		}
	}
	return append(out, b.String())
}
