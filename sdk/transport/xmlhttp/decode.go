package xmlhttp

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// DefaultMaxDepth is how deeply elements may nest in a reply when the client sets
// no MaxDepth. Carrier and ERP replies nest a few dozen levels at most.
const DefaultMaxDepth = 100

// ErrDoctype is returned when a reply carries a DOCTYPE, ENTITY or other markup
// declaration.
var ErrDoctype = errors.New("the reply carries a DOCTYPE or entity declaration, which is refused")

// ErrTooDeep is returned (wrapped) when a reply nests elements deeper than allowed.
var ErrTooDeep = errors.New("the reply nests elements deeper than the limit")

// NewDecoder returns an encoding/xml decoder over r (UTF-8, or an encoding the
// XML declaration names and CharsetReader accepts) that fails with ErrDoctype on
// any DOCTYPE or ENTITY declaration and with ErrTooDeep when elements nest deeper
// than maxDepth (DefaultMaxDepth when maxDepth <= 0). Namespaces are resolved as
// usual.
func NewDecoder(r io.Reader, maxDepth int) *xml.Decoder {
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	raw := xml.NewDecoder(r)
	raw.CharsetReader = charsetReader
	return xml.NewTokenDecoder(&guard{d: raw, max: maxDepth})
}

// Decode decodes an XML document into v through NewDecoder's guards.
func Decode(body []byte, v any, maxDepth int) error {
	if err := checkProlog(body); err != nil {
		return err
	}
	return NewDecoder(bytes.NewReader(body), maxDepth).Decode(v)
}

// guard passes raw tokens through, refusing directives and deep nesting. The
// decoder built on it resolves namespaces and checks that elements match.
type guard struct {
	d     *xml.Decoder
	depth int
	max   int
}

// Token returns the next raw token or a guard error.
func (g *guard) Token() (xml.Token, error) {
	t, err := g.d.RawToken()
	if err != nil {
		return t, err
	}
	switch t.(type) {
	case xml.StartElement:
		g.depth++
		if g.depth > g.max {
			return nil, fmt.Errorf("%w (%d levels)", ErrTooDeep, g.max)
		}
	case xml.EndElement:
		g.depth--
	case xml.Directive:
		// DOCTYPE, ENTITY and every other markup declaration (CDATA sections
		// arrive as CharData, not here).
		return nil, ErrDoctype
	}
	return t, nil
}

// checkProlog refuses a DOCTYPE in the prolog without parsing the document: it
// skips a byte order mark, white space, processing instructions and comments and
// looks at what follows.
func checkProlog(b []byte) error {
	b = bytes.TrimPrefix(b, utf8BOM)
	for {
		b = bytes.TrimLeft(b, " \t\r\n")
		switch {
		case bytes.HasPrefix(b, []byte("<?")):
			i := bytes.Index(b, []byte("?>"))
			if i < 0 {
				return nil
			}
			b = b[i+2:]
		case bytes.HasPrefix(b, []byte("<!--")):
			i := bytes.Index(b[4:], []byte("-->"))
			if i < 0 {
				return nil
			}
			b = b[4+i+3:]
		case bytes.HasPrefix(b, []byte("<!")):
			return ErrDoctype
		default:
			return nil
		}
	}
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// charsetReader accepts the encodings replies are transcoded from before decoding
// (so a declaration still saying UTF-16 is fine) and ISO-8859-1, which maps bytes
// to runes one to one.
func charsetReader(label string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "utf-8", "utf8", "us-ascii", "ascii", "utf-16", "utf-16le", "utf-16be", "unicode":
		return r, nil
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1":
		b, err := io.ReadAll(r)
		if err != nil {
			return nil, err
		}
		return bytes.NewReader(latin1ToUTF8(b)), nil
	}
	return nil, fmt.Errorf("the reply's XML declaration names encoding %q, which is not supported", label)
}

func latin1ToUTF8(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/8)
	for _, c := range b {
		out = utf8.AppendRune(out, rune(c))
	}
	return out
}

// ToUTF8 returns body in UTF-8. It recognises UTF-16 by a byte order mark, by a
// charset parameter in contentType, or by the first character being '<' in
// UTF-16; a UTF-8 byte order mark is dropped. Other bodies are returned as they
// are (an ISO-8859-1 declaration is handled while decoding).
func ToUTF8(body []byte, contentType string) ([]byte, error) {
	switch {
	case bytes.HasPrefix(body, utf8BOM):
		return body[3:], nil
	case bytes.HasPrefix(body, []byte{0xFF, 0xFE}):
		return utf16ToUTF8(body[2:], false)
	case bytes.HasPrefix(body, []byte{0xFE, 0xFF}):
		return utf16ToUTF8(body[2:], true)
	}
	if _, params, err := mime.ParseMediaType(contentType); err == nil {
		switch strings.ToLower(params["charset"]) {
		case "utf-16", "utf-16le", "unicode":
			return utf16ToUTF8(body, len(body) >= 2 && body[0] == 0 && body[1] != 0)
		case "utf-16be":
			return utf16ToUTF8(body, true)
		}
	}
	if len(body) >= 2 {
		switch {
		case body[0] == '<' && body[1] == 0:
			return utf16ToUTF8(body, false)
		case body[0] == 0 && body[1] == '<':
			return utf16ToUTF8(body, true)
		}
	}
	return body, nil
}

func utf16ToUTF8(b []byte, bigEndian bool) ([]byte, error) {
	if len(b)%2 != 0 {
		return nil, errors.New("the reply claims UTF-16 but has an odd number of bytes")
	}
	units := make([]uint16, len(b)/2)
	for i := range units {
		if bigEndian {
			units[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		} else {
			units[i] = uint16(b[2*i+1])<<8 | uint16(b[2*i])
		}
	}
	out := make([]byte, 0, len(units))
	for _, r := range utf16.Decode(units) {
		out = utf8.AppendRune(out, r)
	}
	return out, nil
}

// encodeUTF16LE returns s as UTF-16LE with a byte order mark. A leading XML
// declaration is rewritten to name UTF-16, so the document says what it is.
func encodeUTF16LE(body []byte) []byte {
	body = bytes.TrimPrefix(body, utf8BOM)
	if bytes.HasPrefix(body, []byte("<?xml")) {
		if i := bytes.Index(body, []byte("?>")); i > 0 {
			body = append([]byte(`<?xml version="1.0" encoding="UTF-16"?>`), body[i+2:]...)
		}
	}
	units := utf16.Encode([]rune(string(body)))
	out := make([]byte, 2, 2+2*len(units))
	out[0], out[1] = 0xFF, 0xFE
	for _, u := range units {
		out = append(out, byte(u), byte(u>>8))
	}
	return out
}
