package mappings

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/carrierhub/hub/mappings/doc"
	"github.com/tidwall/gjson"
)

// groupByInput is a JSON document of n items over n/4 distinct keys, each key
// coming back every n/4 items, the shape of a status file with four events a
// shipment.
func groupByInput(n int) []byte {
	keys := max(n/4, 1)
	b := []byte(`{"items":[`)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `{"k":"S%07d","v":%d}`, i%keys, i)
	}
	return append(b, "]}"...)
}

// BenchmarkGroupBy groups 1,000, 10,000 and 100,000 items over a quarter as
// many keys. ns/item stays flat when group_by is linear.
func BenchmarkGroupBy(b *testing.B) {
	p, err := Compile("g.mapping", []byte(hdr+`input.items.group_by(i -> i.k).map(g -> {key: g.key, n: g.items.length()})`), Options{FS: testFS})
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1_000, 10_000, 100_000} {
		in := groupByInput(n)
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			var out []byte
			for b.Loop() {
				if out, err = p.ApplyJSON(out[:0], in); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/item")
		})
	}
}

// TestGroupByEqualKeys checks that keys equal under == share a group and keys
// that are not stay apart, with groups in order of first appearance and items
// in input order.
func TestGroupByEqualKeys(t *testing.T) {
	in := `{"items":[
		{"k":1,"v":"a"},{"k":"1","v":"b"},{"k":1.0,"v":"c"},{"v":"d"},{"k":null,"v":"e"},
		{"k":true,"v":"f"},{"k":"true","v":"g"},{"k":{"a":1},"v":"h"},{"k":{ "a" : 1 },"v":"i"},
		{"k":"\u0061","v":"j"},{"k":"a","v":"k"},{"k":-0,"v":"l"},{"k":0,"v":"m"},{"k":1e0,"v":"n"},
		{"k":[1,2],"v":"o"},{"k":{"a":1.0},"v":"p"},{"k":false,"v":"q"},{"k":"","v":"r"},{"k":[1, 2],"v":"s"}]}`
	cases := []struct{ name, expr, want string }{
		{"json keys", `input.items.group_by(i -> i.k).map(g -> {key: g.key, v: g.items.map(i -> i.v).join("")})`,
			`[{"key":1,"v":"acn"},{"key":"1","v":"b"},{"key":null,"v":"de"},{"key":true,"v":"f"},` +
				`{"key":"true","v":"g"},{"key":{"a":1},"v":"hi"},{"key":"\u0061","v":"jk"},{"key":-0,"v":"lm"},` +
				`{"key":[1,2],"v":"os"},{"key":{"a":1.0},"v":"p"},{"key":false,"v":"q"},{"key":"","v":"r"}]`},
		// A computed list equals the same list read from the input.
		{"computed list", `input.items.filter(i -> i.v == "o" || i.v == "a").group_by(i -> if i.v == "a" then [i.k, 2] else i.k).map(g -> g.items.length())`,
			`[2]`},
		// A computed number equals the same number read as text.
		{"computed number", `input.items.group_by(i -> if i.v == "b" then i.k.number() else i.k).map(g -> g.items.map(i -> i.v).join("")).first()`,
			`"abcn"`},
		// Whole items as keys: only identical text groups.
		{"object keys", `[{a: 1}, {a: 1}, {a: 2}].group_by(x -> x).map(g -> g.items.length())`, `[2,1]`},
		// NaN equals nothing, not even NaN: each one is a group.
		{"NaN", `["NaN", "NaN", "1", "1.0"].group_by(x -> x.number()).map(g -> g.items.length())`, `[1,1,2]`},
		{"empty list", `[].group_by(x -> x)`, `[]`},
		{"missing list", `{a?: input.nope.group_by(x -> x)}`, `{}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := apply(t, compile(t, hdr+c.expr), in)
			if got != c.want {
				t.Errorf("%s\n got %s\nwant %s", c.expr, got, c.want)
			}
		})
	}
}

// refGroups is the quadratic reference for group_by: each key is compared
// with the first key of every group so far. It returns each key's group
// number.
func refGroups(keys []Value) []int {
	var firsts []Value
	out := make([]int, len(keys))
	for i, k := range keys {
		out[i] = -1
		for g, f := range firsts {
			if equal(f, k) {
				out[i] = g
				break
			}
		}
		if out[i] < 0 {
			out[i] = len(firsts)
			firsts = append(firsts, k)
		}
	}
	return out
}

// refGroupBy is the quadratic reference for the whole of group_by on items
// and their keys, written the way the language writes its result.
func refGroupBy(items, keys []Value) string {
	slot := refGroups(keys)
	n := 0
	for _, g := range slot {
		n = max(n, g+1)
	}
	var b strings.Builder
	b.WriteByte('[')
	for g := range n {
		if g > 0 {
			b.WriteByte(',')
		}
		var members []Value
		var key Value
		for i, s := range slot {
			if s == g {
				if members == nil {
					key = keys[i]
				}
				members = append(members, items[i])
			}
		}
		b.WriteString(`{"key":`)
		if key.absent() {
			b.WriteString("null")
		} else {
			b.Write(appendValue(nil, key))
		}
		b.WriteString(`,"items":`)
		b.Write(appendValue(nil, Value{k: kArr, a: members}))
		b.WriteByte('}')
	}
	b.WriteByte(']')
	return b.String()
}

// randKey returns a value of any kind drawn from small pools, so that equal
// keys in different forms are frequent.
func randKey(r *rand.Rand, depth int) Value {
	switch r.IntN(9) {
	case 0:
		return missing
	case 1:
		return Value{k: kNull}
	case 2:
		return boolean(r.IntN(2) == 0)
	case 3:
		nums := []Value{num(0), num(math.Copysign(0, -1)), num(1), {k: kNum, n: 1, raw: "1.0"},
			{k: kNum, n: 1, raw: "1e0"}, num(2.5), num(math.NaN()), num(math.Inf(1)), num(-1)}
		return nums[r.IntN(len(nums))]
	case 4:
		strs := []Value{str(""), str("a"), {k: kStr, s: "a", raw: `"\u0061"`}, str("1"), str("true"),
			str("null"), str(`{"a":1}`), str("é")}
		return strs[r.IntN(len(strs))]
	case 5:
		texts := []string{`{"a":1}`, `{ "a" : 1 }`, `{"a":1.0}`, `[1,2]`, `[1, 2]`, `[]`, `{}`, `["a"]`, `[ "a" ]`, `[null]`}
		return Value{k: kJSON, s: texts[r.IntN(len(texts))]}
	case 6:
		if depth > 1 {
			return str("a")
		}
		l := make([]Value, r.IntN(3))
		for i := range l {
			l[i] = randKey(r, depth+1)
		}
		return Value{k: kArr, a: l}
	case 7:
		if depth > 1 {
			return num(1)
		}
		l := make([]any, r.IntN(3))
		pool := []any{1.0, int64(2), 2.5, "a", nil, true}
		for i := range l {
			l[i] = pool[r.IntN(len(pool))]
		}
		return Value{k: kDoc, a: l}
	default:
		o := doc.NewObject(1)
		o.Set("a", []any{1.0, int64(1), "1"}[r.IntN(3)])
		return Value{k: kDoc, a: o}
	}
}

// TestGroupByMatchesQuadraticReference draws random keys of every kind and
// checks that the map finds the same groups as comparing with equal does.
func TestGroupByMatchesQuadraticReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 2000 {
		keys := make([]Value, r.IntN(40))
		for i := range keys {
			keys[i] = randKey(r, 0)
		}
		want := refGroups(keys)
		var gs grouper
		for i, k := range keys {
			if got := gs.add(k); got != want[i] {
				var b strings.Builder
				for _, k := range keys[:i+1] {
					fmt.Fprintf(&b, " %s(%s)", typeName(k), appendValue(nil, k))
				}
				t.Fatalf("round %d: key %d goes to group %d, reference %d; keys:%s", round, i, got, want[i], b.String())
			}
		}
	}
}

// TestGroupByOutputMatchesReference runs group_by through the language on
// random documents and compares the whole result with the quadratic
// reference's.
func TestGroupByOutputMatchesReference(t *testing.T) {
	p := compile(t, hdr+`input.items.group_by(i -> i.k)`)
	keyTexts := []string{`1`, `1.0`, `1e0`, `-0`, `0`, `"1"`, `"a"`, `"\u0061"`, `null`, ``, `true`, `false`,
		`"true"`, `{"a":1}`, `{ "a":1}`, `{"a":1.0}`, `[1,2]`, `[1, 2]`, `[]`, `{}`, `"NaN"`, `""`}
	r := rand.New(rand.NewPCG(3, 4))
	for round := range 500 {
		var b strings.Builder
		b.WriteString(`{"items":[`)
		n := r.IntN(60)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			var k string
			if r.IntN(3) == 0 {
				k = fmt.Sprintf(`"s%d"`, r.IntN(20)) // many plain keys
			} else {
				k = keyTexts[r.IntN(len(keyTexts))]
			}
			if k == "" {
				fmt.Fprintf(&b, `{"v":%d}`, i)
			} else {
				fmt.Fprintf(&b, `{"k":%s, "v":%d}`, k, i)
			}
		}
		b.WriteString("]}")
		in := b.String()
		var items, keys []Value
		gjson.Get(in, "items").ForEach(func(_, x gjson.Result) bool {
			item := fromResult(x, 0)
			items = append(items, item)
			keys = append(keys, field(item, "k", "k"))
			return true
		})
		want := refGroupBy(items, keys)
		if got := apply(t, p, in); got != want {
			t.Fatalf("round %d: input %s\n got %s\nwant %s", round, in, got, want)
		}
	}
}
