package odata

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Version is the OData protocol version a service speaks. It decides literal
// syntax, query options, payload shapes and the update verb.
type Version int

// The OData versions this package speaks.
const (
	// V2 is OData 2.0 (SAP Gateway services such as API_SALES_ORDER_SRV).
	V2 Version = 2
	// V4 is OData 4.0/4.01 (SAP RAP services, Dynamics 365 F&O, Business Central).
	V4 Version = 4
)

// String returns "v2" or "v4".
func (v Version) String() string { return "v" + strconv.Itoa(int(v)) }

func (v Version) valid() bool { return v == V2 || v == V4 }

type kind uint8

const (
	kNone kind = iota
	kNull
	kString
	kInt
	kInt64
	kDecimal
	kDouble
	kBool
	kDateTime
	kDateTimeOffset
	kDate
	kGUID
)

// Value is a typed OData literal used in key predicates and $filter. Build one
// with String, Int, Int64, Decimal, Double, Bool, DateTime, DateTimeOffset, Date,
// GUID or Null; the builder renders it in the syntax of the target version and
// escapes it, so user input inside a Value can never change the shape of a query.
// The zero Value is invalid and reported when the query is built.
type Value struct {
	kind kind
	s    string
	i    int64
	f    float64
	b    bool
	t    time.Time
}

// String returns an Edm.String literal: 'text' with every ' doubled.
func String(s string) Value { return Value{kind: kString, s: s} }

// Int returns an Edm.Int32 literal (plain digits in both versions).
func Int(n int64) Value { return Value{kind: kInt, i: n} }

// Int64 returns an Edm.Int64 literal: 42L in v2, 42 in v4.
func Int64(n int64) Value { return Value{kind: kInt64, i: n} }

// Decimal returns an Edm.Decimal literal from its decimal text ("-12.50"): 12.50M
// in v2, 12.50 in v4. Text that is not a plain decimal number is reported when the
// query is built.
func Decimal(text string) Value { return Value{kind: kDecimal, s: text} }

// Double returns an Edm.Double literal: 1.5d in v2, 1.5 in v4. NaN and infinities
// are reported when the query is built.
func Double(f float64) Value { return Value{kind: kDouble, f: f} }

// Bool returns an Edm.Boolean literal: true or false.
func Bool(b bool) Value { return Value{kind: kBool, b: b} }

// DateTime returns a point in time as v2 Edm.DateTime, datetime'2024-05-01T10:30:00'
// (in UTC, since Edm.DateTime carries no offset), or as a v4 Edm.DateTimeOffset
// in UTC, 2024-05-01T10:30:00Z (v4 has no Edm.DateTime).
func DateTime(t time.Time) Value { return Value{kind: kDateTime, t: t} }

// DateTimeOffset returns an Edm.DateTimeOffset literal in UTC:
// datetimeoffset'2024-05-01T10:30:00Z' in v2, 2024-05-01T10:30:00Z in v4.
func DateTimeOffset(t time.Time) Value { return Value{kind: kDateTimeOffset, t: t} }

// Date returns a calendar date taken from t's year, month and day: v4 Edm.Date
// 2024-05-01, or datetime'2024-05-01T00:00:00' in v2, which has no date type.
func Date(t time.Time) Value { return Value{kind: kDate, t: t} }

// GUID returns an Edm.Guid literal: guid'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx' in
// v2, the bare GUID in v4. Text that is not a GUID is reported when the query is built.
func GUID(s string) Value { return Value{kind: kGUID, s: s} }

// Null returns the null literal.
func Null() Value { return Value{kind: kNull} }

const (
	v2DateTimeLayout = "2006-01-02T15:04:05.9999999"
	offsetLayout     = "2006-01-02T15:04:05.9999999Z07:00"
)

// appendLiteral renders v for version ver.
func (v Value) appendLiteral(b []byte, ver Version) ([]byte, error) {
	switch v.kind {
	case kNull:
		return append(b, "null"...), nil
	case kString:
		if !utf8.ValidString(v.s) {
			return b, fmt.Errorf("string value is not valid UTF-8")
		}
		b = append(b, '\'')
		for i := 0; i < len(v.s); i++ {
			if v.s[i] == '\'' {
				b = append(b, '\'')
			}
			b = append(b, v.s[i])
		}
		return append(b, '\''), nil
	case kInt:
		return strconv.AppendInt(b, v.i, 10), nil
	case kInt64:
		b = strconv.AppendInt(b, v.i, 10)
		if ver == V2 {
			b = append(b, 'L')
		}
		return b, nil
	case kDecimal:
		if !isDecimal(v.s) {
			return b, fmt.Errorf("decimal value %q is not a plain decimal number", clip(v.s))
		}
		b = append(b, v.s...)
		if ver == V2 {
			b = append(b, 'M')
		}
		return b, nil
	case kDouble:
		if math.IsNaN(v.f) || math.IsInf(v.f, 0) {
			return b, fmt.Errorf("double value %v cannot be sent", v.f)
		}
		b = strconv.AppendFloat(b, v.f, 'g', -1, 64)
		if ver == V2 {
			b = append(b, 'd')
		}
		return b, nil
	case kBool:
		return strconv.AppendBool(b, v.b), nil
	case kDateTime:
		if ver == V2 {
			b = append(b, "datetime'"...)
			b = v.t.UTC().AppendFormat(b, v2DateTimeLayout)
			return append(b, '\''), nil
		}
		return v.t.UTC().AppendFormat(b, offsetLayout), nil
	case kDateTimeOffset:
		if ver == V2 {
			b = append(b, "datetimeoffset'"...)
			b = v.t.UTC().AppendFormat(b, offsetLayout)
			return append(b, '\''), nil
		}
		return v.t.UTC().AppendFormat(b, offsetLayout), nil
	case kDate:
		if ver == V2 {
			b = append(b, "datetime'"...)
			b = v.t.AppendFormat(b, "2006-01-02")
			return append(b, "T00:00:00'"...), nil
		}
		return v.t.AppendFormat(b, "2006-01-02"), nil
	case kGUID:
		if !isGUID(v.s) {
			return b, fmt.Errorf("guid value %q is not a GUID", clip(v.s))
		}
		if ver == V2 {
			b = append(b, "guid'"...)
			b = append(b, strings.ToLower(v.s)...)
			return append(b, '\''), nil
		}
		return append(b, strings.ToLower(v.s)...), nil
	}
	return b, fmt.Errorf("value was not built with a constructor such as odata.String")
}

func isDecimal(s string) bool {
	if strings.HasPrefix(s, "-") {
		s = s[1:]
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || !allDigits(intPart) {
		return false
	}
	return !hasDot || (frac != "" && allDigits(frac))
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// clip shortens user input quoted in an error message.
func clip(s string) string {
	if len(s) <= 40 {
		return s
	}
	return s[:40] + "…"
}
