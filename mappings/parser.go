package mappings

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// The syntax tree. Every node is resolved while it is parsed: variables become
// slots, function names become builtins, constant arguments are checked, so a
// parsed tree is a compiled program.

type node interface{ at() Pos }

// litNode is a constant.
type litNode struct {
	p Pos
	v Value
}

// rootNode is the input document (the name input).
type rootNode struct{ p Pos }

// varNode reads a let binding or a lambda parameter.
type varNode struct {
	p    Pos
	name string
	slot int
}

// seg is one step of a path: a field name, a constant index, or a computed key.
type seg struct {
	key   string
	idx   int
	isIdx bool
	dyn   node
	gkey  string // key escaped for gjson
}

// pathNode walks segs from base. gpath is the gjson path of the leading static
// segments (nstatic of them), so JSON input takes them in one lookup.
type pathNode struct {
	p       Pos
	base    node
	segs    []seg
	gpath   string
	gpaths  []string // gpaths[i] is the gjson path of segs[i:nstatic]
	nstatic int
	text    string
}

// lambda is a one-parameter function argument: x -> body.
type lambda struct {
	param string
	slot  int
	body  node
}

// callNode calls a builtin.
type callNode struct {
	p    Pos
	fn   *builtin
	args []node
	lam  *lambda
	aux  any // what the builtin's check prepared from constant arguments
}

type binNode struct {
	p    Pos
	op   string
	code binOp // op, decoded once
	l, r node
}

// binOp is a binary operator.
type binOp uint8

const (
	opDefault binOp = iota // ??
	opAnd
	opOr
	opEq
	opNe
	opLt
	opLe
	opGt
	opGe
	opAdd
	opSub
	opMul
	opDiv
	opMod
)

var binOps = map[string]binOp{
	"??": opDefault, "&&": opAnd, "||": opOr, "==": opEq, "!=": opNe, "<": opLt, "<=": opLe,
	">": opGt, ">=": opGe, "+": opAdd, "-": opSub, "*": opMul, "/": opDiv, "%": opMod,
}

type unNode struct {
	p  Pos
	op string
	x  node
}

type ifNode struct {
	p               Pos
	cond, then, els node
}

type matchCase struct {
	pats []node // nil for the default case _
	body node
}

// matchNode is match subject { pattern => value, ... }, or, with no subject,
// match { condition => value, ... }.
type matchNode struct {
	p     Pos
	subj  node
	cases []matchCase
}

// objEntry is a key: value pair or a let binding inside an object.
type objEntry struct {
	p      Pos
	key    string
	keyOut []byte // the encoded "key":
	mode   byte   // 0, '?' (omit when empty) or '!' (required)
	val    node
	let    bool
	slot   int
}

type objNode struct {
	p       Pos
	entries []objEntry
}

type arrNode struct {
	p     Pos
	elems []node
}

func (n *litNode) at() Pos   { return n.p }
func (n *rootNode) at() Pos  { return n.p }
func (n *varNode) at() Pos   { return n.p }
func (n *pathNode) at() Pos  { return n.p }
func (n *callNode) at() Pos  { return n.p }
func (n *binNode) at() Pos   { return n.p }
func (n *unNode) at() Pos    { return n.p }
func (n *ifNode) at() Pos    { return n.p }
func (n *matchNode) at() Pos { return n.p }
func (n *objNode) at() Pos   { return n.p }
func (n *arrNode) at() Pos   { return n.p }

// maxNesting bounds how deeply expressions may nest in a mapping file.
const maxNesting = 100

type parser struct {
	file   string
	toks   []token
	i      int
	scopes []map[string]int
	nslots int
	depth  int
	prog   *Program
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

// newLine reports whether the next token begins a line the previous one did
// not: a [ there opens a list (after a let), it does not index.
func (p *parser) newLine() bool {
	return p.i > 0 && p.toks[p.i].pos.Line > p.toks[p.i-1].pos.Line
}

func (p *parser) is(text string) bool {
	t := p.toks[p.i]
	return t.kind == tPunct && t.text == text
}

func (p *parser) isWord(w string) bool {
	t := p.toks[p.i]
	return t.kind == tIdent && t.text == w
}

func (p *parser) errAt(pos Pos, format string, args ...any) error {
	return &CompileError{File: p.file, Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) expect(text string) (token, error) {
	t := p.next()
	if t.kind != tPunct || t.text != text {
		return t, p.errAt(t.pos, "expected %q, found %s", text, describe(t))
	}
	return t, nil
}

func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of file"
	case tString:
		return strconv.Quote(t.text)
	}
	return strconv.Quote(t.text)
}

func (p *parser) bind(name string) int {
	s := p.nslots
	p.nslots++
	p.scopes[len(p.scopes)-1][name] = s
	return s
}

func (p *parser) lookupVar(name string) (int, bool) {
	for i := len(p.scopes) - 1; i >= 0; i-- {
		if s, ok := p.scopes[i][name]; ok {
			return s, true
		}
	}
	return 0, false
}

func (p *parser) push() { p.scopes = append(p.scopes, map[string]int{}) }
func (p *parser) pop()  { p.scopes = p.scopes[:len(p.scopes)-1] }

var keywords = map[string]bool{
	"if": true, "then": true, "else": true, "match": true, "let": true,
	"true": true, "false": true, "null": true, "input": true,
}

// parseExpr parses a full expression.
func (p *parser) parseExpr() (node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxNesting {
		return nil, p.errAt(p.peek().pos, "expression nested more than %d deep", maxNesting)
	}
	if p.isWord("if") {
		t := p.next()
		cond, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		if !p.isWord("then") {
			return nil, p.errAt(p.peek().pos, "expected then after the if condition, found %s", describe(p.peek()))
		}
		p.next()
		then, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		if !p.isWord("else") {
			return nil, p.errAt(p.peek().pos, "expected else: every if needs one (use else null to leave the field out... or a default)")
		}
		p.next()
		els, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		return &ifNode{t.pos, cond, then, els}, nil
	}
	return p.parseBinary(0)
}

var precedence = [][]string{
	{"??"},
	{"||"},
	{"&&"},
	{"==", "!=", "<", "<=", ">", ">="},
	{"+", "-"},
	{"*", "/", "%"},
}

func (p *parser) parseBinary(level int) (node, error) {
	if level == len(precedence) {
		return p.parseUnary()
	}
	l, err := p.parseBinary(level + 1)
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != tPunct || !contains(precedence[level], t.text) {
			return l, nil
		}
		p.next()
		r, err := p.parseBinary(level + 1)
		if err != nil {
			return nil, err
		}
		code, ok := binOps[t.text]
		if !ok {
			return nil, p.errAt(t.pos, "unknown operator %s", t.text)
		}
		l = &binNode{p: t.pos, op: t.text, code: code, l: l, r: r}
		if level == 3 { // comparisons do not chain
			return l, nil
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (p *parser) parseUnary() (node, error) {
	if p.is("!") || p.is("-") {
		t := p.next()
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxNesting {
			return nil, p.errAt(t.pos, "expression nested more than %d deep", maxNesting)
		}
		x, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		if lit, ok := x.(*litNode); ok && t.text == "-" && lit.v.k == kNum {
			return &litNode{t.pos, num(-lit.v.n)}, nil
		}
		return &unNode{t.pos, t.text, x}, nil
	}
	x, err := p.parsePrimary()
	if err != nil {
		return nil, err
	}
	return p.parsePostfix(x)
}

func (p *parser) parsePostfix(x node) (node, error) {
	for {
		switch {
		case p.is("."):
			dot := p.next()
			t := p.next()
			switch t.kind {
			case tIdent:
				if p.is("(") {
					c, err := p.parseCall(t, x)
					if err != nil {
						return nil, err
					}
					x = c
					continue
				}
				x = appendSeg(x, seg{key: t.text}, "."+t.text, dot.pos)
			case tString:
				x = appendSeg(x, seg{key: t.text}, "."+strconv.Quote(t.text), dot.pos)
			default:
				return nil, p.errAt(t.pos, "malformed path: expected a field name after '.', found %s", describe(t))
			}
		case p.is("[") && !p.newLine():
			open := p.next()
			e, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			if _, err := p.expect("]"); err != nil {
				return nil, err
			}
			s := seg{dyn: e}
			text := "[...]"
			if lit, ok := e.(*litNode); ok {
				switch lit.v.k {
				case kNum:
					if lit.v.n != float64(int(lit.v.n)) {
						return nil, p.errAt(open.pos, "malformed path: index %v is not a whole number", lit.v.n)
					}
					s = seg{idx: int(lit.v.n), isIdx: true}
					text = "[" + strconv.Itoa(s.idx) + "]"
				case kStr:
					s = seg{key: lit.v.s}
					text = "[" + strconv.Quote(lit.v.s) + "]"
				default:
					return nil, p.errAt(open.pos, "malformed path: an index is a number or a field name in quotes")
				}
			}
			x = appendSeg(x, s, text, open.pos)
		default:
			return x, nil
		}
	}
}

// appendSeg extends a path node, or starts one on x.
func appendSeg(x node, s seg, text string, pos Pos) node {
	pn, ok := x.(*pathNode)
	if !ok {
		pn = &pathNode{p: x.at(), base: x, text: nodeText(x)}
	} else {
		cp := *pn
		cp.segs = append([]seg(nil), pn.segs...)
		pn = &cp
	}
	if s.dyn == nil && !s.isIdx {
		s.gkey = gjson.Escape(s.key)
	}
	pn.segs = append(pn.segs, s)
	pn.text += text
	// The leading static segments make one gjson path.
	if pn.nstatic == len(pn.segs)-1 && s.dyn == nil && (!s.isIdx || s.idx >= 0) {
		comp := s.key
		if s.isIdx {
			comp = strconv.Itoa(s.idx)
		} else {
			comp = gjson.Escape(comp)
			if comp == "" || comp[0] >= '0' && comp[0] <= '9' || comp[0] == '#' {
				// gjson would read these as indexes or counts: fall back to
				// one step at a time.
				return pn
			}
		}
		if pn.gpath != "" {
			pn.gpath += "."
		}
		pn.gpath += comp
		pn.nstatic++
		pn.gpaths = append([]string(nil), pn.gpaths...)
		for i := range pn.gpaths {
			pn.gpaths[i] += "." + comp
		}
		pn.gpaths = append(pn.gpaths, comp)
	}
	return pn
}

func nodeText(x node) string {
	switch n := x.(type) {
	case *rootNode:
		return "input"
	case *varNode:
		return n.name
	case *pathNode:
		return n.text
	case *callNode:
		return n.fn.name + "(...)"
	}
	return "(...)"
}

func (p *parser) parsePrimary() (node, error) {
	t := p.next()
	switch t.kind {
	case tNumber:
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, p.errAt(t.pos, "malformed number %s", t.text)
		}
		return &litNode{t.pos, num(f)}, nil
	case tString:
		return &litNode{t.pos, str(t.text)}, nil
	case tIdent:
		switch t.text {
		case "true", "false":
			return &litNode{t.pos, Value{k: kBool, b: t.text == "true"}}, nil
		case "null":
			return &litNode{t.pos, Value{k: kNull}}, nil
		case "input":
			return &rootNode{t.pos}, nil
		case "match":
			return p.parseMatch(t)
		case "then", "else", "let":
			return nil, p.errAt(t.pos, "unexpected %s", t.text)
		}
		if p.is("(") {
			return p.parseCall(t, nil)
		}
		if s, ok := p.lookupVar(t.text); ok {
			return &varNode{t.pos, t.text, s}, nil
		}
		if p.prog.tables[t.text] != nil {
			return nil, p.errAt(t.pos, "%s is a table: read it with lookup(%q, key)", t.text, t.text)
		}
		return nil, p.errAt(t.pos, "unknown name %q: paths start at input, a let name or a lambda parameter", t.text)
	case tPunct:
		switch t.text {
		case "(":
			e, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			_, err = p.expect(")")
			return e, err
		case "{":
			return p.parseObject(t)
		case "[":
			return p.parseArray(t)
		}
	}
	return nil, p.errAt(t.pos, "expected a value, found %s", describe(t))
}

func (p *parser) parseArray(open token) (node, error) {
	a := &arrNode{p: open.pos}
	for !p.is("]") {
		if p.peek().kind == tEOF {
			return nil, p.errAt(open.pos, "array not closed")
		}
		e, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		a.elems = append(a.elems, e)
		if p.is(",") {
			p.next()
		}
	}
	p.next()
	return a, nil
}

func (p *parser) parseObject(open token) (node, error) {
	o := &objNode{p: open.pos}
	p.push()
	defer p.pop()
	seen := map[string]bool{}
	for !p.is("}") {
		t := p.next()
		if t.kind == tEOF {
			return nil, p.errAt(open.pos, "object not closed")
		}
		if t.kind == tIdent && t.text == "let" {
			name := p.next()
			if name.kind != tIdent || keywords[name.text] {
				return nil, p.errAt(name.pos, "expected a name after let, found %s", describe(name))
			}
			if _, err := p.expect("="); err != nil {
				return nil, err
			}
			v, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			o.entries = append(o.entries, objEntry{p: t.pos, key: name.text, let: true, val: v, slot: p.bind(name.text)})
		} else {
			if t.kind != tIdent && t.kind != tString {
				return nil, p.errAt(t.pos, "expected a field name, found %s", describe(t))
			}
			e := objEntry{p: t.pos, key: t.text}
			if p.is("?") || p.is("!") {
				e.mode = p.next().text[0]
			}
			if _, err := p.expect(":"); err != nil {
				return nil, err
			}
			if seen[t.text] {
				return nil, p.errAt(t.pos, "field %q appears twice in this object", t.text)
			}
			seen[t.text] = true
			v, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			e.val = v
			e.keyOut = append(appendString(nil, t.text), ':')
			o.entries = append(o.entries, e)
		}
		if p.is(",") {
			p.next()
		}
	}
	p.next()
	return o, nil
}

func (p *parser) parseMatch(t token) (node, error) {
	m := &matchNode{p: t.pos}
	if !p.is("{") {
		s, err := p.parseBinary(0)
		if err != nil {
			return nil, err
		}
		m.subj = s
	}
	if _, err := p.expect("{"); err != nil {
		return nil, err
	}
	hasDefault := false
	for !p.is("}") {
		if p.peek().kind == tEOF {
			return nil, p.errAt(t.pos, "match not closed")
		}
		var c matchCase
		if p.isWord("_") {
			p.next()
			hasDefault = true
		} else {
			for {
				pt, err := p.parseBinary(0)
				if err != nil {
					return nil, err
				}
				if m.subj != nil {
					if _, ok := pt.(*litNode); !ok {
						return nil, p.errAt(pt.at(), "a match pattern is a constant (a string, number, true, false or null)")
					}
				}
				c.pats = append(c.pats, pt)
				if !p.is("|") {
					break
				}
				p.next()
			}
		}
		if _, err := p.expect("=>"); err != nil {
			return nil, err
		}
		b, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		c.body = b
		m.cases = append(m.cases, c)
		if p.is(",") {
			p.next()
		}
	}
	p.next()
	_ = hasDefault
	return m, nil
}

// parseCall parses name(args). recv, when set, is the value before a method
// call (x.f(a) is f(x, a)).
func (p *parser) parseCall(name token, recv node) (node, error) {
	fn := builtins[name.text]
	if fn == nil {
		return nil, p.errAt(name.pos, "unknown function %s()%s", name.text, suggest(name.text))
	}
	p.next() // (
	c := &callNode{p: name.pos, fn: fn}
	if recv != nil {
		c.args = append(c.args, recv)
	}
	for !p.is(")") {
		if p.peek().kind == tEOF {
			return nil, p.errAt(name.pos, "call of %s() not closed", name.text)
		}
		if p.peek().kind == tIdent && p.toks[p.i+1].kind == tPunct && p.toks[p.i+1].text == "->" {
			if !fn.lambda || c.lam != nil {
				return nil, p.errAt(p.peek().pos, "%s() takes no function argument", name.text)
			}
			param := p.next()
			p.next()
			p.push()
			l := &lambda{param: param.text, slot: p.bind(param.text)}
			body, err := p.parseExpr()
			p.pop()
			if err != nil {
				return nil, err
			}
			l.body = body
			c.lam = l
		} else {
			a, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			c.args = append(c.args, a)
		}
		if p.is(",") {
			p.next()
		} else if !p.is(")") {
			return nil, p.errAt(p.peek().pos, "expected ',' or ')' in the call of %s(), found %s", name.text, describe(p.peek()))
		}
	}
	p.next()
	if fn.lambda && c.lam == nil {
		return nil, p.errAt(name.pos, "%s() needs a function argument, like %s(x -> ...)", name.text, name.text)
	}
	if len(c.args) < fn.min || fn.max >= 0 && len(c.args) > fn.max {
		return nil, p.errAt(name.pos, "%s() takes %s, got %d", name.text, arity(fn, recv != nil), len(c.args))
	}
	if fn.check != nil {
		if err := fn.check(p, c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func arity(fn *builtin, method bool) string {
	min, max := fn.min, fn.max
	what := "value"
	if method {
		what = "value (counting the one before the dot)"
	}
	switch {
	case min == max:
		return fmt.Sprintf("%d %s", min, plural(what, min))
	case max < 0:
		return fmt.Sprintf("at least %d %s", min, plural(what, min))
	}
	return fmt.Sprintf("%d to %d %s", min, max, plural(what, max))
}

func plural(w string, n int) string {
	if n == 1 {
		return w
	}
	if i := strings.IndexByte(w, ' '); i > 0 {
		return w[:i] + "s" + w[i:]
	}
	return w + "s"
}

func suggest(name string) string {
	best, bestD := "", 3
	for k := range builtins {
		if d := editDistance(name, k); d < bestD || d == bestD && k < best {
			best, bestD = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %s()?)", best)
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			c = min(c, prev[j]+1, cur[j-1]+1)
			cur[j] = c
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// constString returns the value of a constant string argument.
func constString(p *parser, c *callNode, i int, what string) (string, error) {
	if i >= len(c.args) {
		return "", nil
	}
	lit, ok := c.args[i].(*litNode)
	if !ok || lit.v.k != kStr {
		return "", p.errAt(c.args[i].at(), "%s() needs %s as a constant string", c.fn.name, what)
	}
	return lit.v.s, nil
}
