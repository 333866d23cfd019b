package mappings

import (
	"fmt"
	"sync"
)

// Reader parses one input format into the document tree a program maps.
type Reader func(data []byte) (any, error)

var (
	readersMu sync.RWMutex
	readers   = map[string]Reader{}
)

// RegisterReader makes Apply read format with r. The readers of the formats in
// mappings/ register themselves when mappings/formats is imported; registering
// a format twice replaces the reader.
func RegisterReader(format string, r Reader) {
	readersMu.Lock()
	defer readersMu.Unlock()
	readers[format] = r
}

// Apply maps one input in the program's declared from format and appends the
// JSON output to dst: JSON is read in place, every other format through its
// registered reader. An input the reader refuses is an *InputError.
func (p *Program) Apply(dst, input []byte) ([]byte, error) {
	if p.from == "json" {
		return p.ApplyJSON(dst, input)
	}
	if len(input) > p.limits.MaxInputBytes {
		return dst, &InputError{Msg: fmt.Sprintf("document of %d bytes is larger than the %d-byte limit", len(input), p.limits.MaxInputBytes)}
	}
	readersMu.RLock()
	r := readers[p.from]
	readersMu.RUnlock()
	if r == nil {
		return dst, fmt.Errorf("mapping %s reads %s, and no reader for %s is registered (import github.com/carrierhub/hub/mappings/formats)", p.name, p.from, p.from)
	}
	tree, err := r(input)
	if err != nil {
		return dst, &InputError{Msg: err.Error()}
	}
	return p.ApplyDoc(dst, tree)
}
