package main

import "testing"

// BenchmarkFedEx runs each implementation over the corpus; b.N counts documents.
// Run with -cpu 1 for the one-core figures.
func BenchmarkFedEx(b *testing.B) {
	ts, err := translators()
	if err != nil {
		b.Fatal(err)
	}
	docs := corpus(500)
	size := 0
	for _, d := range docs {
		size += len(d)
	}
	for _, tr := range ts {
		b.Run(tr.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size / len(docs)))
			var buf []byte
			var err error
			for i := 0; b.Loop(); i++ {
				if buf, err = tr.fn(buf[:0], docs[i%len(docs)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
