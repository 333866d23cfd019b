package sdk

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Binding declares the provider exchange(s) that serve one operation, so that
// a connector needs no Go for it: sdk/declarative runs bindings. A binding is
// one exchange (Request and Response) or a short sequence of Steps where a
// later request uses values named by an earlier answer (login, then call;
// create, then fetch the label).
//
// Text fields that reach the provider (Path, query and header values, auth
// fields) are templates: {credential.NAME}, {setting.NAME}, {input.PATH} (a
// gjson path into the canonical request), {item} (the tracking number of a
// per-item fan-out), {values.NAME} (a value an earlier step named),
// {account.id|tenant_id|environment}, {host.NAME} (another of the provider's
// base URLs, at a path's start) and {request.id} (a new random id for each
// request sent, for providers that want one: Adaequare's requestid; in a
// request's path, query and headers, not in an auth entry).
// Placeholders in Path are path-escaped.
type Binding struct {
	// Auth names the entry of the manifest's auth map that signs the requests;
	// empty means the only entry when there is exactly one, else none.
	Auth string `yaml:"auth,omitempty" json:"auth,omitempty"`
	// FanOut splits a track request's numbers across requests; track only.
	FanOut *FanOut `yaml:"fan_out,omitempty" json:"fan_out,omitempty"`
	// Request and Response are the exchange of a one-step binding.
	Request  *RequestBinding  `yaml:"request,omitempty" json:"request,omitempty"`
	Response *ResponseBinding `yaml:"response,omitempty" json:"response,omitempty"`
	// Steps are the exchanges of a multi-step binding, run in order; the last
	// step's answer is the operation's answer.
	Steps []Step `yaml:"steps,omitempty" json:"steps,omitempty"`
}

// Step is one exchange of a multi-step binding.
type Step struct {
	// Name names the step in errors and traces.
	Name     string           `yaml:"name" json:"name"`
	Request  *RequestBinding  `yaml:"request" json:"request"`
	Response *ResponseBinding `yaml:"response,omitempty" json:"response,omitempty"`
}

// FanOut says how a track call's tracking numbers become provider requests.
type FanOut struct {
	// Mode is per_item (one request per number; the request mapping gets
	// {"tracking_number": N} and {item} is N) or batch (up to Size numbers a
	// request; the request mapping gets {"tracking_numbers": [...]}).
	Mode string `yaml:"mode" json:"mode"`
	// Size is the most numbers a batch request carries (batch only).
	Size int `yaml:"size,omitempty" json:"size,omitempty"`
	// Fallback, per_item, asks for each number of a refused batch on its own,
	// for providers that refuse a whole batch for one unknown number.
	Fallback string `yaml:"fallback,omitempty" json:"fallback,omitempty"`
	// Parallelism bounds concurrent requests; 4 when zero.
	Parallelism int `yaml:"parallelism,omitempty" json:"parallelism,omitempty"`
}

// Fan-out modes.
const (
	FanOutPerItem = "per_item"
	FanOutBatch   = "batch"
)

// RequestBinding is the provider request of one exchange.
type RequestBinding struct {
	// Method is the HTTP method; GET when empty.
	Method string `yaml:"method,omitempty" json:"method,omitempty"`
	// Path is a template joined to the account's base URL.
	Path string `yaml:"path" json:"path"`
	// Query parameters, each a template; a parameter whose template yields
	// nothing is left out.
	Query map[string]string `yaml:"query,omitempty" json:"query,omitempty"`
	// Headers, each a template; a header whose template yields nothing is left out.
	Headers map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`
	// Values is a request mapping whose result, an object of strings and
	// numbers, names values for this request's templates as {values.NAME}
	// (a comma-joined list of numbers for a query parameter, a date in the
	// provider's format); it reads what a body mapping reads.
	Values string `yaml:"values,omitempty" json:"values,omitempty"`
	// Body is written by a request mapping; none when empty.
	Body *BodyBinding `yaml:"body,omitempty" json:"body,omitempty"`
}

// BodyBinding writes a request body from the canonical request.
type BodyBinding struct {
	// Mapping is the request mapping's file, relative to the connector folder;
	// its input is the canonical request (or the fan-out's item request) with
	// "values" and "settings" added.
	Mapping string `yaml:"mapping" json:"mapping"`
	// Format is how the mapping's JSON result is written: json, form, xml,
	// soap11, soap12 or csv; json when empty.
	Format string `yaml:"format,omitempty" json:"format,omitempty"`
	// JSONFields are form fields written as JSON documents (format form).
	JSONFields []string `yaml:"json_fields,omitempty" json:"json_fields,omitempty"`
	// ContentType overrides the format's content type.
	ContentType string `yaml:"content_type,omitempty" json:"content_type,omitempty"`
}

// ResponseBinding reads the provider's answer of one exchange.
type ResponseBinding struct {
	// Mapping is the response mapping's file (provider answer to canonical
	// answer); it reads the format its from line declares. Required on the last
	// step.
	Mapping string `yaml:"mapping,omitempty" json:"mapping,omitempty"`
	// Envelope makes the response mapping read {"answer": the provider's JSON
	// answer, "request": the canonical request, "values": the values named so
	// far} instead of the answer alone: for answers that leave out what the
	// request said (a booking answered with its number only), or a last step
	// that reports what earlier steps named. The mapping must read json.
	Envelope bool `yaml:"envelope,omitempty" json:"envelope,omitempty"`
	// Values name parts of the answer for later steps, each a gjson path
	// (JSON answers) or a header as "header:NAME".
	Values map[string]string `yaml:"values,omitempty" json:"values,omitempty"`
	// Status maps HTTP statuses (or classes such as 4xx) to canonical error
	// codes, overriding the defaults (401/403 auth_failed, 404 not_found, ...).
	Status map[string]Code `yaml:"status,omitempty" json:"status,omitempty"`
	// Error is a mapping run on every answer, 2xx included, that says whether it
	// is a refusal: its result {"error": {"code", "message", "carrier_code",
	// "carrier_message", "field"}} (null or missing error: not a refusal); field
	// is the JSON pointer of the canonical request field the refusal concerns.
	// It is how a "200 OK" that carries only an error becomes an error.
	Error string `yaml:"error,omitempty" json:"error,omitempty"`
}

// AuthSpec is one way of signing requests, named in the manifest's auth map and
// referenced by bindings. Its text fields are templates (see Binding).
type AuthSpec struct {
	// Type is api_key, basic, bearer, oauth2_client_credentials, token_login,
	// hmac, wsse or body.
	Type string `yaml:"type" json:"type"`
	// Header and Query place an api_key, a bearer or a login token (one of them);
	// Prefix goes before the value in the header ("Token ", "Bearer ").
	Header string `yaml:"header,omitempty" json:"header,omitempty"`
	Query  string `yaml:"query,omitempty" json:"query,omitempty"`
	Prefix string `yaml:"prefix,omitempty" json:"prefix,omitempty"`
	// Value is the api_key or bearer token.
	Value string `yaml:"value,omitempty" json:"value,omitempty"`
	// Username and Password for basic and wsse.
	Username string `yaml:"username,omitempty" json:"username,omitempty"`
	Password string `yaml:"password,omitempty" json:"password,omitempty"`
	// Digest sends a wsse PasswordDigest instead of the password's text.
	Digest bool `yaml:"digest,omitempty" json:"digest,omitempty"`
	// TokenURL, ClientID, ClientSecret, Scopes and SecretInBody for
	// oauth2_client_credentials; TokenURL may be relative to the base URL.
	TokenURL     string   `yaml:"token_url,omitempty" json:"token_url,omitempty"`
	ClientID     string   `yaml:"client_id,omitempty" json:"client_id,omitempty"`
	ClientSecret string   `yaml:"client_secret,omitempty" json:"client_secret,omitempty"`
	Scopes       []string `yaml:"scopes,omitempty" json:"scopes,omitempty"`
	SecretInBody bool     `yaml:"secret_in_body,omitempty" json:"secret_in_body,omitempty"`
	// Login is the exchange a token_login sends (credentials in, token out);
	// Token is the gjson path of the token in its JSON answer, or "@body"
	// when the whole answer is the token in plain text (DTDC's tracking
	// login); TTL is how long a token lives when TTLPath (a gjson path to
	// seconds) does not say.
	Login   *RequestBinding `yaml:"login,omitempty" json:"login,omitempty"`
	Token   string          `yaml:"token,omitempty" json:"token,omitempty"`
	TTL     Duration        `yaml:"ttl,omitempty" json:"ttl,omitempty"`
	TTLPath string          `yaml:"ttl_path,omitempty" json:"ttl_path,omitempty"`
	// LoginAuth names another auth entry that signs a token_login's login
	// request: a provider whose session is asked for with the token of an
	// account-level login (Sandbox.co.in: the platform's token first, then
	// the taxpayer's session with it). That entry is not a token_login with
	// a login_auth of its own.
	LoginAuth string `yaml:"login_auth,omitempty" json:"login_auth,omitempty"`
	// Secret, TimestampHeader and Base64 configure hmac: HMAC-SHA256 of the
	// canonical request, in Header after Prefix.
	Secret          string `yaml:"secret,omitempty" json:"secret,omitempty"`
	TimestampHeader string `yaml:"timestamp_header,omitempty" json:"timestamp_header,omitempty"`
	// Fields are credentials a provider wants inside the request body
	// (iThink's access_token and secret_key, a form's username and password,
	// Blue Dart's Profile beside its JWT header), each a gjson path of the
	// body's JSON (or a form field) and a template written there after the
	// body mapping, so that no mapping ever reads a credential. Type body has
	// only fields; any other type may add them to what it sends.
	Fields map[string]string `yaml:"fields,omitempty" json:"fields,omitempty"`
}

// Auth types.
const (
	AuthAPIKey     = "api_key"
	AuthBasic      = "basic"
	AuthBearer     = "bearer"
	AuthOAuth2     = "oauth2_client_credentials"
	AuthTokenLogin = "token_login"
	AuthHMAC       = "hmac"
	AuthWSSecurity = "wsse"
	AuthBody       = "body"
)

// TokenIsBody is the token path of a login whose whole answer is the token.
const TokenIsBody = "@body"

// maxBatchSize is the most numbers a batch can carry: a track call's own
// limit (model.TrackRequest's maxItems), so a larger batch could never fill.
const maxBatchSize = 50

// placeholderRE finds {kind.name} and {item} placeholders in templates.
var placeholderRE = regexp.MustCompile(`\{(item|(credential|setting|input|values|account|host|request)\.([^{}]+))\}`)

// Placeholders returns the placeholders of a template as kind and name pairs
// ({item} is kind "item" with no name).
func Placeholders(template string) [][2]string {
	var out [][2]string
	for _, m := range placeholderRE.FindAllStringSubmatch(template, -1) {
		if m[1] == "item" {
			out = append(out, [2]string{"item", ""})
			continue
		}
		out = append(out, [2]string{m[2], m[3]})
	}
	return out
}

// ExpandTemplate replaces every placeholder of template with what lookup
// returns for it; escape (may be nil) is applied to each replacement.
func ExpandTemplate(template string, lookup func(kind, name string) string, escape func(string) string) string {
	if !strings.Contains(template, "{") {
		return template
	}
	return placeholderRE.ReplaceAllStringFunc(template, func(m string) string {
		sub := placeholderRE.FindStringSubmatch(m)
		var v string
		if sub[1] == "item" {
			v = lookup("item", "")
		} else {
			v = lookup(sub[2], sub[3])
		}
		if escape != nil && sub[2] != "host" { // a host is a base URL, not a path segment
			return escape(v)
		}
		return v
	})
}

// hostRE finds a template's leading {host.NAME}.
var hostRE = regexp.MustCompile(`^\{host\.([^{}]+)\}`)

// PathHost splits a request path template into the host it names, if any
// ({host.NAME} at its start: one of the account's other base URLs), and the
// path on that host.
func PathHost(path string) (host, rest string) {
	if m := hostRE.FindStringSubmatch(path); m != nil {
		return m[1], path[len(m[0]):]
	}
	return "", path
}

// HostSetting is the account setting that overrides the base URL of host
// name (a simulator, a proxy); without it the manifest's hosts give it.
func HostSetting(name string) string { return "host_" + name }

// StepList returns the binding's exchanges in order: Steps, or the one exchange
// written inline.
func (b *Binding) StepList() []Step {
	if len(b.Steps) > 0 {
		return b.Steps
	}
	return []Step{{Name: "call", Request: b.Request, Response: b.Response}}
}

// validateBinding checks one operation's binding against the manifest; where
// names the operation in errors.
func (m *Manifest) validateBinding(where string, op Operation, b *Binding) error {
	if len(b.Steps) > 0 && (b.Request != nil || b.Response != nil) {
		return fmt.Errorf("%s.binding: write request/response or steps, not both", where)
	}
	if op == OpReceivePush {
		// A push is read, not fetched: the binding is its response mapping alone.
		if b.Request != nil || len(b.Steps) > 0 || b.FanOut != nil {
			return fmt.Errorf("%s.binding: a receive_push binding has only a response (the mapping of what the provider pushed)", where)
		}
		if b.Response == nil || b.Response.Mapping == "" {
			return fmt.Errorf("%s.binding.response.mapping: required", where)
		}
		return nil
	}
	if len(b.Steps) == 0 && b.Request == nil {
		return fmt.Errorf("%s.binding: request is required", where)
	}
	if b.Auth != "" && b.Auth != NoAuth {
		if _, ok := m.Auth[b.Auth]; !ok {
			return fmt.Errorf("%s.binding.auth: no auth named %q in the manifest's auth", where, b.Auth)
		}
	}
	if a := m.BindingAuth(b); a != nil && len(a.Fields) > 0 {
		for i, s := range b.StepList() {
			if s.Request == nil || s.Request.Body == nil {
				return fmt.Errorf("%s.binding: step %d has no body for its auth's fields", where, i+1)
			}
			if f := s.Request.Body.Format; f != "" && f != "json" && f != "form" {
				return fmt.Errorf("%s.binding: an auth's fields are written into json or form bodies, not %s", where, f)
			}
		}
	}
	if f := b.FanOut; f != nil {
		if op != OpTrack {
			return fmt.Errorf("%s.binding.fan_out: only track fans out", where)
		}
		switch f.Mode {
		case FanOutPerItem:
		case FanOutBatch:
			if f.Size < 1 || f.Size > maxBatchSize {
				return fmt.Errorf("%s.binding.fan_out.size: a batch carries 1 to %d numbers", where, maxBatchSize)
			}
		default:
			return fmt.Errorf("%s.binding.fan_out.mode: %q is neither per_item nor batch", where, f.Mode)
		}
		if f.Fallback != "" && f.Fallback != FanOutPerItem {
			return fmt.Errorf("%s.binding.fan_out.fallback: only per_item", where)
		}
		if f.Parallelism < 0 {
			return fmt.Errorf("%s.binding.fan_out.parallelism: must not be negative", where)
		}
	}
	steps := b.StepList()
	names := map[string]bool{}
	for i, s := range steps {
		at := where + ".binding"
		if len(b.Steps) > 0 {
			at = fmt.Sprintf("%s.binding.steps[%d]", where, i)
			if s.Name == "" || names[s.Name] {
				return fmt.Errorf("%s.name: each step needs a name of its own", at)
			}
			names[s.Name] = true
		}
		if err := validateRequest(at+".request", s.Request, b.FanOut); err != nil {
			return err
		}
		last := i == len(steps)-1
		if s.Response == nil || (last && s.Response.Mapping == "") {
			if last {
				return fmt.Errorf("%s.response.mapping: the last exchange needs a response mapping", at)
			}
			continue
		}
		for k, c := range s.Response.Status {
			if !statusKey(k) {
				return fmt.Errorf("%s.response.status: %q is not an HTTP status or class (404, 4xx)", at, k)
			}
			if !c.Valid() {
				return fmt.Errorf("%s.response.status.%s: %q is not a canonical error code", at, k, c)
			}
		}
	}
	return nil
}

// NoAuth is the auth name a binding gives to send no credentials at all
// (a public tracking page beside signed bookings).
const NoAuth = "none"

// BindingAuth is the auth entry a binding signs with: the one it names, or
// the manifest's only entry; nil when neither, or when it names NoAuth.
func (m *Manifest) BindingAuth(b *Binding) *AuthSpec {
	if b.Auth == NoAuth {
		return nil
	}
	if b.Auth != "" {
		return m.Auth[b.Auth]
	}
	if len(m.Auth) == 1 {
		for _, a := range m.Auth {
			return a
		}
	}
	return nil
}

func validateRequest(at string, r *RequestBinding, fan *FanOut) error {
	if r == nil {
		return fmt.Errorf("%s: required", at)
	}
	if r.Path == "" {
		return fmt.Errorf("%s.path: required", at)
	}
	switch strings.ToUpper(r.Method) {
	case "", "GET", "POST", "PUT", "PATCH", "DELETE":
	default:
		return fmt.Errorf("%s.method: %q is not GET, POST, PUT, PATCH or DELETE", at, r.Method)
	}
	templates := []string{r.Path}
	for _, v := range r.Query {
		templates = append(templates, v)
	}
	for _, v := range r.Headers {
		templates = append(templates, v)
	}
	for i, t := range templates {
		if err := checkTemplate(t, fan); err != nil {
			return fmt.Errorf("%s: %w", at, err)
		}
		if i > 0 && strings.Contains(t, "{host.") {
			return fmt.Errorf("%s: template %q: {host.NAME} may only begin a path", at, t)
		}
	}
	if r.Body != nil {
		if r.Body.Mapping == "" {
			return fmt.Errorf("%s.body.mapping: required", at)
		}
		switch r.Body.Format {
		case "", "json", "form", "xml", "soap11", "soap12", "csv":
		default:
			return fmt.Errorf("%s.body.format: %q is not json, form, xml, soap11, soap12 or csv", at, r.Body.Format)
		}
	}
	return nil
}

// requestIDPlaceholder is the placeholder of a new random id per request sent.
const requestIDPlaceholder = "{request.id}"

// UsesRequestID reports whether the request's templates (path, query,
// headers) use {request.id}; a nil request uses none.
func (r *RequestBinding) UsesRequestID() bool {
	if r == nil {
		return false
	}
	if strings.Contains(r.Path, requestIDPlaceholder) {
		return true
	}
	for _, m := range []map[string]string{r.Query, r.Headers} {
		for _, t := range m {
			if strings.Contains(t, requestIDPlaceholder) {
				return true
			}
		}
	}
	return false
}

// usesRequestID reports whether an auth entry's templates, its login's
// included, use {request.id}.
func (a *AuthSpec) usesRequestID() bool {
	for _, t := range []string{a.Value, a.Username, a.Password, a.TokenURL, a.ClientID, a.ClientSecret, a.Secret} {
		if strings.Contains(t, requestIDPlaceholder) {
			return true
		}
	}
	for _, t := range a.Fields {
		if strings.Contains(t, requestIDPlaceholder) {
			return true
		}
	}
	return a.Login.UsesRequestID()
}

// checkTemplate refuses braces that are not placeholders, and {item} outside a
// per-item fan-out.
func checkTemplate(t string, fan *FanOut) error {
	rest := placeholderRE.ReplaceAllString(t, "")
	if strings.ContainsAny(rest, "{}") {
		return fmt.Errorf("template %q has a brace that is not a placeholder ({credential.X}, {setting.X}, {input.X}, {values.X}, {account.id}, {host.X}, {request.id}, {item})", t)
	}
	if _, rest := PathHost(t); strings.Contains(rest, "{host.") {
		return fmt.Errorf("template %q: {host.NAME} may only begin a path or a token URL", t)
	}
	for _, p := range Placeholders(t) {
		if p[0] == "item" && (fan == nil || fan.Mode != FanOutPerItem) {
			return fmt.Errorf("template %q uses {item}, which only a per_item fan-out has", t)
		}
		if p[0] == "account" && p[1] != "id" && p[1] != "environment" && p[1] != "tenant_id" {
			return fmt.Errorf("template %q: {account.%s} is not id, tenant_id or environment", t, p[1])
		}
		if p[0] == "request" && p[1] != "id" {
			return fmt.Errorf("template %q: {request.%s} is not id", t, p[1])
		}
	}
	return nil
}

func statusKey(k string) bool {
	if len(k) == 3 && k[1:] == "xx" && k[0] >= '1' && k[0] <= '5' {
		return true
	}
	n, err := strconv.Atoi(k)
	return err == nil && n >= 100 && n <= 599
}

// validateAuth checks one auth entry.
func validateAuth(name string, a *AuthSpec) error {
	at := "auth." + name
	need := func(field, v string) error {
		if v == "" {
			return fmt.Errorf("%s.%s: required for %s", at, field, a.Type)
		}
		return checkTemplate(v, nil)
	}
	if name == NoAuth {
		return fmt.Errorf("%s: %q is the name a binding uses to send no auth; call the entry something else", at, NoAuth)
	}
	if a.usesRequestID() {
		return fmt.Errorf("%s: %s is a request's (its path, query and headers), not an auth entry's", at, requestIDPlaceholder)
	}
	for _, path := range slices.Sorted(maps.Keys(a.Fields)) {
		if err := need("fields."+path, a.Fields[path]); err != nil {
			return err
		}
	}
	switch a.Type {
	case AuthAPIKey, AuthBearer:
		if (a.Header == "") == (a.Query == "") && a.Type == AuthAPIKey {
			return fmt.Errorf("%s: an api_key goes in a header or a query parameter (one of them)", at)
		}
		return need("value", a.Value)
	case AuthBasic, AuthWSSecurity:
		if err := need("username", a.Username); err != nil {
			return err
		}
		return need("password", a.Password)
	case AuthOAuth2:
		for _, f := range [][2]string{{"token_url", a.TokenURL}, {"client_id", a.ClientID}, {"client_secret", a.ClientSecret}} {
			if err := need(f[0], f[1]); err != nil {
				return err
			}
		}
	case AuthTokenLogin:
		if err := validateRequest(at+".login", a.Login, nil); err != nil {
			return err
		}
		if a.Token == "" {
			return fmt.Errorf("%s.token: the gjson path of the token in the login answer is required", at)
		}
		if a.Header != "" && a.Query != "" {
			return fmt.Errorf("%s: a token goes in a header or a query parameter, not both", at)
		}
	case AuthHMAC:
		if err := need("secret", a.Secret); err != nil {
			return err
		}
		return need("header", a.Header)
	case AuthBody:
		if len(a.Fields) == 0 {
			return fmt.Errorf("%s.fields: body auth needs at least one field (a body path and its template)", at)
		}
	default:
		return fmt.Errorf("%s.type: %q is not api_key, basic, bearer, oauth2_client_credentials, token_login, hmac, wsse or body", at, a.Type)
	}
	return nil
}
