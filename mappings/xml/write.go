package xml

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/carrierhub/hub/mappings/doc"
)

// WriteOptions tune Write and Marshal. The zero value writes compact XML
// without a declaration.
type WriteOptions struct {
	// Prefixes binds prefixes to namespace URIs. Every binding is declared on
	// the root element, in prefix order, so keys "p:local" and "{uri}local"
	// below it can use them.
	Prefixes map[string]string
	// Indent, when not empty, puts each element that holds child elements on
	// lines of its own, indented by this string per level. Elements holding
	// text are never reformatted.
	Indent string
	// Declaration writes <?xml version="1.0" encoding="UTF-8"?> first.
	Declaration bool
	// Nil writes a nil value as an empty element marked xsi:nil="true"
	// (declaring xsi on the root) instead of leaving the element out.
	Nil bool
}

// Marshal writes tree v as an XML document and returns it; see Write.
func Marshal(v any, opts WriteOptions) ([]byte, error) {
	var b bytes.Buffer
	if err := Write(&b, v, opts); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Write writes tree v, a *doc.Object with exactly one key (the root element),
// as an XML document to w. The tree has the shape Read produces: "@name" keys
// are attributes, "#text" is text, other keys are child elements, a []any
// repeats its element, nil leaves its element out (or marks it xsi:nil, see
// WriteOptions.Nil). Scalars are written as text: strings as they are, bools
// as true/false, numbers in their shortest exact form.
func Write(w io.Writer, v any, opts WriteOptions) error {
	root, ok := v.(*doc.Object)
	if !ok || root.Len() != 1 {
		return &Error{Kind: ErrShape, Msg: "the tree must be an object with exactly one key, the root element"}
	}
	wr := &writer{opts: opts, gen: 0}
	bw := bufio.NewWriter(w)
	wr.w = bw
	if opts.Declaration {
		bw.WriteString(`<?xml version="1.0" encoding="UTF-8"?>`)
		if opts.Indent != "" {
			bw.WriteByte('\n')
		}
	}
	// Root declarations, in a stable order.
	prefixes := make([]string, 0, len(opts.Prefixes)+1)
	for p, uri := range opts.Prefixes {
		if err := checkPrefixBinding(p, uri); err != nil {
			return err
		}
		prefixes = append(prefixes, p)
	}
	if opts.Nil {
		if uri, ok := opts.Prefixes["xsi"]; ok && uri != NamespaceXSI {
			return &Error{Kind: ErrNamespace, Msg: "WriteOptions.Nil needs the prefix xsi, which Prefixes binds to another namespace"}
		} else if !ok {
			prefixes = append(prefixes, "xsi")
		}
	}
	sort.Strings(prefixes)
	var rootDecl []binding
	for _, p := range prefixes {
		uri := opts.Prefixes[p]
		if p == "xsi" && uri == "" {
			uri = NamespaceXSI
		}
		rootDecl = append(rootDecl, binding{p, uri})
	}
	key, val := root.At(0)
	switch val.(type) {
	case nil:
		if !opts.Nil {
			return &Error{Kind: ErrShape, Path: "/" + key, Msg: "the root element is nil"}
		}
	case []any:
		return &Error{Kind: ErrShape, Path: "/" + key, Msg: "the root element cannot repeat"}
	}
	if err := wr.element(key, val, rootDecl, "", 0); err != nil {
		return err
	}
	if opts.Indent != "" {
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("xml: writing: %w", err)
	}
	return nil
}

type writer struct {
	w     *bufio.Writer
	opts  WriteOptions
	scope []binding
	gen   int
}

func (wr *writer) shapef(path, format string, args ...any) error {
	return &Error{Kind: ErrShape, Path: path, Msg: fmt.Sprintf(format, args...)}
}

func checkPrefixBinding(p, uri string) error {
	if !isNCName(p) || strings.EqualFold(p, "xmlns") || (p == "xml" && uri != NamespaceXML) {
		return &Error{Kind: ErrNamespace, Msg: fmt.Sprintf("%q cannot be used as a namespace prefix", p)}
	}
	if uri == "" {
		return &Error{Kind: ErrNamespace, Msg: fmt.Sprintf("prefix %q is bound to an empty namespace name", p)}
	}
	return nil
}

func (wr *writer) lookupPrefix(p string) (string, bool) {
	if p == "xml" {
		return NamespaceXML, true
	}
	for i := len(wr.scope) - 1; i >= 0; i-- {
		if wr.scope[i].prefix == p {
			return wr.scope[i].uri, true
		}
	}
	return "", false
}

// prefixFor finds a prefix in scope bound to uri, one that no nearer
// declaration has rebound.
func (wr *writer) prefixFor(uri string) (string, bool) {
	if uri == NamespaceXML {
		return "xml", true
	}
	for i := len(wr.scope) - 1; i >= 0; i-- {
		b := wr.scope[i]
		if b.uri == uri && b.prefix != "" {
			if u, _ := wr.lookupPrefix(b.prefix); u == uri {
				return b.prefix, true
			}
		}
	}
	return "", false
}

// qname resolves a key to the name written, adding a declaration to decl
// when a "{uri}local" key needs a generated prefix.
func (wr *writer) qname(key, path string, attr bool, decl *[]binding) (string, error) {
	if strings.HasPrefix(key, "{") {
		end := strings.LastIndexByte(key, '}')
		if end < 0 {
			return "", wr.shapef(path, "key %q has no closing brace", key)
		}
		uri, local := key[1:end], key[end+1:]
		if !isNCName(local) {
			return "", wr.shapef(path, "%q is not a valid XML name", local)
		}
		if uri == "" {
			if attr {
				return local, nil
			}
			return "", wr.shapef(path, "key %q names the empty namespace; use the bare local name", key)
		}
		if p, ok := wr.prefixFor(uri); ok {
			return p + ":" + local, nil
		}
		for _, b := range *decl {
			if b.uri == uri && b.prefix != "" {
				return b.prefix + ":" + local, nil
			}
		}
		for {
			wr.gen++
			p := "ns" + strconv.Itoa(wr.gen)
			if _, taken := wr.lookupPrefix(p); !taken {
				if _, taken := wr.opts.Prefixes[p]; !taken {
					*decl = append(*decl, binding{p, uri})
					return p + ":" + local, nil
				}
			}
		}
	}
	prefix, local, found := strings.Cut(key, ":")
	if !found {
		if !isNCName(key) {
			return "", wr.shapef(path, "%q is not a valid XML name", key)
		}
		return key, nil
	}
	if !isNCName(prefix) || !isNCName(local) {
		return "", wr.shapef(path, "%q is not a valid qualified XML name", key)
	}
	if _, ok := wr.lookupPrefix(prefix); !ok {
		declared := false
		for _, b := range *decl {
			if b.prefix == prefix {
				declared = true
			}
		}
		if !declared {
			return "", &Error{Kind: ErrNamespace, Path: path, Msg: fmt.Sprintf("prefix %q is not declared; bind it in WriteOptions.Prefixes or with an \"@xmlns:%s\" key", prefix, prefix)}
		}
	}
	return key, nil
}

type attr struct{ name, value string }

func (wr *writer) element(key string, v any, decl []binding, path string, depth int) error {
	path += "/" + key
	if depth > 10000 {
		return wr.shapef(path, "tree nested deeper than 10000 levels")
	}
	switch x := v.(type) {
	case nil:
		if !wr.opts.Nil {
			return nil
		}
	case []any:
		for i, item := range x {
			if _, isList := item.([]any); isList {
				return wr.shapef(fmt.Sprintf("%s[%d]", path, i), "a list inside a list has no XML form")
			}
			if err := wr.element(key, item, decl, path[:len(path)-len(key)-1], depth); err != nil {
				return err
			}
			decl = nil
		}
		return nil
	}
	if strings.HasPrefix(key, "@") || strings.HasPrefix(key, "#") {
		return wr.shapef(path, "%q is not an element name", key)
	}
	mark := len(wr.scope)
	defer func() { wr.scope = wr.scope[:mark] }()

	// Declarations from "@xmlns" keys come before resolving any name.
	obj, _ := v.(*doc.Object)
	if obj != nil {
		for i := 0; i < obj.Len(); i++ {
			k, val := obj.At(i)
			if k != "@xmlns" && !strings.HasPrefix(k, "@xmlns:") {
				continue
			}
			s, ok := val.(string)
			if !ok {
				return wr.shapef(path+"/"+k, "a namespace declaration must be a string")
			}
			p := strings.TrimPrefix(strings.TrimPrefix(k, "@xmlns"), ":")
			if p != "" {
				if err := checkPrefixBinding(p, s); err != nil {
					return err
				}
			}
			dup := false
			for j, b := range decl {
				if b.prefix == p {
					if b.uri != s {
						return &Error{Kind: ErrNamespace, Path: path, Msg: fmt.Sprintf("prefix %q is bound to both %s and %s", p, b.uri, s)}
					}
					decl[j] = b
					dup = true
				}
			}
			if !dup {
				decl = append(decl, binding{p, s})
			}
		}
	}
	wr.scope = append(wr.scope, decl...)
	name, err := wr.qname(key, path, false, &decl)
	if err != nil {
		return err
	}
	var attrs []attr
	var text *string
	var children []int
	switch x := v.(type) {
	case nil:
		attrs = append(attrs, attr{"xsi:nil", "true"})
		if u, ok := wr.lookupPrefix("xsi"); !ok || u != NamespaceXSI {
			decl = append(decl, binding{"xsi", NamespaceXSI})
		}
	case *doc.Object:
		for i := 0; i < x.Len(); i++ {
			k, val := x.At(i)
			switch {
			case k == "@xmlns" || strings.HasPrefix(k, "@xmlns:"):
			case strings.HasPrefix(k, "@"):
				an, err := wr.qname(k[1:], path+"/"+k, true, &decl)
				if err != nil {
					return err
				}
				if val == nil {
					continue
				}
				s, err := scalar(val, path+"/"+k)
				if err != nil {
					return err
				}
				attrs = append(attrs, attr{an, s})
			case k == "#text":
				if val == nil {
					continue
				}
				s, err := scalar(val, path+"/"+k)
				if err != nil {
					return err
				}
				text = &s
			default:
				children = append(children, i)
			}
		}
	default:
		s, err := scalar(v, path)
		if err != nil {
			return err
		}
		text = &s
	}
	wr.scope = append(wr.scope[:mark], decl...)

	w := wr.w
	w.WriteByte('<')
	w.WriteString(name)
	for _, b := range decl {
		w.WriteString(" xmlns")
		if b.prefix != "" {
			w.WriteByte(':')
			w.WriteString(b.prefix)
		}
		w.WriteString(`="`)
		if err := escape(w, b.uri, true); err != nil {
			return wr.shapef(path, "namespace %s", err)
		}
		w.WriteByte('"')
	}
	for _, a := range attrs {
		w.WriteByte(' ')
		w.WriteString(a.name)
		w.WriteString(`="`)
		if err := escape(w, a.value, true); err != nil {
			return wr.shapef(path+"/@"+a.name, "%s", err)
		}
		w.WriteByte('"')
	}
	if (text == nil || *text == "") && len(children) == 0 {
		w.WriteString("/>")
		return nil
	}
	w.WriteByte('>')
	if text != nil {
		if err := escape(w, *text, false); err != nil {
			return wr.shapef(path, "%s", err)
		}
	}
	indent := wr.opts.Indent != "" && text == nil
	for _, i := range children {
		k, val := obj.At(i)
		if indent && !skipped(val, wr.opts.Nil) {
			w.WriteByte('\n')
			for range depth + 1 {
				w.WriteString(wr.opts.Indent)
			}
		}
		if list, ok := val.([]any); ok && indent {
			for j, item := range list {
				if j > 0 && !skipped(item, wr.opts.Nil) {
					w.WriteByte('\n')
					for range depth + 1 {
						w.WriteString(wr.opts.Indent)
					}
				}
				if _, isList := item.([]any); isList {
					return wr.shapef(fmt.Sprintf("%s/%s[%d]", path, k, j), "a list inside a list has no XML form")
				}
				if err := wr.element(k, item, nil, path, depth+1); err != nil {
					return err
				}
			}
			continue
		}
		if err := wr.element(k, val, nil, path, depth+1); err != nil {
			return err
		}
	}
	if indent {
		w.WriteByte('\n')
		for range depth {
			w.WriteString(wr.opts.Indent)
		}
	}
	w.WriteString("</")
	w.WriteString(name)
	w.WriteByte('>')
	return nil
}

// skipped reports whether an element value writes nothing at all.
func skipped(v any, writeNil bool) bool {
	switch x := v.(type) {
	case nil:
		return !writeNil
	case []any:
		for _, item := range x {
			if !skipped(item, writeNil) {
				return false
			}
		}
		return true
	}
	return false
}

func scalar(v any, path string) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "", &Error{Kind: ErrShape, Path: path, Msg: fmt.Sprintf("number %v has no XML form", x)}
		}
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case *doc.Object, []any:
		return "", &Error{Kind: ErrShape, Path: path, Msg: "an object or list cannot be an attribute or text value"}
	}
	return "", &Error{Kind: ErrShape, Path: path, Msg: fmt.Sprintf("%T is not a document value", v)}
}

// escape writes s as character data or, when inAttr, as a double-quoted
// attribute value. It refuses invalid UTF-8 and characters XML 1.0 cannot
// carry.
func escape(w *bufio.Writer, s string, inAttr bool) error {
	last := 0
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			return fmt.Errorf("invalid UTF-8 at byte %d", i)
		}
		var esc string
		switch r {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '\r':
			esc = "&#xD;"
		case '"':
			if inAttr {
				esc = "&quot;"
			}
		case '\n':
			if inAttr {
				esc = "&#xA;"
			}
		case '\t':
			if inAttr {
				esc = "&#x9;"
			}
		default:
			if !xmlChar(r) {
				return fmt.Errorf("character %U cannot appear in XML", r)
			}
		}
		if esc != "" {
			w.WriteString(s[last:i])
			w.WriteString(esc)
			last = i + n
		}
		i += n
	}
	w.WriteString(s[last:])
	return nil
}

func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// isNCName reports whether s is a valid XML name without a colon.
func isNCName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == utf8.RuneError || r == ':' {
			return false
		}
		if r == '_' || unicode.IsLetter(r) {
			continue
		}
		if i == 0 {
			return false
		}
		if r == '-' || r == '.' || unicode.IsDigit(r) || r == 0xB7 || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r) {
			continue
		}
		return false
	}
	return true
}
