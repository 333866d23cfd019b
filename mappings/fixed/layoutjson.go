package fixed

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// ParseLayout reads a Layout written as JSON, refusing unknown fields, and
// compiles it.
func ParseLayout(data []byte) (*Format, error) {
	var l Layout
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("reading the layout: %w", err)
	}
	return Compile(l)
}
