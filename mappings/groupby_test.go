package mappings

import (
	"fmt"
	"strconv"
	"testing"
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
