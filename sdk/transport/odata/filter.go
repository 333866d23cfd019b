package odata

import "fmt"

type op uint8

const (
	opNone op = iota
	opEq
	opNe
	opGt
	opGe
	opLt
	opLe
	opAnd
	opOr
	opNot
	opContains
	opStartsWith
	opEndsWith
)

var cmpWords = [...]string{opEq: "eq", opNe: "ne", opGt: "gt", opGe: "ge", opLt: "lt", opLe: "le"}

// Expr is a typed $filter expression. Build one with Eq, Ne, Gt, Ge, Lt, Le,
// Contains, StartsWith, EndsWith and combine with And, Or and Not. Property names
// are checked to be OData identifiers (or paths of them) and values are rendered
// as escaped literals, so no input can inject filter syntax. The zero Expr is
// invalid and reported when the query is built.
type Expr struct {
	op   op
	prop string
	val  Value
	args []Expr
}

// Eq is "prop eq value".
func Eq(prop string, v Value) Expr { return Expr{op: opEq, prop: prop, val: v} }

// Ne is "prop ne value".
func Ne(prop string, v Value) Expr { return Expr{op: opNe, prop: prop, val: v} }

// Gt is "prop gt value".
func Gt(prop string, v Value) Expr { return Expr{op: opGt, prop: prop, val: v} }

// Ge is "prop ge value".
func Ge(prop string, v Value) Expr { return Expr{op: opGe, prop: prop, val: v} }

// Lt is "prop lt value".
func Lt(prop string, v Value) Expr { return Expr{op: opLt, prop: prop, val: v} }

// Le is "prop le value".
func Le(prop string, v Value) Expr { return Expr{op: opLe, prop: prop, val: v} }

// And joins expressions with "and"; one expression is returned as is, and none is
// an error when the query is built.
func And(exprs ...Expr) Expr { return Expr{op: opAnd, args: exprs} }

// Or joins expressions with "or"; one expression is returned as is, and none is an
// error when the query is built.
func Or(exprs ...Expr) Expr { return Expr{op: opOr, args: exprs} }

// Not negates an expression: "not (e)".
func Not(e Expr) Expr { return Expr{op: opNot, args: []Expr{e}} }

// Contains tests that a string property contains text: contains(prop,'text') in
// v4, substringof('text',prop) in v2.
func Contains(prop, text string) Expr { return Expr{op: opContains, prop: prop, val: String(text)} }

// StartsWith tests that a string property starts with text: startswith(prop,'text').
func StartsWith(prop, text string) Expr { return Expr{op: opStartsWith, prop: prop, val: String(text)} }

// EndsWith tests that a string property ends with text: endswith(prop,'text').
func EndsWith(prop, text string) Expr { return Expr{op: opEndsWith, prop: prop, val: String(text)} }

// appendExpr renders e for version v.
func (e Expr) appendExpr(b []byte, v Version) ([]byte, error) {
	var err error
	switch e.op {
	case opEq, opNe, opGt, opGe, opLt, opLe:
		if err := checkPath(e.prop); err != nil {
			return b, err
		}
		b = append(b, e.prop...)
		b = append(b, ' ')
		b = append(b, cmpWords[e.op]...)
		b = append(b, ' ')
		return e.val.appendLiteral(b, v)
	case opAnd, opOr:
		if len(e.args) == 0 {
			if e.op == opAnd {
				return b, fmt.Errorf("and with no operands")
			}
			return b, fmt.Errorf("or with no operands")
		}
		if len(e.args) == 1 {
			return e.args[0].appendExpr(b, v)
		}
		word := " and "
		if e.op == opOr {
			word = " or "
		}
		for i, a := range e.args {
			if i > 0 {
				b = append(b, word...)
			}
			if b, err = a.appendOperand(b, v); err != nil {
				return b, err
			}
		}
		return b, nil
	case opNot:
		b = append(b, "not ("...)
		if b, err = e.args[0].appendExpr(b, v); err != nil {
			return b, err
		}
		return append(b, ')'), nil
	case opContains, opStartsWith, opEndsWith:
		if err := checkPath(e.prop); err != nil {
			return b, err
		}
		if e.op == opContains && v == V2 {
			b = append(b, "substringof("...)
			if b, err = e.val.appendLiteral(b, v); err != nil {
				return b, err
			}
			b = append(b, ',')
			b = append(b, e.prop...)
			return append(b, ')'), nil
		}
		switch e.op {
		case opContains:
			b = append(b, "contains("...)
		case opStartsWith:
			b = append(b, "startswith("...)
		default:
			b = append(b, "endswith("...)
		}
		b = append(b, e.prop...)
		b = append(b, ',')
		if b, err = e.val.appendLiteral(b, v); err != nil {
			return b, err
		}
		return append(b, ')'), nil
	}
	return b, fmt.Errorf("filter expression was not built with a constructor such as odata.Eq")
}

// appendOperand renders an operand of and/or, in parentheses when it is itself an
// and/or of more than one operand, so precedence never depends on the reader.
func (e Expr) appendOperand(b []byte, v Version) ([]byte, error) {
	if (e.op == opAnd || e.op == opOr) && len(e.args) > 1 {
		b = append(b, '(')
		b, err := e.appendExpr(b, v)
		if err != nil {
			return b, err
		}
		return append(b, ')'), nil
	}
	return e.appendExpr(b, v)
}
