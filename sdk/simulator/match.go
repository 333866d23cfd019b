package simulator

import (
	"bytes"
	"cmp"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	mdoc "github.com/carrierhub/hub/mappings/doc"
	mxml "github.com/carrierhub/hub/mappings/xml"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/exchanges"
	"github.com/carrierhub/hub/sdk/model"
)

// request is a request, flattened for matching.
type request struct {
	method   string
	path     string // escaped, for messages
	rawQuery string
	segs     []string
	query    map[string]string
	body     map[string]string
}

func (r *request) String() string {
	if r.rawQuery == "" {
		return r.method + " " + r.path
	}
	return r.method + " " + r.path + "?" + r.rawQuery
}

// values returns every leaf value of the request, path segments first.
func (r *request) values() []string {
	out := slices.Clone(r.segs)
	for _, k := range sortedKeys(r.query) {
		out = append(out, r.query[k])
	}
	for _, k := range sortedKeys(r.body) {
		out = append(out, r.body[k])
	}
	return out
}

// incoming flattens an HTTP request.
func (s *Simulator) incoming(r *http.Request, body []byte) *request {
	p := r.URL.EscapedPath()
	return &request{
		method: r.Method, path: p, rawQuery: r.URL.RawQuery,
		segs:  segments(p),
		query: flattenQuery(r.URL.Query(), s.authQuery),
		body:  s.withoutAuth(flattenBody(r.Header.Get("Content-Type"), body)),
	}
}

// withoutAuth drops the body leaves body auth writes: credentials, not content.
func (s *Simulator) withoutAuth(leaves map[string]string) map[string]string {
	for path := range s.authBody {
		delete(leaves, path)
	}
	return leaves
}

// template is one recorded exchange, flattened, with what its file says.
type template struct {
	request
	file *exchanges.File
	x    *exchanges.Exchange
	op   sdk.Operation
	// fixed marks the path segments the binding writes literally.
	fixed []bool
	// auth is the entry the binding signs with; anyAuth means the operation
	// has no binding, so any entry may sign.
	auth    *authEntry
	anyAuth bool
	// notFound: the file's canonical outcome is not_found. condition: it
	// shows the provider's state rather than an answer to its request (see
	// conditions and markConditions), so it answers only when nothing else
	// fits and its values are not known.
	notFound, condition bool
	// status and rank are a track file's canonical status and its place in
	// model.TrackingStatuses (unknown last).
	status model.TrackingStatus
	rank   int
	// number is a create_shipment file's canonical tracking number.
	number string
}

// conditions are the canonical errors that describe the provider's state
// rather than an answer to a request.
var conditions = map[sdk.Code]bool{sdk.CodeAuthFailed: true, sdk.CodeRateLimited: true,
	sdk.CodeCarrierUnavailable: true, sdk.CodeTimeout: true}

// templates flattens every exchange of every file, in file order.
func (s *Simulator) templates(files []*exchanges.File) []*template {
	var out []*template
	for _, f := range files {
		info, _ := s.manifest.Operation(f.Operation)
		auth, anyAuth := s.authOf(info)
		nf := f.Canonical.Error != nil && f.Canonical.Error.Code == sdk.CodeNotFound
		if codes := gjson.Get(f.Canonical.Response, "results.#.error.code").Array(); len(codes) > 0 &&
			len(codes) == len(gjson.Get(f.Canonical.Response, "results").Array()) {
			nf = true
			for _, c := range codes {
				nf = nf && c.String() == string(sdk.CodeNotFound)
			}
		}
		cond := f.Canonical.Error != nil && conditions[f.Canonical.Error.Code]
		var status model.TrackingStatus
		rank := 0
		if f.Operation == sdk.OpTrack {
			status = model.TrackingStatus(gjson.Get(f.Canonical.Response, "results.0.status").String())
			rank = slices.Index(model.TrackingStatuses, status)
			if rank <= 0 { // unknown, or not a status
				rank = len(model.TrackingStatuses)
			}
		}
		var number string
		if f.Operation == sdk.OpCreateShipment {
			number = gjson.Get(f.Canonical.Response, "tracking_number").String()
		}
		for i := range f.Exchanges {
			x := &f.Exchanges[i]
			p, rawQuery, _ := strings.Cut(x.Request.Path, "?")
			q, _ := url.ParseQuery(rawQuery)
			for k, v := range x.Request.Query {
				q.Set(k, v)
			}
			t := &template{
				request: request{
					method: strings.ToUpper(x.Request.Method), path: p, rawQuery: q.Encode(),
					segs:  segments(p),
					query: flattenQuery(q, s.authQuery),
					body:  s.withoutAuth(flattenBody(exchanges.Header(x.Request.Headers, "Content-Type"), []byte(x.Request.Body))),
				},
				file: f, x: x, op: f.Operation, auth: auth, anyAuth: anyAuth,
				notFound: nf, condition: cond, status: status, rank: rank, number: number,
			}
			t.fixed = fixedSegments(info.Binding, t.method, t.segs)
			out = append(out, t)
		}
	}
	markConditions(out)
	return out
}

// markConditions marks as conditions the error files (canonical error other
// than not_found) whose first recorded request another file repeats: a
// request that does not tell them apart cannot be what they answer, so they
// show the provider's state (FedEx's 403, 404, 500 and 503 recorded for one
// and the same track request).
func markConditions(tmpls []*template) {
	files := map[string][]*exchanges.File{}
	seen := map[*exchanges.File]bool{}
	for _, t := range tmpls {
		if seen[t.file] {
			continue
		}
		seen[t.file] = true
		k := t.key()
		files[k] = append(files[k], t.file)
	}
	cond := map[*exchanges.File]bool{}
	for _, group := range files {
		if len(group) < 2 {
			continue
		}
		for _, f := range group {
			if e := f.Canonical.Error; e != nil && e.Code != sdk.CodeNotFound {
				cond[f] = true
			}
		}
	}
	for _, t := range tmpls {
		t.condition = t.condition || cond[t.file]
	}
}

// key identifies a request by all its leaves.
func (r *request) key() string {
	var b strings.Builder
	b.WriteString(r.method)
	for _, seg := range r.segs {
		b.WriteString("\x00/" + seg)
	}
	for _, m := range []map[string]string{r.query, r.body} {
		b.WriteString("\x00|")
		for _, k := range sortedKeys(m) {
			b.WriteString("\x00" + k + "=" + m[k])
		}
	}
	return b.String()
}

// authOf is the auth entry an operation's binding signs with, as the runtime
// picks it.
func (s *Simulator) authOf(info sdk.OperationInfo) (a *authEntry, any bool) {
	if info.Binding == nil {
		return nil, true
	}
	name := info.Binding.Auth
	if name == sdk.NoAuth {
		return nil, false
	}
	if name == "" {
		if len(s.auths) == 1 {
			return s.auths[0], false
		}
		return nil, false
	}
	for _, a := range s.auths {
		if a.name == name {
			return a, false
		}
	}
	return nil, false
}

// fixedSegments marks the recorded path segments that the binding's first
// step with this method and shape writes without a placeholder; with no such
// step, none is fixed.
func fixedSegments(b *sdk.Binding, method string, segs []string) []bool {
	fixed := make([]bool, len(segs))
	if b == nil {
		return fixed
	}
	for _, st := range b.StepList() {
		if st.Request == nil {
			continue
		}
		m := strings.ToUpper(st.Request.Method)
		if m == "" {
			m = http.MethodGet
		}
		_, route := sdk.PathHost(st.Request.Path)
		p, _, _ := strings.Cut(route, "?")
		tsegs := segments(p)
		if m != method || len(tsegs) != len(segs) {
			continue
		}
		fits := true
		for i, ts := range tsegs {
			if !strings.Contains(ts, "{") && ts != segs[i] {
				fits = false
				break
			}
		}
		if !fits {
			continue
		}
		for i, ts := range tsegs {
			fixed[i] = !strings.Contains(ts, "{")
		}
		return fixed
	}
	return fixed
}

// pathFits reports whether in's path has t's shape: as many segments, and
// t's fixed segments equal.
func (t *template) pathFits(in *request) bool {
	if len(t.segs) != len(in.segs) {
		return false
	}
	for i, seg := range t.segs {
		if t.fixed[i] && seg != in.segs[i] {
			return false
		}
	}
	return true
}

// candidate is a template scored against a request.
type candidate struct {
	t     *template
	score int
	// subs are the substitutions, recorded value to incoming value.
	subs [][2]string
	// unknown: a substitution brings a value of 3 or more characters that is
	// not known.
	unknown bool
}

// score compares t with in; false when t is no candidate.
func (s *Simulator) score(t *template, in *request) (candidate, bool) {
	if t.method != in.method || !t.pathFits(in) {
		return candidate{}, false
	}
	c := candidate{t: t}
	for i, seg := range t.segs {
		c.compare(seg, in.segs[i])
	}
	for _, m := range [][2]map[string]string{{t.query, in.query}, {t.body, in.body}} {
		for _, k := range sortedKeys(m[0]) {
			if got, ok := m[1][k]; ok {
				c.compare(m[0][k], got)
			}
		}
	}
	for _, sub := range c.subs {
		if len(sub[1]) >= 3 && !s.known[sub[1]] {
			c.unknown = true
		}
	}
	return c, true
}

func (c *candidate) compare(recorded, got string) {
	if recorded == got {
		c.score++
		return
	}
	c.subs = append(c.subs, [2]string{recorded, got})
}

// choose picks the template that answers in, by the rules of the package
// documentation; nil when none fits. With only set (Select), just that
// file's templates compete, by score alone. The caller holds s.mu.
func (s *Simulator) choose(in *request, only string) *candidate {
	var cands []candidate
	for _, t := range s.tmpls {
		if only != "" && t.file.Name != only {
			continue
		}
		if c, ok := s.score(t, in); ok {
			cands = append(cands, c)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	if only != "" {
		slices.SortStableFunc(cands, func(a, b candidate) int { return b.score - a.score })
		return &cands[0]
	}
	// Best score first, conditions last; the stable sort keeps file order.
	slices.SortStableFunc(cands, func(a, b candidate) int {
		if a.t.condition != b.t.condition {
			if a.t.condition {
				return 1
			}
			return -1
		}
		return b.score - a.score
	})
	first := func(ok func(*template) bool) *candidate {
		for i := range cands {
			if ok(cands[i].t) {
				return &cands[i]
			}
		}
		return nil
	}
	answering := func(t *template) bool { return !t.notFound && !t.condition }
	if n := s.createdIn(in); n != "" {
		var best *candidate
		for i := range cands {
			c := &cands[i]
			if answering(c.t) && (best == nil || s.rankFor(c.t, n) < s.rankFor(best.t, n)) {
				best = c
			}
		}
		if best != nil {
			return best
		}
	}
	top := &cands[0]
	switch {
	case top.unknown:
		if c := first(func(t *template) bool { return t.notFound && !t.condition }); c != nil {
			return c
		}
	case top.t.notFound && len(top.subs) > 0:
		if c := first(answering); c != nil {
			return c
		}
	}
	return top
}

// createdIn returns a number the simulator created that the request carries.
func (s *Simulator) createdIn(in *request) string {
	for _, v := range in.values() {
		if s.created[v] {
			return v
		}
	}
	return ""
}

// rankFor orders templates for a request about created number n: track
// templates by canonical status, earliest first (cancelled first once n is
// cancelled); others alike.
func (s *Simulator) rankFor(t *template, n string) int {
	if t.op != sdk.OpTrack {
		return 0
	}
	if s.cancelled[n] && t.status == model.StatusCancelled {
		return -1
	}
	return t.rank
}

// answer writes the chosen template's answer for in, applying substitutions
// and the state rules. The caller holds s.mu.
func (s *Simulator) answer(c *candidate, in *request) *answer {
	t := c.t
	resp := t.x.Response
	esc := escaper(kindOf(exchanges.Header(resp.Headers, "Content-Type"), []byte(resp.Body)))
	subs := map[string]string{}
	for _, sub := range c.subs {
		if _, dup := subs[sub[0]]; !dup && len(sub[0]) >= 3 {
			subs[sub[0]] = sub[1]
		}
	}
	if t.number != "" {
		fresh, ok := subs[t.number] // a number the client chose itself
		// A selected file replays as recorded: its booking keeps its number.
		if !ok && s.selected == "" && strings.Contains(resp.Body, esc(t.number)) {
			fresh = s.freshNumber(t.number)
			subs[t.number] = fresh
		}
		if fresh != "" {
			s.known[fresh], s.created[fresh] = true, true
		}
	}
	if t.op == sdk.OpCancelShipment && resp.Status < 300 {
		for _, v := range in.values() {
			if s.created[v] {
				s.cancelled[v] = true
			}
		}
	}
	// Longest recorded values first, so that one inside another does not win.
	froms := sortedKeys(subs)
	slices.SortStableFunc(froms, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	var body, header [][2]string
	for _, from := range froms {
		to := subs[from]
		body = append(body, [2]string{esc(from), esc(to)})
		header = append(header, [2]string{from, to})
	}
	out := &answer{status: resp.Status, body: resp.Body, header: resp.Headers}
	if len(body) > 0 {
		out.body = replaceWords(resp.Body, body)
		out.header = make(map[string]string, len(resp.Headers))
		for k, v := range resp.Headers {
			out.header[k] = replaceWords(v, header)
		}
	}
	return out
}

// replaceWords replaces each pair's first text by its second wherever it
// stands as a whole: not inside a longer word, so that a recorded user name
// "test" changes a value but not the key "latest_status". Pairs are tried
// in order at each position (longest first, as the caller sorts them).
func replaceWords(s string, pairs [][2]string) string {
	word := func(b byte) bool {
		return b == '_' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
	}
	var out strings.Builder
	for i := 0; i < len(s); {
		replaced := false
		if i == 0 || !word(s[i-1]) {
			for _, p := range pairs {
				end := i + len(p[0])
				if p[0] != "" && strings.HasPrefix(s[i:], p[0]) && (end == len(s) || !word(s[end])) {
					out.WriteString(p[1])
					i, replaced = end, true
					break
				}
			}
		}
		if !replaced {
			out.WriteByte(s[i])
			i++
		}
	}
	return out.String()
}

// freshNumber returns a number shaped like n, each digit a random digit and
// everything else kept, that is not known; n itself when n has no digits.
func (s *Simulator) freshNumber(n string) string {
	if !strings.ContainsAny(n, "0123456789") {
		return n
	}
	for {
		b := []byte(n)
		for i, ch := range b {
			if ch >= '0' && ch <= '9' {
				b[i] = byte('0' + rand.IntN(10))
			}
		}
		if f := string(b); f != n && !s.known[f] {
			return f
		}
	}
}

// Body kinds.
const (
	kindOther = iota
	kindJSON
	kindXML
	kindForm
)

// kindOf tells a body's kind by its media type, else by its first bytes.
func kindOf(contentType string, body []byte) int {
	ct := strings.ToLower(contentType)
	switch {
	case strings.Contains(ct, "json"):
		return kindJSON
	case strings.Contains(ct, "xml"):
		return kindXML
	case strings.Contains(ct, "x-www-form-urlencoded"):
		return kindForm
	}
	b := bytes.TrimSpace(body)
	switch {
	case len(b) == 0:
		return kindOther
	case (b[0] == '{' || b[0] == '[') && gjson.ValidBytes(b):
		return kindJSON
	case b[0] == '<':
		return kindXML
	case bytes.IndexByte(b, '=') > 0 && !bytes.ContainsAny(b, " \n\t"):
		return kindForm
	}
	return kindOther
}

// escaper returns how a value is written inside a body of that kind.
func escaper(kind int) func(string) string {
	switch kind {
	case kindJSON:
		return func(v string) string {
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(v)
			return strings.TrimSuffix(strings.TrimSuffix(b.String(), "\n"), `"`)[1:]
		}
	case kindXML:
		return func(v string) string {
			var b bytes.Buffer
			_ = xml.EscapeText(&b, []byte(v))
			return b.String()
		}
	}
	return func(v string) string { return v }
}

// segments splits an escaped path into unescaped segments, ignoring a
// trailing slash.
func segments(p string) []string {
	p = strings.TrimPrefix(p, "/")
	if len(p) > 1 {
		p = strings.TrimSuffix(p, "/")
	}
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		if u, err := url.PathUnescape(seg); err == nil {
			segs[i] = u
		}
	}
	return segs
}

// flattenQuery turns query parameters into leaves, leaving out skip (auth
// parameters); a repeated parameter is NAME.0, NAME.1, ...
func flattenQuery(q url.Values, skip map[string]bool) map[string]string {
	out := make(map[string]string, len(q))
	for k, vs := range q {
		if skip[k] {
			continue
		}
		if len(vs) == 1 {
			out[k] = vs[0]
			continue
		}
		for i, v := range vs {
			out[k+"."+strconv.Itoa(i)] = v
		}
	}
	return out
}

// flattenBody turns a body into leaves by its kind: JSON by gjson path, a form
// by field (JSON documents in fields flattened further), XML by element path
// (wsse:Security left out); any other non-empty body is one leaf.
func flattenBody(contentType string, body []byte) map[string]string {
	out := map[string]string{}
	b := bytes.TrimSpace(body)
	if len(b) == 0 {
		return out
	}
	switch kindOf(contentType, b) {
	case kindJSON:
		if gjson.ValidBytes(b) {
			flattenJSON("", gjson.ParseBytes(b), out)
			return out
		}
	case kindForm:
		q, err := url.ParseQuery(string(b))
		if err != nil {
			break
		}
		for k, vs := range q {
			for i, v := range vs {
				key := k
				if len(vs) > 1 {
					key += "." + strconv.Itoa(i)
				}
				if t := strings.TrimSpace(v); t != "" && (t[0] == '{' || t[0] == '[') && gjson.Valid(t) {
					flattenJSON(gjsonKey(key), gjson.Parse(t), out)
					continue
				}
				out[gjsonKey(key)] = v
			}
		}
		return out
	case kindXML:
		root, err := mxml.Unmarshal(b, mxml.Options{})
		if err == nil {
			flattenDoc("", root, out)
			return out
		}
	}
	out[""] = string(b)
	return out
}

// flattenJSON adds the leaves of v under the gjson path prefix.
func flattenJSON(prefix string, v gjson.Result, out map[string]string) {
	join := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	switch {
	case v.IsObject():
		v.ForEach(func(k, c gjson.Result) bool {
			flattenJSON(join(gjsonKey(k.String())), c, out)
			return true
		})
	case v.IsArray():
		i := 0
		v.ForEach(func(_, c gjson.Result) bool {
			flattenJSON(join(strconv.Itoa(i)), c, out)
			i++
			return true
		})
	case v.Type == gjson.String:
		out[prefix] = v.Str
	default:
		out[prefix] = v.Raw
	}
}

// gjsonKey escapes the characters gjson gives a meaning to in a path.
func gjsonKey(k string) string {
	var b strings.Builder
	for _, r := range k {
		if strings.ContainsRune(`.*?|#@\!=<>%`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// flattenDoc adds the leaves of an XML document tree under element path
// prefix; a WS-Security header is credentials, not content, and is skipped.
func flattenDoc(prefix string, v any, out map[string]string) {
	switch x := v.(type) {
	case *mdoc.Object:
		for i := range x.Len() {
			k, c := x.At(i)
			if k == "Security" {
				continue
			}
			flattenDoc(prefix+"/"+k, c, out)
		}
	case []any:
		for i, c := range x {
			flattenDoc(prefix+"/"+strconv.Itoa(i), c, out)
		}
	case nil:
		out[prefix] = ""
	case string:
		out[prefix] = x
	default:
		out[prefix] = fmt.Sprint(x)
	}
}
