package edi

import (
	"context"
	"testing"
)

// BenchmarkReadX12 reads a 5 KB batch of ten 214s with the built-in loops.
func BenchmarkReadX12(b *testing.B) {
	data, _ := readFixture(b, "214-batch.edi", false)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ReadX12(data, ReadOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteX12 writes the same batch back.
func BenchmarkWriteX12(b *testing.B) {
	data, tree := readFixture(b, "214-batch.edi", false)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := WriteX12(context.Background(), tree, X12WriteOptions{Suffix: "\n"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadEDIFACT reads the IFTSTA fixture (ISO 8859-1, with releases).
func BenchmarkReadEDIFACT(b *testing.B) {
	data, _ := readFixture(b, "iftsta.edi", true)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ReadEDIFACT(data, ReadOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
