// Package simulator is the generic provider simulator: it serves a connector
// folder's recorded exchanges (testdata/exchanges/*.yaml, package
// sdk/exchanges) over HTTP on loopback, behind the auth its manifest declares,
// so that `hub simulate ID` and conformance can drive any connector that has
// exchanges without the provider. It answers only what was recorded, adapted
// to the request in front of it; it is not a model of the provider.
//
// # Auth
//
// The simulator makes up its own account (Account): every credential is
// "sim-NAME-<random hex>", settings come from the exchange files'
// account.settings (the first file that names one wins), else "SIM-NAME" for a
// required setting or one a template uses. Each auth entry of the manifest is
// served or checked with the templates expanded with that account:
//
//   - oauth2_client_credentials: POST at token_url's path issues a random
//     bearer token (RFC 6749 §5.1) to the client id and secret, sent in an HTTP
//     Basic header or as form fields; anything else is 401 with a recorded 401
//     body, else {"error":"invalid_client"} (§5.2). API requests must carry
//     "Authorization: Bearer" with a token the entry issued.
//   - token_login: the login's method and path issue a token, after checking
//     the login's path, query and header templates and, when it has a body
//     mapping, every field the mapping writes for the simulator's account. The
//     answer is JSON with the token at the entry's token path and 3600 at its
//     ttl_path. API requests must carry the token where the entry places it.
//   - api_key, bearer, basic: the expanded value in its place.
//   - hmac: the signature header, verified (sdk/transport/rest's canonical
//     request) unless timestamp_header is "-", which leaves only its presence.
//   - wsse: a wsse:Security header in the SOAP body whose username and
//     password (text, or digest over nonce and created) are the account's.
//
// The auth an API request needs is the one of the binding of the operation
// whose recorded exchange it matches; a request that matches none needs any
// entry to accept it. A refused request is answered 401 with the body of a
// recorded 401 for its path, else an empty body.
//
// # Matching
//
// Every recorded exchange of every file is a template. A request's candidates
// are the templates with its method and its number of path segments whose
// literal path segments (those the binding's path template writes without a
// placeholder) are equal. Both sides are flattened to leaves: path segments,
// query parameters (auth parameters left out) and body fields, by
// Content-Type (else by their first bytes): JSON by gjson path; forms by
// url.ParseQuery, a value that is a JSON document flattened further; XML and
// SOAP through mappings/xml into element paths (wsse:Security left out). A
// candidate scores one per leaf present on both sides with equal values; a
// leaf present on both with different values is a substitution, recorded
// value to incoming value. The best score wins, ties to file order (files by
// name, exchanges in order), then the rules of State.
//
// Condition files show the provider's state rather than an answer to their
// request: those whose canonical error is auth_failed, rate_limited,
// carrier_unavailable or timeout, and error files (any canonical error but
// not_found) whose first recorded request another file repeats exactly, since
// the request cannot tell them apart. They rank after every other candidate
// and their values are not known; their recorded 401s serve refusals, the
// fault injector produces outages, and Select replays them.
//
// The answer is the recorded status, headers and body, with every
// substitution of a recorded value of 3 or more characters applied to the body
// and headers by plain string replacement (escaped for JSON or XML bodies).
// A request no template fits is answered 404 with a recorded 404 body for its
// path, else an empty body, and is logged and kept for Unmatched.
//
// # State
//
// Known values are every leaf of every recorded request but those of
// condition files, the account's values, and the numbers the simulator
// created. Files whose canonical outcome is not_found (canonical.error.code,
// or a canonical.response whose results all have error.code not_found) are
// not-found templates. Then:
//
//   - When the best candidate's substitutions bring a value of 3 or more
//     characters that is not known (an unknown tracking number), the best
//     not-found candidate wins, if there is one.
//   - When the best candidate is a not-found template with substitutions but
//     the request brings no unknown value, the best other candidate wins.
//   - A request that carries a created number is answered by the best
//     candidate that is not a not-found template, track templates ranked by
//     canonical status, earliest first (pending, then in_transit, ...; a
//     cancelled created number prefers cancelled), before score.
//   - An answer of a create_shipment file has the file's canonical
//     tracking_number replaced by a fresh number of the same shape (each digit
//     random, letters kept), remembered as known and created; when the
//     request itself carried a number in its place (a client-chosen waybill),
//     that number is the created one. A 2xx cancel of a created number marks
//     it cancelled.
//
// # Faults
//
// The handler is wrapped in faultcarrier.Wrap, so every fault mode of
// package sdk/simulator/faultcarrier applies to it, set through Faults or the
// /_fault control endpoint.
//
// The package imports sdk, sdk/exchanges, sdk/declarative (to load the
// manifest as the runtime does), the transports (for signature checks) and
// mappings; never the engine.
package simulator

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/declarative"
	"github.com/carrierhub/hub/sdk/exchanges"
	"github.com/carrierhub/hub/sdk/simulator/faultcarrier"
)

// maxBody bounds the request bodies the simulator reads.
const maxBody = 8 << 20

// SelectPath is the control endpoint of Select: POST SelectPath?file=NAME
// selects a file, POST SelectPath with no file clears the selection.
const SelectPath = "/_simulator/select"

// Options configure New.
type Options struct {
	// Addr is the address to listen on; "127.0.0.1:0", a free loopback port,
	// when empty.
	Addr string
	// Logger receives a line for every request that matched no recorded
	// exchange and every refused credential; nil discards them.
	Logger *slog.Logger
}

// Simulator serves one connector folder's recorded exchanges on loopback. Its
// methods are safe for concurrent use while it serves.
type Simulator struct {
	manifest  *sdk.Manifest
	tmpls     []*template
	auths     []*authEntry
	authQuery map[string]bool
	// authBody are the body paths body auth writes.
	authBody  map[string]bool
	creds     map[string]string
	settings  map[string]string
	faults    *faultcarrier.Carrier
	srv       *http.Server
	url       string
	log       *slog.Logger
	served    chan struct{}
	closeOnce sync.Once

	mu        sync.Mutex
	tokens    map[string]string // issued token -> auth entry name
	known     map[string]bool
	created   map[string]bool
	cancelled map[string]bool
	unmatched []string
	// selected, when set, is the one exchanges file answers come from.
	selected string
}

// Select makes the simulator answer every API request from the exchanges file
// name (without .yaml) only, the best-scoring exchange with its substitutions,
// whatever the state rules say, condition files (outages, refusals) included;
// "" goes back to matching across all files. Conformance selects each file in
// turn to replay what matching alone never chooses.
func (s *Simulator) Select(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.selected = name
}

// New starts a simulator for the connector folder fsys (manifest.yaml at its
// root, exchanges under testdata/exchanges) on a free loopback port, or on
// opts.Addr. Close it when done.
func New(fsys fs.FS, opts Options) (*Simulator, error) {
	m, err := declarative.LoadManifest(fsys)
	if err != nil {
		return nil, err
	}
	files, err := exchanges.Load(fsys, m)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.ID, err)
	}
	s := &Simulator{
		manifest: m, log: opts.Logger, served: make(chan struct{}),
		tokens: map[string]string{}, known: map[string]bool{}, created: map[string]bool{}, cancelled: map[string]bool{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.account(files)
	if err := s.loadAuth(fsys); err != nil {
		return nil, fmt.Errorf("%s: %w", m.ID, err)
	}
	s.tmpls = s.templates(files)
	for _, t := range s.tmpls {
		if t.condition {
			continue
		}
		for _, v := range t.values() {
			s.known[v] = true
		}
	}
	for _, v := range s.creds {
		s.known[v] = true
	}
	for _, v := range s.settings {
		s.known[v] = true
	}

	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("simulator %s: listening: %w", m.ID, err)
	}
	s.faults = faultcarrier.Wrap(http.HandlerFunc(s.serve))
	s.srv = &http.Server{Handler: s.faults, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	s.url = "http://" + ln.Addr().String()
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// URL returns the simulator's base URL, http://127.0.0.1:PORT; an account's
// BaseURL.
func (s *Simulator) URL() string { return s.url }

// ConnectorID returns the id of the connector the simulator serves, as its
// manifest says.
func (s *Simulator) ConnectorID() string { return s.manifest.ID }

// Close stops the simulator, dropping open connections (and the handlers a
// fault holds).
func (s *Simulator) Close() {
	s.closeOnce.Do(func() {
		s.faults.Shutdown()
		_ = s.srv.Close()
		<-s.served
	})
}

// Account returns the credentials and settings an account must hold to talk
// to the simulator: credentials generated for this simulator, settings from
// the exchange files, and every one of the provider's other hosts pointed
// at the simulator (host_NAME). The maps are copies.
func (s *Simulator) Account() (credentials, settings map[string]string) {
	settings = maps.Clone(s.settings)
	for name := range s.manifest.Account.Hosts {
		settings[sdk.HostSetting(name)] = s.url
	}
	return maps.Clone(s.creds), settings
}

// Faults returns the fault injector wrapped around the simulator, so tests can
// set faults and read request counts; its /_fault control endpoint is served
// on URL too.
func (s *Simulator) Faults() *faultcarrier.Carrier { return s.faults }

// Unmatched returns the requests no recorded exchange fitted, as "METHOD
// /path?query", oldest first.
func (s *Simulator) Unmatched() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.unmatched)
}

// account makes up the simulator's account: generated credentials, and the
// files' settings or placeholders.
func (s *Simulator) account(files []*exchanges.File) {
	m := s.manifest
	credNames, settingNames := map[string]bool{}, map[string]bool{}
	for _, f := range m.Account.Credentials {
		credNames[f.Name] = true
	}
	for _, f := range m.Account.Settings {
		if f.Required {
			settingNames[f.Name] = true
		}
	}
	for _, t := range manifestTemplates(m) {
		for _, p := range sdk.Placeholders(t) {
			switch p[0] {
			case "credential":
				credNames[p[1]] = true
			case "setting":
				settingNames[p[1]] = true
			}
		}
	}
	s.creds = make(map[string]string, len(credNames))
	for name := range credNames {
		s.creds[name] = "sim-" + name + "-" + randomHex(8)
	}
	s.settings = map[string]string{}
	for _, f := range files {
		for k, v := range f.Account.Settings {
			if _, ok := s.settings[k]; !ok {
				s.settings[k] = v
			}
		}
	}
	for name := range settingNames {
		if _, ok := s.settings[name]; !ok {
			s.settings[name] = "SIM-" + strings.ToUpper(name)
		}
	}
}

// manifestTemplates lists every template of the manifest's auth entries and
// bindings.
func manifestTemplates(m *sdk.Manifest) []string {
	var out []string
	req := func(r *sdk.RequestBinding) {
		if r == nil {
			return
		}
		out = append(out, r.Path)
		for _, v := range r.Query {
			out = append(out, v)
		}
		for _, v := range r.Headers {
			out = append(out, v)
		}
	}
	for _, a := range m.Auth {
		out = append(out, a.Value, a.Username, a.Password, a.TokenURL, a.ClientID, a.ClientSecret, a.Secret)
		req(a.Login)
	}
	for _, o := range m.Operations {
		if o.Binding != nil {
			for _, st := range o.Binding.StepList() {
				req(st.Request)
			}
		}
	}
	return out
}

// expand fills a template with the simulator's account; a leading
// {host.NAME} is dropped, since the simulator serves every host.
func (s *Simulator) expand(t string) string {
	_, t = sdk.PathHost(t)
	return sdk.ExpandTemplate(t, func(kind, name string) string {
		switch kind {
		case "credential":
			return s.creds[name]
		case "setting":
			return s.settings[name]
		}
		return ""
	}, nil)
}

// serve answers one request that the fault injector let through.
func (s *Simulator) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == SelectPath && r.Method == http.MethodPost {
		s.Select(r.URL.Query().Get("file"))
		w.WriteHeader(http.StatusNoContent)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		http.Error(w, "reading the request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	for _, a := range s.auths {
		if a.serves(r) {
			s.issue(w, r, a, body)
			return
		}
	}
	in := s.incoming(r, body)
	ans := s.respond(r, in, body)
	ans.write(w)
}

// respond decides the answer to an API request, under the state lock.
func (s *Simulator) respond(r *http.Request, in *request, body []byte) *answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.choose(in, s.selected)
	if c == nil {
		if !s.authorizedAny(r, body) {
			return s.refusal(in)
		}
		line := in.String()
		s.unmatched = append(s.unmatched, line)
		s.log.Warn("simulator: no recorded exchange fits the request", "connector", s.manifest.ID, "request", line)
		return s.recorded(in, http.StatusNotFound)
	}
	if !s.authorized(c.t, r, body) {
		return s.refusal(in)
	}
	return s.answer(c, in)
}

// refusal is the answer to a request that fails auth.
func (s *Simulator) refusal(in *request) *answer {
	s.log.Info("simulator: refused credentials", "connector", s.manifest.ID, "request", in.String())
	return s.recorded(in, http.StatusUnauthorized)
}

// recorded answers status with the body and headers of a recorded exchange
// with that status whose path fits the request, else with an empty body.
func (s *Simulator) recorded(in *request, status int) *answer {
	for _, t := range s.tmpls {
		if t.x.Response.Status == status && t.pathFits(in) {
			return &answer{status: status, header: t.x.Response.Headers, body: t.x.Response.Body}
		}
	}
	return &answer{status: status}
}

// answer is what the simulator writes back.
type answer struct {
	status int
	header map[string]string
	body   string
}

func (a *answer) write(w http.ResponseWriter) {
	for k, v := range a.header {
		if !strings.EqualFold(k, "Content-Length") {
			w.Header().Set(k, v)
		}
	}
	if w.Header().Get("Content-Type") == "" && a.body != "" {
		w.Header().Set("Content-Type", sniffType(a.body))
	}
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

// sniffType guesses the media type of a recorded body that names none.
func sniffType(body string) string {
	switch kindOf("", []byte(body)) {
	case kindJSON:
		return "application/json"
	case kindXML:
		return "text/xml; charset=utf-8"
	case kindForm:
		return "application/x-www-form-urlencoded"
	}
	return "text/plain; charset=utf-8"
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
