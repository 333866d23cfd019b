// Package doc is the mapping language's document model: the tree that every
// non-JSON reader (XML, CSV, fixed-width, X12, EDIFACT, form-encoded) produces and
// every writer consumes. JSON input does not go through it: the evaluator reads
// JSON in place (gjson), which is what makes JSON mappings fast.
//
// A document is a plain Go value of one of these types, nothing else:
//
//	nil            null (an absent optional element)
//	bool           true or false
//	string         text; textual formats deliver every scalar as a string and the
//	               mapping converts (number(), date()), so "000123.50" keeps its form
//	float64, int64 numbers, from mappings and JSON-minded writers' inputs
//	[]any          an ordered list (repeated XML elements, CSV rows, EDI loops)
//	*Object        an ordered map with unique keys
//
// Readers document how their format maps onto the tree (XML attributes as "@name",
// text as "#text", namespaces; EDI segments, elements and composites); writers
// accept the same shape back. This package imports nothing of the hub's.
package doc

import (
	"bytes"
	"encoding/json"
)

// Object is an ordered map with unique keys. The zero value is empty and ready.
type Object struct {
	keys   []string
	values []any
	index  map[string]int // built once the object grows past a few keys
}

// NewObject returns an empty object with room for n keys.
func NewObject(n int) *Object {
	return &Object{keys: make([]string, 0, n), values: make([]any, 0, n)}
}

const indexAfter = 8

// Len returns the number of keys.
func (o *Object) Len() int { return len(o.keys) }

// Keys returns the keys in order. The slice must not be modified.
func (o *Object) Keys() []string { return o.keys }

// At returns the i-th key and value.
func (o *Object) At(i int) (string, any) { return o.keys[i], o.values[i] }

// Get returns the value of key.
func (o *Object) Get(key string) (any, bool) {
	if i, ok := o.find(key); ok {
		return o.values[i], true
	}
	return nil, false
}

// Set sets key to v, keeping the key's position if it exists, else appending it.
func (o *Object) Set(key string, v any) {
	if i, ok := o.find(key); ok {
		o.values[i] = v
		return
	}
	o.keys = append(o.keys, key)
	o.values = append(o.values, v)
	if o.index != nil {
		o.index[key] = len(o.keys) - 1
	} else if len(o.keys) > indexAfter {
		o.index = make(map[string]int, len(o.keys)*2)
		for i, k := range o.keys {
			o.index[k] = i
		}
	}
}

// Append adds v under key: the first value is stored as is, a second turns the
// entry into a list, later ones extend it. Readers of formats with repeated
// elements (XML, EDI) use it; they never store a list under a key otherwise, so
// a list always means repetition.
func (o *Object) Append(key string, v any) {
	i, ok := o.find(key)
	if !ok {
		o.Set(key, v)
		return
	}
	if list, isList := o.values[i].([]any); isList {
		o.values[i] = append(list, v)
		return
	}
	o.values[i] = []any{o.values[i], v}
}

func (o *Object) find(key string) (int, bool) {
	if o.index != nil {
		i, ok := o.index[key]
		return i, ok
	}
	for i, k := range o.keys {
		if k == key {
			return i, true
		}
	}
	return 0, false
}

// MarshalJSON writes the object as a JSON object with its keys in order, so
// json.Marshal of any document tree gives its JSON form.
func (o *Object) MarshalJSON() ([]byte, error) {
	if o == nil {
		return []byte("null"), nil
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kj, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		vj, err := json.Marshal(o.values[i])
		if err != nil {
			return nil, err
		}
		b.Write(kj)
		b.WriteByte(':')
		b.Write(vj)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
