package mappings

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/carrierhub/hub/mappings/doc"
	"github.com/tidwall/gjson"
)

// fail builds a runtime error at n; v, when it came from the input, names the
// path, and otherwise the input that n computes from does.
func (e *env) fail(n node, v Value, format string, args ...any) error {
	path := e.pathOf(v)
	if path == "" {
		path = e.pathFor(n, 0)
	}
	return &RuntimeError{File: e.p.file, Pos: n.at(), Path: path, Msg: fmt.Sprintf(format, args...)}
}

// pathFor finds the input path an expression computes from: the first path
// among its operands, or the receiver of a call. Mappings are pure, so
// evaluating the operand again is safe; this runs only on the error path.
func (e *env) pathFor(n node, depth int) string {
	if depth > 20 {
		return ""
	}
	switch n := unmemo(n).(type) {
	case *pathNode, *varNode, *rootNode:
		v, err := e.eval(n)
		if err != nil {
			return ""
		}
		if v.k == kMissing {
			return e.missingPath(n)
		}
		if p := e.pathOf(v); p != "" || e.input != "" {
			return p
		}
		// A scalar of a document tree has no identity to find: name it by
		// the path of the object it was picked from.
		if pn, ok := n.(*pathNode); ok {
			if base, err := e.eval(pn.base); err == nil {
				switch bp := e.pathOf(base); bp {
				case "":
				case "(the document)":
					return strings.TrimPrefix(segsText(pn.segs), ".")
				default:
					return bp + segsText(pn.segs)
				}
			}
		}
		return ""
	case *callNode:
		if len(n.args) > 0 {
			return e.pathFor(n.args[0], depth+1)
		}
	case *binNode:
		if p := e.pathFor(n.l, depth+1); p != "" {
			return p
		}
		return e.pathFor(n.r, depth+1)
	case *unNode:
		return e.pathFor(n.x, depth+1)
	}
	return ""
}

// pathOf names where v sits in the input JSON, or "" when it is not from there.
func (e *env) pathOf(v Value) string {
	if v.k == kDoc && e.input == "" && e.root.k == kDoc {
		return docPathOf(e.root.a, v.a)
	}
	if v.src == 0 || e.input == "" {
		return ""
	}
	return pathAt(e.input, v.src-1)
}

// docPathOf finds a document-tree object or list inside root by identity and
// returns its path ("ShipmentData.Shipment[1].Scans"); "(the document)" for
// root itself, "" when it is not in the tree. It walks the tree, so it runs
// only on the error path.
func docPathOf(root, target any) string {
	same := func(a, b any) bool {
		switch x := a.(type) {
		case *doc.Object:
			y, ok := b.(*doc.Object)
			return ok && x == y
		case []any:
			y, ok := b.([]any)
			return ok && len(x) > 0 && len(y) > 0 && &x[0] == &y[0] && len(x) == len(y)
		}
		return false
	}
	if same(root, target) {
		return "(the document)"
	}
	var b strings.Builder
	var walk func(v any, depth int) bool
	walk = func(v any, depth int) bool {
		if depth > 1000 {
			return false
		}
		mark := b.Len()
		switch x := v.(type) {
		case *doc.Object:
			for i := 0; i < x.Len(); i++ {
				k, child := x.At(i)
				if isPlainName(k) {
					if b.Len() > 0 {
						b.WriteByte('.')
					}
					b.WriteString(k)
				} else {
					b.WriteString("[" + strconv.Quote(k) + "]")
				}
				if same(child, target) || walk(child, depth+1) {
					return true
				}
				trim(&b, mark)
			}
		case []any:
			for i, child := range x {
				b.WriteString("[" + strconv.Itoa(i) + "]")
				if same(child, target) || walk(child, depth+1) {
					return true
				}
				trim(&b, mark)
			}
		}
		return false
	}
	if walk(root, 0) {
		return b.String()
	}
	return ""
}

// trim cuts b back to n bytes.
func trim(b *strings.Builder, n int) {
	s := b.String()[:n]
	b.Reset()
	b.WriteString(s)
}

// pathAt returns the path of the value starting at byte off of js.
func pathAt(js string, off int) string {
	var b strings.Builder
	cur := gjson.Parse(js)
	for cur.Index != off && cur.Type == gjson.JSON {
		found := false
		isObj := cur.IsObject()
		i := 0
		cur.ForEach(func(k, v gjson.Result) bool {
			if off >= v.Index && off < v.Index+len(v.Raw) {
				if isObj {
					if isPlainName(k.Str) {
						if b.Len() > 0 {
							b.WriteByte('.')
						}
						b.WriteString(k.Str)
					} else {
						b.WriteString("[" + strconv.Quote(k.Str) + "]")
					}
				} else {
					b.WriteString("[" + strconv.Itoa(i) + "]")
				}
				cur = v
				found = true
				return false
			}
			i++
			return true
		})
		if !found {
			break
		}
	}
	if b.Len() == 0 {
		return "(the document)"
	}
	return b.String()
}

func isPlainName(s string) bool {
	if s == "" || !isIdentStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isIdentChar(s[i]) {
			return false
		}
	}
	return true
}

// missingPath describes the input path a path expression looked for and did
// not find: the path of the deepest value that exists, then the rest.
func (e *env) missingPath(n node) string {
	pn, ok := unmemo(n).(*pathNode)
	if !ok {
		return ""
	}
	base, err := e.eval(pn.base)
	if err != nil || base.k == kMissing {
		return pn.text
	}
	cur := base
	for i, s := range pn.segs {
		next, err := e.step(cur, s)
		if err != nil || next.k == kMissing || next.k == kNull {
			prefix := e.pathOf(cur)
			rest := segsText(pn.segs[i:])
			if prefix == "" || prefix == "(the document)" {
				return strings.TrimPrefix(rest, ".")
			}
			return prefix + rest
		}
		cur = next
	}
	return e.pathOf(cur)
}

func segsText(segs []seg) string {
	var b strings.Builder
	for _, s := range segs {
		switch {
		case s.dyn != nil:
			b.WriteString("[...]")
		case s.isIdx:
			b.WriteString("[" + strconv.Itoa(s.idx) + "]")
		case isPlainName(s.key):
			b.WriteString("." + s.key)
		default:
			b.WriteString("[" + strconv.Quote(s.key) + "]")
		}
	}
	return b.String()
}

func (e *env) step(cur Value, s seg) (Value, error) {
	switch {
	case s.dyn != nil:
		k, err := e.eval(s.dyn)
		if err != nil {
			return missing, err
		}
		switch k.k {
		case kNum:
			return index(cur, int(k.n)), nil
		case kStr:
			return e.field(cur, k.s, gjson.Escape(k.s)), nil
		case kMissing, kNull:
			return missing, nil
		}
		return missing, e.fail(s.dyn, k, "an index is a number or a field name, not %s", typeName(k))
	case s.isIdx:
		return index(cur, s.idx), nil
	}
	return e.field(cur, s.key, s.gkey), nil
}

func (e *env) tooLarge(n node) error {
	return &RuntimeError{File: e.p.file, Pos: n.at(), Msg: fmt.Sprintf("output larger than the %d-byte limit", e.p.limits.MaxOutputBytes)}
}

func (e *env) tooLong(n node) error {
	return &RuntimeError{File: e.p.file, Pos: n.at(), Msg: fmt.Sprintf("mapping took more than %d steps on this document", e.p.limits.MaxSteps)}
}

// bigObject is the size from which an input object gets an index of its keys
// on first access: gjson rescans an object from its start for every lookup,
// which costs most on the large objects a mapping reads many fields of.
const bigObject = 384

// objIndex lists an input object's members in order.
type objIndex struct {
	keys  []string
	vals  []gjson.Result
	built bool
}

// useIndex reports whether lookups in v should go through an index of its
// keys: v is a large input object read before in this document. The first
// read only marks it, so an object read once (the root, usually) is never
// scanned whole.
func (e *env) useIndex(v Value) bool {
	if v.k != kJSON || v.src == 0 || len(v.s) <= bigObject || v.s[0] != '{' {
		return false
	}
	if _, ok := e.index[v.src]; ok {
		return true
	}
	var ix *objIndex
	if len(e.spare) > 0 {
		ix = e.spare[len(e.spare)-1]
		e.spare = e.spare[:len(e.spare)-1]
	} else {
		ix = &objIndex{}
	}
	if e.index == nil {
		e.index = map[int]*objIndex{}
	}
	e.index[v.src] = ix
	return false
}

// field returns v's member key, through the per-document index for large
// input objects read more than once.
func (e *env) field(v Value, key, gkey string) Value {
	if !e.useIndex(v) {
		return field(v, key, gkey)
	}
	ix := e.index[v.src]
	if !ix.built {
		v.result().ForEach(func(k, x gjson.Result) bool {
			ix.keys = append(ix.keys, k.Str)
			ix.vals = append(ix.vals, x)
			return true
		})
		ix.built = true
	}
	for i, k := range ix.keys {
		if k == key {
			x := ix.vals[i]
			el := fromResult(x, 0)
			el.src = x.Index + 1
			return el
		}
	}
	return missing
}

// eval computes a node's value.
func (e *env) eval(n node) (Value, error) {
	e.steps++
	if e.steps > e.p.limits.MaxSteps {
		return missing, e.tooLong(n)
	}
	switch n := n.(type) {
	case *litNode:
		return n.v, nil
	case *rootNode:
		return e.root, nil
	case *varNode:
		return e.slots[n.slot], nil
	case *memoNode:
		return e.evalMemo(n)
	case *pathNode:
		cur, err := e.eval(n.base)
		if err != nil {
			return missing, err
		}
		for i := 0; i < len(n.segs); i++ {
			if cur.k == kMissing {
				return missing, nil
			}
			if i < n.nstatic && cur.k == kJSON && !e.useIndex(cur) {
				// A small object: the rest of the static path in one gjson lookup.
				cur = fromResult(gjson.Get(cur.s, n.gpaths[i]), cur.src)
				i = n.nstatic - 1
				continue
			}
			if cur, err = e.step(cur, n.segs[i]); err != nil {
				return missing, err
			}
		}
		return cur, nil
	case *callNode:
		return n.fn.eval(e, n)
	case *binNode:
		return e.binary(n)
	case *unNode:
		x, err := e.eval(n.x)
		if err != nil {
			return missing, err
		}
		if n.op == "!" {
			return boolean(!truthy(x)), nil
		}
		if x.absent() {
			return x, nil
		}
		f, ok := toNumber(x)
		if !ok {
			return missing, e.fail(n, x, "cannot negate %s", typeName(x))
		}
		return num(-f), nil
	case *ifNode:
		c, err := e.eval(n.cond)
		if err != nil {
			return missing, err
		}
		if truthy(c) {
			return e.eval(n.then)
		}
		return e.eval(n.els)
	case *matchNode:
		body, err := e.matchCase(n)
		if err != nil || body == nil {
			return missing, err
		}
		return e.eval(body)
	case *objNode, *arrNode:
		// Build it as JSON text in a side buffer; the value then reads like input.
		saved := e.out
		e.out = nil
		ok, err := e.emit(n)
		b := e.out
		e.out = saved
		if err != nil || !ok {
			return missing, err
		}
		return Value{k: kJSON, s: string(b)}, nil
	}
	return missing, fmt.Errorf("mappings: unknown node %T", n)
}

// matchCase returns the body of the first case that matches, or nil.
func (e *env) matchCase(n *matchNode) (node, error) {
	var subj Value
	if n.subj != nil {
		var err error
		if subj, err = e.eval(n.subj); err != nil {
			return nil, err
		}
	}
	for _, c := range n.cases {
		if c.pats == nil {
			return c.body, nil
		}
		for _, pt := range c.pats {
			if n.subj != nil {
				if equal(subj, pt.(*litNode).v) {
					return c.body, nil
				}
				continue
			}
			v, err := e.eval(pt)
			if err != nil {
				return nil, err
			}
			if truthy(v) {
				return c.body, nil
			}
		}
	}
	return nil, nil
}

func (e *env) binary(n *binNode) (Value, error) {
	l, err := e.eval(n.l)
	if err != nil {
		return missing, err
	}
	switch n.code {
	case opDefault:
		if !l.absent() {
			return l, nil
		}
		return e.eval(n.r)
	case opAnd:
		if !truthy(l) {
			return boolean(false), nil
		}
		r, err := e.eval(n.r)
		return boolean(truthy(r)), err
	case opOr:
		if truthy(l) {
			return boolean(true), nil
		}
		r, err := e.eval(n.r)
		return boolean(truthy(r)), err
	}
	r, err := e.eval(n.r)
	if err != nil {
		return missing, err
	}
	switch n.code {
	case opEq:
		return boolean(equal(l, r)), nil
	case opNe:
		return boolean(!equal(l, r)), nil
	case opLt, opLe, opGt, opGe:
		c, ok := compare(l, r)
		if !ok {
			if l.absent() || r.absent() {
				return boolean(false), nil
			}
			return missing, e.fail(n, l, "cannot compare %s with %s", typeName(l), typeName(r))
		}
		switch n.code {
		case opLt:
			return boolean(c < 0), nil
		case opLe:
			return boolean(c <= 0), nil
		case opGt:
			return boolean(c > 0), nil
		}
		return boolean(c >= 0), nil
	case opAdd:
		if l.k == kStr || r.k == kStr {
			if l.absent() || r.absent() {
				return missing, nil
			}
			ls, ok1 := toString(l)
			rs, ok2 := toString(r)
			if !ok1 || !ok2 {
				return missing, e.fail(n, l, "cannot join %s and %s with +", typeName(l), typeName(r))
			}
			return str(ls + rs), nil
		}
	}
	if l.absent() || r.absent() {
		return missing, nil
	}
	a, ok := toNumber(l)
	if !ok {
		return missing, e.fail(n, l, "%s needs numbers, got %s", n.op, typeName(l))
	}
	b, ok := toNumber(r)
	if !ok {
		return missing, e.fail(n, r, "%s needs numbers, got %s", n.op, typeName(r))
	}
	var f float64
	switch n.code {
	case opAdd:
		f = a + b
	case opSub:
		f = a - b
	case opMul:
		f = a * b
	case opDiv:
		if b == 0 {
			return missing, e.fail(n, r, "division by zero")
		}
		f = a / b
	case opMod:
		if b == 0 {
			return missing, e.fail(n, r, "division by zero")
		}
		f = math.Mod(a, b)
	}
	return num(f), nil
}

// compare orders two numbers or two strings.
func compare(a, b Value) (int, bool) {
	if a.k == kNum && b.k == kNum {
		switch {
		case a.n < b.n:
			return -1, true
		case a.n > b.n:
			return 1, true
		}
		return 0, true
	}
	if a.k == kStr && b.k == kStr {
		return strings.Compare(a.s, b.s), true
	}
	return 0, false
}

// emit writes a node's value to e.out and reports whether it wrote anything
// (a missing value writes nothing). Objects, arrays and map() stream.
func (e *env) emit(n node) (bool, error) {
	if len(e.out)-e.base > e.p.limits.MaxOutputBytes {
		return false, e.tooLarge(n)
	}
	switch n := n.(type) {
	case *objNode:
		e.out = append(e.out, '{')
		first := true
		for i := range n.entries {
			en := &n.entries[i]
			if en.let {
				v, err := e.eval(en.val)
				if err != nil {
					return false, err
				}
				e.bind(en.slot, v)
				continue
			}
			mark := len(e.out)
			if !first {
				e.out = append(e.out, ',')
			}
			e.out = append(e.out, en.keyOut...)
			vstart := len(e.out)
			ok, err := e.emit(en.val)
			if err != nil {
				return false, err
			}
			if ok && en.mode != 0 && isEmptyJSON(e.out[vstart:]) {
				ok = false
			}
			if !ok {
				e.out = e.out[:mark]
				if en.mode == '!' {
					return false, e.required(en)
				}
				continue
			}
			first = false
		}
		e.out = append(e.out, '}')
		return true, nil
	case *arrNode:
		e.out = append(e.out, '[')
		first := true
		for _, x := range n.elems {
			mark := len(e.out)
			if !first {
				e.out = append(e.out, ',')
			}
			ok, err := e.emit(x)
			if err != nil {
				return false, err
			}
			if !ok {
				e.out = e.out[:mark]
				continue
			}
			first = false
		}
		e.out = append(e.out, ']')
		return true, nil
	case *callNode:
		if n.fn.emit != nil {
			return n.fn.emit(e, n)
		}
	case *ifNode:
		c, err := e.eval(n.cond)
		if err != nil {
			return false, err
		}
		if truthy(c) {
			return e.emit(n.then)
		}
		return e.emit(n.els)
	case *matchNode:
		body, err := e.matchCase(n)
		if err != nil || body == nil {
			return false, err
		}
		return e.emit(body)
	}
	v, err := e.eval(n)
	if err != nil {
		return false, err
	}
	if v.k == kMissing {
		return false, nil
	}
	if v.k == kNum && (math.IsNaN(v.n) || math.IsInf(v.n, 0)) && v.raw == "" {
		return false, e.fail(n, v, "number is not finite")
	}
	e.out = appendValue(e.out, v)
	return true, nil
}

func isEmptyJSON(b []byte) bool {
	switch string(b) {
	case "null", `""`, "[]", "{}":
		return true
	}
	return false
}

// required reports a required field whose value is missing or empty.
func (e *env) required(en *objEntry) error {
	where := e.missingPath(en.val)
	msg := fmt.Sprintf("required field %q is missing or empty", en.key)
	if where != "" {
		msg = fmt.Sprintf("required field %q: %s is missing or empty", en.key, where)
	}
	return &RuntimeError{File: e.p.file, Pos: en.p, Msg: msg}
}
