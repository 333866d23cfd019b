// Package mappings is the hub's declarative mapping language: it compiles a
// mapping file once into an immutable Program and applies it to many payloads,
// translating between a provider's payloads and the canonical model in both
// directions. JSON input is read in place with gjson and output is written
// straight into a byte buffer; other formats arrive as a mappings/doc tree from
// their readers and go through the same path expressions. README.md describes
// the language.
//
// This package imports nothing of the hub's outside mappings/: connectors and
// the engine import it, never the reverse.
package mappings

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"

	"github.com/tidwall/gjson"
)

// Formats lists the input formats a mapping may declare with from.
var Formats = []string{"json", "xml", "csv", "fixed", "x12", "edifact", "form"}

// Limits bound what one application of a program may consume.
type Limits struct {
	// MaxInputBytes is the largest input document accepted (default 32 MiB).
	MaxInputBytes int
	// MaxDepth is the deepest nesting of arrays and objects accepted in JSON
	// input (default 256).
	MaxDepth int
	// MaxOutputBytes is the largest output one document may produce (default 64 MiB).
	MaxOutputBytes int
	// MaxSteps bounds the evaluation steps for one document (default 10 million),
	// so that nested loops over large lists cannot run away.
	MaxSteps int
}

// DefaultLimits are the limits a program gets unless the compile options say otherwise.
var DefaultLimits = Limits{MaxInputBytes: 32 << 20, MaxDepth: 256, MaxOutputBytes: 64 << 20, MaxSteps: 10_000_000}

func withDefaults(l Limits) Limits {
	if l.MaxInputBytes <= 0 {
		l.MaxInputBytes = DefaultLimits.MaxInputBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxOutputBytes <= 0 {
		l.MaxOutputBytes = DefaultLimits.MaxOutputBytes
	}
	if l.MaxSteps <= 0 {
		l.MaxSteps = DefaultLimits.MaxSteps
	}
	return l
}

// Options configure Compile.
type Options struct {
	// FS resolves the table files a mapping names; nil means the directory of
	// the mapping file for CompileFile and no tables for Compile.
	FS fs.FS
	// Limits replaces DefaultLimits when non-zero.
	Limits Limits
}

// Program is a compiled mapping. It is immutable and safe for concurrent use.
type Program struct {
	name      string
	file      string
	from      string
	to        string
	direction string
	tables    map[string]*table
	lets      []objEntry // top-level let bindings, evaluated per document
	body      node
	nslots    int
	nmemos    int // memoNodes: expressions written more than once
	limits    Limits
	envs      sync.Pool
}

// Name returns the mapping's declared name, or its file name.
func (p *Program) Name() string { return p.name }

// From returns the declared input format (json, xml, csv, ...).
func (p *Program) From() string { return p.from }

// To returns the declared output format.
func (p *Program) To() string { return p.to }

// Direction returns "response" (provider to canonical) or "request" (canonical to provider).
func (p *Program) Direction() string { return p.direction }

// CompileError reports a problem in a mapping file at a position.
type CompileError struct {
	// File is the mapping (or table) file.
	File string
	// Pos is where the problem is.
	Pos Pos
	// Msg names the offending path or function and what is wrong.
	Msg string
}

func (e *CompileError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Pos.Line, e.Pos.Col, e.Msg)
}

// ErrInvalidInput is wrapped by every error about the input document itself
// (malformed, too large, too deep), as opposed to a mapping that does not fit it.
var ErrInvalidInput = errors.New("invalid input")

// InputError reports an input document the program refuses before mapping it.
type InputError struct {
	// Msg says what is wrong with the input.
	Msg string
}

func (e *InputError) Error() string { return "invalid input: " + e.Msg }

// Unwrap makes errors.Is(err, ErrInvalidInput) true.
func (e *InputError) Unwrap() error { return ErrInvalidInput }

// RuntimeError reports a document the mapping could not translate, naming the
// input path involved and the mapping expression that failed.
type RuntimeError struct {
	// File and Pos locate the expression in the mapping file.
	File string
	Pos  Pos
	// Path is the input path involved, such as
	// output.completeTrackResults[0].trackResults[0].scanEvents[2].date.
	Path string
	// Msg says what went wrong.
	Msg string
}

func (e *RuntimeError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Pos.Line, e.Pos.Col, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: input %s: %s", e.File, e.Pos.Line, e.Pos.Col, e.Path, e.Msg)
}

// CompileFile compiles the mapping file at path; table files are read relative
// to its directory unless opts.FS is set.
func CompileFile(path string, opts Options) (*Program, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading mapping: %w", err)
	}
	if opts.FS == nil {
		opts.FS = os.DirFS(filepath.Dir(path))
	}
	return Compile(path, src, opts)
}

// CompileFS compiles the mapping file name inside fsys (an embed.FS, usually);
// its tables are read from the same directory of fsys, unless opts.FS is set.
func CompileFS(fsys fs.FS, name string, opts Options) (*Program, error) {
	src, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("reading mapping: %w", err)
	}
	if opts.FS == nil {
		if opts.FS, err = fs.Sub(fsys, path.Dir(name)); err != nil {
			return nil, fmt.Errorf("reading mapping %s: %w", name, err)
		}
	}
	return Compile(name, src, opts)
}

// Lazy returns a function that compiles the mapping file name inside fsys on
// its first call and returns the same program (or error) on every call: the way
// a connector holds its embedded mappings without doing work at package init.
func Lazy(fsys fs.FS, name string) func() (*Program, error) {
	return sync.OnceValues(func() (*Program, error) { return CompileFS(fsys, name, Options{}) })
}

// Compile compiles a mapping's source; file names it in error messages.
func Compile(file string, src []byte, opts Options) (*Program, error) {
	toks, err := lex(file, string(src))
	if err != nil {
		return nil, err
	}
	prog := &Program{file: file, name: strings.TrimSuffix(filepath.Base(file), filepath.Ext(file)), tables: map[string]*table{}, limits: opts.Limits}
	prog.limits = withDefaults(opts.Limits)
	p := &parser{file: file, toks: toks, prog: prog, scopes: []map[string]int{{}}}
	if err := p.parseHeader(opts.FS); err != nil {
		return nil, err
	}
	if p.peek().kind == tEOF {
		return nil, p.errAt(p.peek().pos, "the mapping has no output expression (write the output after the header, usually an object { ... })")
	}
	body, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errAt(t.pos, "unexpected %s after the output expression (a mapping has one output; is a ',' or an operator missing?)", describe(t))
	}
	prog.body = body
	prog.nslots = p.nslots
	prog.nmemos = shareRepeats(prog)
	return prog, nil
}

// parseHeader reads the declarations before the body: mapping, from, to,
// direction, table and let.
func (p *parser) parseHeader(fsys fs.FS) error {
	prog := p.prog
	for {
		t := p.peek()
		if t.kind != tIdent {
			break
		}
		nt := p.toks[p.i+1]
		if nt.kind == tPunct && (nt.text == "." || nt.text == "(" || nt.text == "[") {
			break // the body starts with an expression
		}
		switch t.text {
		case "mapping":
			p.next()
			n := p.next()
			if n.kind != tIdent && n.kind != tString {
				return p.errAt(n.pos, "expected the mapping's name after mapping")
			}
			name := n.text
			for p.is(".") || p.is("-") {
				name += p.next().text
				part := p.next()
				name += part.text
			}
			prog.name = name
		case "from":
			p.next()
			f := p.next()
			if !contains(Formats, f.text) {
				return p.errAt(f.pos, "unknown input format %q (one of %s)", f.text, strings.Join(Formats, ", "))
			}
			prog.from = f.text
		case "to":
			p.next()
			f := p.next()
			if f.text != "json" {
				if contains(Formats, f.text) {
					return p.errAt(f.pos, "output format %q is not available yet: mappings write json (the writers for other formats take the doc tree)", f.text)
				}
				return p.errAt(f.pos, "unknown output format %q", f.text)
			}
			prog.to = f.text
		case "direction":
			p.next()
			d := p.next()
			if d.text != "response" && d.text != "request" {
				return p.errAt(d.pos, "direction is response (provider to canonical) or request (canonical to provider), not %q", d.text)
			}
			prog.direction = d.text
		case "table":
			p.next()
			n := p.next()
			if n.kind != tIdent || keywords[n.text] {
				return p.errAt(n.pos, "expected the table's name after table")
			}
			if _, err := p.expect("="); err != nil {
				return err
			}
			f := p.next()
			if f.kind != tString {
				return p.errAt(f.pos, "expected the table's file name in quotes")
			}
			if prog.tables[n.text] != nil {
				return p.errAt(n.pos, "table %s is declared twice", n.text)
			}
			tb, err := loadTable(fsys, f.text)
			if err != nil {
				var ce *CompileError
				if errors.As(err, &ce) {
					return err
				}
				return p.errAt(f.pos, "table %s: %v", n.text, err)
			}
			prog.tables[n.text] = tb
		case "let":
			p.next()
			n := p.next()
			if n.kind != tIdent || keywords[n.text] {
				return p.errAt(n.pos, "expected a name after let")
			}
			if _, err := p.expect("="); err != nil {
				return err
			}
			v, err := p.parseExpr()
			if err != nil {
				return err
			}
			prog.lets = append(prog.lets, objEntry{p: t.pos, key: n.text, let: true, val: v, slot: p.bind(n.text)})
		default:
			goto done
		}
	}
done:
	if prog.from == "" {
		return p.errAt(p.peek().pos, "the mapping must declare its input format first, e.g. from json")
	}
	if prog.to == "" {
		prog.to = "json"
	}
	if prog.direction == "" {
		return p.errAt(p.peek().pos, "the mapping must declare its direction: direction response (provider to canonical) or direction request (canonical to provider)")
	}
	return nil
}

// env is the per-application state: variable slots and the output buffer.
type env struct {
	p       *Program
	input   string
	slots   []Value
	boundAt []uint64 // the generation at which each slot was last bound
	gen     uint64   // bindings so far
	memos   []memo   // shared results of repeated expressions, per memoNode id
	out     []byte
	root    Value
	steps   int
	base    int               // len(out) before this document
	index   map[int]*objIndex // large input objects by src
	spare   []*objIndex
}

func (p *Program) getEnv() *env {
	if e, ok := p.envs.Get().(*env); ok {
		return e
	}
	return &env{p: p, slots: make([]Value, p.nslots), boundAt: make([]uint64, p.nslots), memos: make([]memo, p.nmemos)}
}

func (p *Program) putEnv(e *env) {
	clear(e.slots)
	clear(e.memos)
	e.input = ""
	e.out = nil
	e.root = Value{}
	e.steps = 0
	for k, ix := range e.index {
		ix.keys = ix.keys[:0]
		clear(ix.vals)
		ix.vals = ix.vals[:0]
		ix.built = false
		e.spare = append(e.spare, ix)
		delete(e.index, k)
	}
	p.envs.Put(e)
}

// ApplyJSON maps one JSON document and appends the output to dst. The input is
// validated once here (syntax, UTF-8, size and depth); the program then reads
// it in place. input must not change until ApplyJSON returns.
func (p *Program) ApplyJSON(dst, input []byte) ([]byte, error) {
	if err := p.checkJSON(input); err != nil {
		return dst, err
	}
	e := p.getEnv()
	defer p.putEnv(e)
	e.input = unsafe.String(unsafe.SliceData(input), len(input))
	e.out = dst
	r := gjson.Parse(e.input)
	if r.Type == gjson.JSON {
		r.Raw = strings.TrimRight(r.Raw, " \t\r\n") // Parse keeps the trailing space
	}
	root := fromResult(r, 1)
	return p.run(e, root, dst)
}

// ApplyDoc maps one document tree (from a reader in mappings/xml, csv, edi, ...)
// and appends the JSON output to dst. A tree holds only nil, bool, string,
// float64, int64, []any and *doc.Object.
func (p *Program) ApplyDoc(dst []byte, root any) ([]byte, error) {
	e := p.getEnv()
	defer p.putEnv(e)
	e.out = dst
	e.input = ""
	return p.run(e, fromDoc(root), dst)
}

func (p *Program) run(e *env, root Value, dst []byte) ([]byte, error) {
	e.base = len(dst)
	e.slots = e.slots[:p.nslots]
	e.root = root
	for i := range p.lets {
		v, err := e.eval(p.lets[i].val)
		if err != nil {
			return dst, err
		}
		e.bind(p.lets[i].slot, v)
	}
	ok, err := e.emit(p.body)
	if err != nil {
		return dst, err
	}
	if !ok {
		e.out = append(e.out, "null"...)
	}
	if len(e.out)-len(dst) > p.limits.MaxOutputBytes {
		return dst, e.tooLarge(p.body)
	}
	return e.out, nil
}

// checkJSON validates input at the boundary: gjson does not validate.
func (p *Program) checkJSON(input []byte) error {
	if len(input) > p.limits.MaxInputBytes {
		return &InputError{Msg: fmt.Sprintf("document of %d bytes is larger than the %d-byte limit", len(input), p.limits.MaxInputBytes)}
	}
	if bytes.Count(input, []byte{'{'})+bytes.Count(input, []byte{'['}) <= p.limits.MaxDepth {
		// Too few brackets to nest too deep.
	} else if d, at := jsonDepth(input); d > p.limits.MaxDepth {
		return &InputError{Msg: fmt.Sprintf("nesting deeper than %d levels at byte %d", p.limits.MaxDepth, at)}
	}
	if !gjson.ValidBytes(input) {
		return &InputError{Msg: "malformed JSON" + locateJSONError(input)}
	}
	if !utf8.Valid(input) {
		return &InputError{Msg: fmt.Sprintf("invalid UTF-8 at byte %d", invalidUTF8At(input))}
	}
	return nil
}

// jsonDepth returns the maximum nesting of input, stopping early (and reporting
// the offset) once it passes the limit's ballpark, without recursion.
func jsonDepth(b []byte) (int, int) {
	depth, maxd := 0, 0
	inStr := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inStr {
			if c == '\\' {
				i++
			} else if c == '"' {
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '[', '{':
			depth++
			if depth > maxd {
				maxd = depth
				if maxd > 1<<16 {
					return maxd, i
				}
			}
		case ']', '}':
			depth--
		}
	}
	return maxd, len(b)
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

// locateJSONError finds where the JSON goes wrong, using the standard decoder's
// offset, for a readable message.
func syntaxOffset(b []byte) int {
	var se *json.SyntaxError
	if err := json.Unmarshal(b, new(json.RawMessage)); errors.As(err, &se) {
		return int(se.Offset)
	}
	return -1
}

func locateJSONError(b []byte) string {
	if len(bytes.TrimSpace(b)) == 0 {
		return ": empty document"
	}
	off := syntaxOffset(b)
	if off < 0 {
		return ""
	}
	line := 1 + bytes.Count(b[:off], []byte{'\n'})
	return fmt.Sprintf(" near byte %d (line %d)", off, line)
}
