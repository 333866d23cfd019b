package edi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/carrierhub/hub/mappings/doc"
)

// toJSON renders a document tree as indented JSON, keeping key order.
func toJSON(v any) string {
	var b bytes.Buffer
	writeJSON(&b, v, "")
	return b.String()
}

func writeJSON(b *bytes.Buffer, v any, indent string) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case string:
		enc := json.NewEncoder(b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(x)
		b.Truncate(b.Len() - 1) // the encoder's newline
	case *doc.Object:
		if x.Len() == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteString("{\n")
		for i := range x.Len() {
			k, val := x.At(i)
			b.WriteString(indent + "  " + strconv.Quote(k) + ": ")
			writeJSON(b, val, indent+"  ")
			if i < x.Len()-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "}")
	case []any:
		b.WriteString("[\n")
		for i, val := range x {
			b.WriteString(indent + "  ")
			writeJSON(b, val, indent+"  ")
			if i < len(x)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "]")
	default:
		fmt.Fprintf(b, "%v", x)
	}
}

// get walks a dotted path with optional [i] indexes, such as
// "ISA.GS.ST.LX[2].AT7.01".
func get(v any, path string) any {
	for _, part := range splitPath(path) {
		name, idx := part, -1
		if i := bytes.IndexByte([]byte(part), '['); i >= 0 {
			name = part[:i]
			idx, _ = strconv.Atoi(part[i+1 : len(part)-1])
		}
		o, ok := v.(*doc.Object)
		if !ok {
			return nil
		}
		v, _ = o.Get(name)
		if idx >= 0 {
			list, ok := v.([]any)
			if !ok || idx >= len(list) {
				return nil
			}
			v = list[idx]
		}
	}
	return v
}

func splitPath(p string) []string {
	var parts []string
	start := 0
	for i := 0; i < len(p); i++ {
		if p[i] == '.' {
			parts = append(parts, p[start:i])
			start = i + 1
		}
	}
	return append(parts, p[start:])
}

// withoutTrailers returns a copy of a tree without the trailer segments the
// writers generate, so trees read from different bytes compare on content.
func withoutTrailers(v any) any {
	switch x := v.(type) {
	case *doc.Object:
		c := doc.NewObject(x.Len())
		for i := range x.Len() {
			k, val := x.At(i)
			switch k {
			case "SE", "GE", "IEA", "UNT", "UNE", "UNZ":
				continue
			}
			c.Set(k, withoutTrailers(val))
		}
		return c
	case []any:
		c := make([]any, len(x))
		for i, val := range x {
			c[i] = withoutTrailers(val)
		}
		return c
	}
	return v
}
