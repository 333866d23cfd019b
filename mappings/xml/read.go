package xml

import (
	"bytes"
	stdxml "encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/carrierhub/hub/mappings/doc"
)

// Default limits, used when the corresponding Options field is zero.
const (
	DefaultMaxBytes = 32 << 20
	DefaultMaxDepth = 256
	DefaultMaxAttrs = 256
)

// Options tune Read. The zero value reads with local names and default limits.
type Options struct {
	// Prefixes binds the mapping author's prefixes to namespace URIs. Elements
	// and attributes in a bound namespace are keyed "prefix:local", whatever
	// prefix the document itself used.
	Prefixes map[string]string
	// Expanded keys elements and attributes in a namespace not bound by
	// Prefixes as "{uri}local" instead of the bare local name.
	Expanded bool
	// MaxBytes bounds the input size (default DefaultMaxBytes).
	MaxBytes int64
	// MaxDepth bounds element nesting (default DefaultMaxDepth).
	MaxDepth int
	// MaxAttrs bounds the attributes on one element, namespace declarations
	// included (default DefaultMaxAttrs).
	MaxAttrs int
}

// Read parses one XML document from r into a *doc.Object holding its root
// element, as described in the package documentation.
func Read(r io.Reader, opts Options) (*doc.Object, error) {
	max := opts.MaxBytes
	if max <= 0 {
		max = DefaultMaxBytes
	}
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("xml: reading input: %w", err)
	}
	if int64(len(data)) > max {
		return nil, &Error{Kind: ErrLimit, Msg: fmt.Sprintf("document is larger than %d bytes", max)}
	}
	return Unmarshal(data, opts)
}

// Unmarshal parses one XML document held in data; see Read.
func Unmarshal(data []byte, opts Options) (*doc.Object, error) {
	p := newParser(opts)
	root, _, err := p.parse(data)
	return root, err
}

type binding struct{ prefix, uri string }

type frame struct {
	raw      stdxml.Name // as written, for matching the end tag
	key      string
	obj      *doc.Object
	text     []byte
	hasChild bool
	nilled   bool
	nsMark   int
}

type parser struct {
	keys     map[string]string // uri -> author prefix
	expanded bool
	maxBytes int64
	maxDepth int
	maxAttrs int
}

func newParser(opts Options) *parser {
	p := &parser{expanded: opts.Expanded, maxBytes: opts.MaxBytes, maxDepth: opts.MaxDepth, maxAttrs: opts.MaxAttrs}
	if p.maxBytes <= 0 {
		p.maxBytes = DefaultMaxBytes
	}
	if p.maxDepth <= 0 {
		p.maxDepth = DefaultMaxDepth
	}
	if p.maxAttrs <= 0 {
		p.maxAttrs = DefaultMaxAttrs
	}
	if len(opts.Prefixes) > 0 {
		p.keys = make(map[string]string, len(opts.Prefixes))
		for prefix, uri := range opts.Prefixes {
			p.keys[uri] = prefix
		}
	}
	return p
}

// key names an element or attribute with namespace uri and local name.
func (p *parser) key(uri, local string) string {
	if uri == "" {
		return local
	}
	if prefix, ok := p.keys[uri]; ok {
		return prefix + ":" + local
	}
	if p.expanded {
		return "{" + uri + "}" + local
	}
	return local
}

// run holds the state of one parse.
type run struct {
	*parser
	data   []byte
	dec    *stdxml.Decoder
	stack  []frame
	ns     []binding
	root   *doc.Object
	rootNS string
}

// parse returns the tree and the namespace URI of the root element.
func (p *parser) parse(data []byte) (*doc.Object, string, error) {
	if int64(len(data)) > p.maxBytes {
		return nil, "", &Error{Kind: ErrLimit, Msg: fmt.Sprintf("document is larger than %d bytes", p.maxBytes)}
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if bytes.HasPrefix(data, []byte{0xfe, 0xff}) || bytes.HasPrefix(data, []byte{0xff, 0xfe}) {
		return nil, "", &Error{Kind: ErrEncoding, Line: 1, Column: 1, Msg: "UTF-16 input is not supported; send UTF-8"}
	}
	if !utf8.Valid(data) {
		off := invalidUTF8At(data)
		line, col := position(data, off)
		return nil, "", &Error{Kind: ErrEncoding, Line: line, Column: col, Msg: fmt.Sprintf("invalid UTF-8 at byte offset %d", off)}
	}
	if enc, ok := declaredEncoding(data); ok && !isUTF8Name(enc) {
		return nil, "", &Error{Kind: ErrEncoding, Line: 1, Column: 1, Msg: fmt.Sprintf("declared encoding %q is not supported; send UTF-8", enc)}
	}
	dec := stdxml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	dec.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		if isUTF8Name(label) {
			return in, nil
		}
		return nil, fmt.Errorf("encoding %q is not supported", label)
	}
	r := &run{parser: p, data: data, dec: dec, stack: make([]frame, 0, 16)}
	if err := r.loop(); err != nil {
		return nil, "", err
	}
	return r.root, r.rootNS, nil
}

func (r *run) errorf(kind error, format string, args ...any) *Error {
	line, col := position(r.data, int(r.dec.InputOffset()))
	return &Error{Kind: kind, Line: line, Column: col, Path: r.path(), Msg: fmt.Sprintf(format, args...)}
}

func (r *run) path() string {
	if len(r.stack) == 0 {
		return ""
	}
	var b strings.Builder
	for _, f := range r.stack {
		b.WriteByte('/')
		b.WriteString(f.key)
	}
	return b.String()
}

func (r *run) loop() error {
	for {
		tok, err := r.dec.RawToken()
		if err == io.EOF {
			if len(r.stack) > 0 {
				return r.errorf(ErrSyntax, "unexpected end of input inside <%s>", rawName(r.stack[len(r.stack)-1].raw))
			}
			if r.root == nil {
				return r.errorf(ErrSyntax, "no root element")
			}
			return nil
		}
		if err != nil {
			kind := ErrSyntax
			var se *stdxml.SyntaxError
			if errors.As(err, &se) {
				return r.errorf(kind, "%s", se.Msg)
			}
			return r.errorf(kind, "%s", strings.TrimPrefix(err.Error(), "xml: "))
		}
		switch t := tok.(type) {
		case stdxml.StartElement:
			if err := r.start(t); err != nil {
				return err
			}
		case stdxml.EndElement:
			if err := r.end(t); err != nil {
				return err
			}
		case stdxml.CharData:
			if len(r.stack) == 0 {
				if len(bytes.TrimSpace(t)) > 0 {
					return r.errorf(ErrSyntax, "text outside the root element")
				}
				continue
			}
			f := &r.stack[len(r.stack)-1]
			f.text = append(f.text, t...)
		case stdxml.Directive:
			return r.errorf(ErrDTD, "<!%s…> found; DTDs and entity declarations are never processed", firstWord(t))
		case stdxml.ProcInst, stdxml.Comment:
		}
	}
}

func (r *run) lookup(prefix string) (string, bool) {
	switch prefix {
	case "":
		for i := len(r.ns) - 1; i >= 0; i-- {
			if r.ns[i].prefix == "" {
				return r.ns[i].uri, true
			}
		}
		return "", true
	case "xml":
		return NamespaceXML, true
	}
	for i := len(r.ns) - 1; i >= 0; i-- {
		if r.ns[i].prefix == prefix {
			return r.ns[i].uri, true
		}
	}
	return "", false
}

func (r *run) start(t stdxml.StartElement) error {
	if r.root != nil {
		return r.errorf(ErrSyntax, "second root element <%s>", rawName(t.Name))
	}
	if len(r.stack) >= r.maxDepth {
		return r.errorf(ErrLimit, "elements nested deeper than %d", r.maxDepth)
	}
	if len(t.Attr) > r.maxAttrs {
		return r.errorf(ErrLimit, "<%s> has %d attributes, more than %d", rawName(t.Name), len(t.Attr), r.maxAttrs)
	}
	mark := len(r.ns)
	for _, a := range t.Attr {
		switch {
		case a.Name.Space == "xmlns":
			if a.Name.Local == "xml" || a.Name.Local == "xmlns" {
				if a.Name.Local == "xmlns" || a.Value != NamespaceXML {
					return r.errorf(ErrNamespace, "prefix %q cannot be redeclared", a.Name.Local)
				}
				continue
			}
			if a.Value == "" {
				return r.errorf(ErrNamespace, "prefix %q is bound to an empty namespace name", a.Name.Local)
			}
			r.ns = append(r.ns, binding{a.Name.Local, a.Value})
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			r.ns = append(r.ns, binding{"", a.Value})
		}
	}
	if strings.Contains(t.Name.Local, ":") {
		return r.errorf(ErrNamespace, "element name %s has more than one colon", rawName(t.Name))
	}
	if t.Name.Space == "xmlns" {
		return r.errorf(ErrNamespace, "element name <%s> uses the reserved prefix xmlns", rawName(t.Name))
	}
	uri, ok := r.lookup(t.Name.Space)
	if !ok {
		return r.errorf(ErrNamespace, "prefix %q of <%s> is not declared", t.Name.Space, rawName(t.Name))
	}
	if len(r.stack) == 0 {
		r.rootNS = uri
	}
	f := frame{raw: t.Name, key: r.key(uri, t.Name.Local), nsMark: mark}
	// Well-formedness: no attribute may appear twice, by qualified name
	// or by expanded name.
	var seen map[string]struct{}
	if len(t.Attr) > 16 {
		seen = make(map[string]struct{}, 2*len(t.Attr))
	}
	for i, a := range t.Attr {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			continue
		}
		if strings.Contains(a.Name.Local, ":") {
			return r.errorf(ErrNamespace, "attribute name %s has more than one colon", rawName(a.Name))
		}
		var auri string
		if a.Name.Space != "" {
			var ok bool
			auri, ok = r.lookup(a.Name.Space)
			if !ok {
				return r.errorf(ErrNamespace, "prefix %q of attribute %s is not declared", a.Name.Space, rawName(a.Name))
			}
		}
		if seen != nil {
			qn, en := rawName(a.Name), auri+" "+a.Name.Local
			if _, dup := seen[qn]; dup {
				return r.errorf(ErrSyntax, "attribute %s appears twice on <%s>", qn, rawName(t.Name))
			}
			if _, dup := seen[en]; dup && auri != "" {
				return r.errorf(ErrNamespace, "two attributes named %s in namespace %s", a.Name.Local, auri)
			}
			seen[qn], seen[en] = struct{}{}, struct{}{}
		} else {
			for _, b := range t.Attr[:i] {
				if b.Name == a.Name {
					return r.errorf(ErrSyntax, "attribute %s appears twice on <%s>", rawName(a.Name), rawName(t.Name))
				}
				if b.Name.Local == a.Name.Local && b.Name.Space != "" && a.Name.Space != "" && b.Name.Space != "xmlns" {
					if buri, _ := r.lookup(b.Name.Space); buri == auri {
						return r.errorf(ErrNamespace, "two attributes named %s in namespace %s", a.Name.Local, auri)
					}
				}
			}
		}
		if auri == NamespaceXSI && a.Name.Local == "nil" && (a.Value == "true" || a.Value == "1") {
			f.nilled = true
		}
		if f.obj == nil {
			f.obj = doc.NewObject(4)
		}
		f.obj.Append("@"+r.key(auri, a.Name.Local), a.Value)
	}
	if len(r.stack) > 0 {
		r.stack[len(r.stack)-1].hasChild = true
	}
	r.stack = append(r.stack, f)
	return nil
}

func (r *run) end(t stdxml.EndElement) error {
	if len(r.stack) == 0 {
		return r.errorf(ErrSyntax, "unexpected end tag </%s>", rawName(t.Name))
	}
	f := &r.stack[len(r.stack)-1]
	if f.raw != t.Name {
		return r.errorf(ErrSyntax, "element <%s> closed by </%s>", rawName(f.raw), rawName(t.Name))
	}
	var v any
	switch {
	case f.obj == nil && !f.hasChild:
		if f.nilled && len(f.text) == 0 {
			v = nil
		} else {
			v = string(f.text)
		}
	case f.nilled && !f.hasChild && len(f.text) == 0 && f.obj.Len() == 1:
		v = nil
	default:
		if f.obj == nil {
			f.obj = doc.NewObject(4)
		}
		if len(f.text) > 0 && !(f.hasChild && isSpace(f.text)) {
			f.obj.Set("#text", string(f.text))
		}
		v = f.obj
	}
	key := f.key
	r.ns = r.ns[:f.nsMark]
	r.stack = r.stack[:len(r.stack)-1]
	if len(r.stack) == 0 {
		r.root = doc.NewObject(1)
		r.root.Set(key, v)
		return nil
	}
	parent := &r.stack[len(r.stack)-1]
	if parent.obj == nil {
		parent.obj = doc.NewObject(4)
	}
	parent.obj.Append(key, v)
	return nil
}

func rawName(n stdxml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

func firstWord(b []byte) string {
	s := string(b)
	if i := strings.IndexAny(s, " \t\r\n["); i >= 0 {
		s = s[:i]
	}
	if len(s) > 20 {
		s = s[:20]
	}
	return s
}

func isSpace(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

func isUTF8Name(label string) bool {
	switch strings.ToLower(label) {
	case "utf-8", "utf8", "us-ascii", "ascii":
		return true
	}
	return false
}

// declaredEncoding returns the encoding named in an XML declaration.
func declaredEncoding(data []byte) (string, bool) {
	if !bytes.HasPrefix(data, []byte("<?xml")) {
		return "", false
	}
	end := bytes.Index(data, []byte("?>"))
	if end < 0 {
		return "", false
	}
	decl := string(data[:end])
	i := strings.Index(decl, "encoding")
	if i < 0 {
		return "", false
	}
	rest := strings.TrimLeft(decl[i+len("encoding"):], " \t\r\n")
	if !strings.HasPrefix(rest, "=") {
		return "", false
	}
	rest = strings.TrimLeft(rest[1:], " \t\r\n")
	if rest == "" || (rest[0] != '"' && rest[0] != '\'') {
		return "", false
	}
	q := rest[0]
	j := strings.IndexByte(rest[1:], q)
	if j < 0 {
		return "", false
	}
	return rest[1 : 1+j], true
}

func invalidUTF8At(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(data)
}

// position turns a byte offset into a 1-based line and column (in characters).
func position(data []byte, off int) (line, col int) {
	if off > len(data) {
		off = len(data)
	}
	if off < 0 {
		off = 0
	}
	line = 1 + bytes.Count(data[:off], []byte{'\n'})
	start := bytes.LastIndexByte(data[:off], '\n') + 1
	col = 1 + utf8.RuneCount(data[start:off])
	return line, col
}
