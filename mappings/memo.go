package mappings

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Mappings are pure: an expression computes the same value from the same
// bindings. A mapping often repeats one (Delhivery's reads a scan's time four
// times and looks its status row up three times), so the compiler finds the
// expressions written more than once and wraps each occurrence in a memoNode
// that shares one result per document. A result stays valid while none of the
// variables it reads has been bound again: every binding takes a new generation
// (env.bind), and a result remembers the generation it was computed at.

// memoNode evaluates x once and reuses its value while the bindings it reads,
// deps, are unchanged.
type memoNode struct {
	id   int
	x    node
	deps []int // the slots x reads that are bound outside x
}

func (n *memoNode) at() Pos { return n.x.at() }

// memo is one memoNode's result in an env.
type memo struct {
	v   Value
	gen uint64 // env.gen when v was computed
	set bool
}

// bind sets a variable's slot, starting a new generation.
func (e *env) bind(slot int, v Value) {
	e.gen++
	e.slots[slot] = v
	e.boundAt[slot] = e.gen
}

// evalMemo returns n's shared value, computing it on first use and whenever a
// binding it reads has changed since.
func (e *env) evalMemo(n *memoNode) (Value, error) {
	m := &e.memos[n.id]
	if m.set {
		fresh := true
		for _, s := range n.deps {
			if e.boundAt[s] > m.gen {
				fresh = false
				break
			}
		}
		if fresh {
			return m.v, nil
		}
	}
	gen := e.gen
	v, err := e.eval(n.x)
	if err != nil {
		return missing, err
	}
	*m = memo{v: v, gen: gen, set: true} // memos is sized once per program: m still points into it
	return v, nil
}

// unmemo returns the expression a memoNode wraps, or n itself.
func unmemo(n node) node {
	if m, ok := n.(*memoNode); ok {
		return m.x
	}
	return n
}

// shareRepeats wraps every occurrence of an expression written more than once
// in the program in a memoNode and returns how many there are.
func shareRepeats(prog *Program) int {
	s := &sharer{keys: map[node]string{}, count: map[string]int{}, free: map[node][]int{}, ids: map[string]int{}}
	for i := range prog.lets {
		s.scan(prog.lets[i].val)
	}
	s.scan(prog.body)
	for i := range prog.lets {
		prog.lets[i].val = s.wrap(prog.lets[i].val)
	}
	prog.body = s.wrap(prog.body)
	return len(s.ids)
}

// sharer finds the repeated expressions of one program.
type sharer struct {
	keys  map[node]string // a structural key per node: equal keys compute equal values
	count map[string]int  // occurrences per key
	free  map[node][]int  // the slots a node reads that it does not bind itself
	ids   map[string]int  // memo id per shared key
}

// scan computes n's key and free slots, counting every subexpression.
func (s *sharer) scan(n node) string {
	if k, ok := s.keys[n]; ok {
		return k
	}
	var b strings.Builder
	var free []int
	use := func(c node) {
		b.WriteString(s.scan(c))
		free = union(free, s.free[c])
	}
	switch n := n.(type) {
	case *litNode:
		v := n.v
		fmt.Fprintf(&b, "L%d:%t:%v:%q:%q", v.k, v.b, v.n, v.s, v.raw)
	case *rootNode:
		b.WriteString("I")
	case *varNode:
		b.WriteString("V" + strconv.Itoa(n.slot))
		free = []int{n.slot}
	case *pathNode:
		b.WriteString("P(")
		use(n.base)
		b.WriteString(")")
		for _, sg := range n.segs {
			switch {
			case sg.dyn != nil:
				b.WriteString("[")
				use(sg.dyn)
				b.WriteString("]")
			case sg.isIdx:
				b.WriteString("#" + strconv.Itoa(sg.idx))
			default:
				b.WriteString("." + strconv.Quote(sg.key))
			}
		}
	case *callNode:
		b.WriteString("C" + n.fn.name + "(")
		for _, a := range n.args {
			use(a)
			b.WriteString(",")
		}
		if n.lam != nil {
			b.WriteString("λ" + strconv.Itoa(n.lam.slot) + ":")
			use(n.lam.body)
			free = without(free, n.lam.slot)
		}
		b.WriteString(")")
	case *binNode:
		b.WriteString("B" + n.op + "(")
		use(n.l)
		b.WriteString(",")
		use(n.r)
		b.WriteString(")")
	case *unNode:
		b.WriteString("U" + n.op + "(")
		use(n.x)
		b.WriteString(")")
	default:
		// Objects, lists, conditionals and matches are not shared: they
		// stream into the output, and each gets a key of its own.
		fmt.Fprintf(&b, "N%p", n)
		s.scanChildren(n)
	}
	k := b.String()
	s.keys[n] = k
	s.free[n] = free
	s.count[k]++
	return k
}

// scanChildren scans the parts of a node that is not shared itself.
func (s *sharer) scanChildren(n node) {
	switch n := n.(type) {
	case *ifNode:
		s.scan(n.cond)
		s.scan(n.then)
		s.scan(n.els)
	case *matchNode:
		if n.subj != nil {
			s.scan(n.subj)
		}
		for _, c := range n.cases {
			for _, pt := range c.pats {
				s.scan(pt)
			}
			s.scan(c.body)
		}
	case *objNode:
		for i := range n.entries {
			s.scan(n.entries[i].val)
		}
	case *arrNode:
		for _, x := range n.elems {
			s.scan(x)
		}
	}
}

// shareable reports whether n may be wrapped: a computation whose value is
// all there is to it (calls that stream their result stay as they are).
func shareable(n node) bool {
	switch n := n.(type) {
	case *pathNode, *binNode, *unNode:
		return true
	case *callNode:
		return n.fn.emit == nil && n.fn.iter == nil
	}
	return false
}

// wrap rewrites n's subexpressions, then n itself when it is repeated.
func (s *sharer) wrap(n node) node {
	switch n := n.(type) {
	case *pathNode:
		n.base = s.wrap(n.base)
		for i := range n.segs {
			if n.segs[i].dyn != nil {
				n.segs[i].dyn = s.wrap(n.segs[i].dyn)
			}
		}
	case *callNode:
		for i, a := range n.args {
			if _, lit := a.(*litNode); !lit {
				n.args[i] = s.wrap(a)
			}
		}
		if n.lam != nil {
			n.lam.body = s.wrap(n.lam.body)
		}
	case *binNode:
		n.l, n.r = s.wrap(n.l), s.wrap(n.r)
	case *unNode:
		n.x = s.wrap(n.x)
	case *ifNode:
		n.cond, n.then, n.els = s.wrap(n.cond), s.wrap(n.then), s.wrap(n.els)
	case *matchNode:
		if n.subj != nil {
			n.subj = s.wrap(n.subj)
		}
		for i := range n.cases {
			c := &n.cases[i]
			if n.subj == nil {
				for j := range c.pats {
					c.pats[j] = s.wrap(c.pats[j])
				}
			}
			c.body = s.wrap(c.body)
		}
	case *objNode:
		for i := range n.entries {
			n.entries[i].val = s.wrap(n.entries[i].val)
		}
	case *arrNode:
		for i := range n.elems {
			n.elems[i] = s.wrap(n.elems[i])
		}
	}
	k := s.keys[n]
	if s.count[k] < 2 || !shareable(n) {
		return n
	}
	id, ok := s.ids[k]
	if !ok {
		id = len(s.ids)
		s.ids[k] = id
	}
	return &memoNode{id: id, x: n, deps: s.free[n]}
}

// union returns a with b's elements added.
func union(a, b []int) []int {
	for _, x := range b {
		if !slices.Contains(a, x) {
			a = append(a, x)
		}
	}
	return a
}

// without returns a with x removed.
func without(a []int, x int) []int {
	out := a[:0:0]
	for _, y := range a {
		if y != x {
			out = append(out, y)
		}
	}
	return out
}
