package nic

import (
	"bytes"
	"strings"
	"testing"
)

// payload4K is a 4 KB JSON document, the size of a many-item GENEWAYBILL.
var payload4K = []byte(`{"itemList":["` + strings.Repeat("x", 4096-17) + `"]}`)

func BenchmarkSeal4KB(b *testing.B) {
	sek := bytes.Repeat([]byte{4}, KeySize)
	for _, l := range []Layering{LayerBase64JSON, LayerJSON} {
		b.Run(l.String(), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(payload4K)))
			for b.Loop() {
				if _, err := Seal(sek, payload4K, l); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOpen4KB(b *testing.B) {
	sek := bytes.Repeat([]byte{4}, KeySize)
	for _, l := range []Layering{LayerBase64JSON, LayerJSON} {
		data, err := Seal(sek, payload4K, l)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(l.String(), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(payload4K)))
			for b.Loop() {
				if _, err := Open(sek, data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOpenREK4KB(b *testing.B) {
	sek := bytes.Repeat([]byte{4}, KeySize)
	rek := bytes.Repeat([]byte{5}, KeySize)
	r, err := SealREK(sek, rek, payload4K)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(payload4K)))
	for b.Loop() {
		if _, err := OpenREK(sek, r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkECB4KB is the raw block-by-block AES-256-ECB with PKCS#7 on 4 KB.
func BenchmarkECB4KB(b *testing.B) {
	key := bytes.Repeat([]byte{4}, KeySize)
	ct, _ := EncryptECB(key, payload4K)
	b.Run("encrypt", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(payload4K)))
		for b.Loop() {
			_, _ = EncryptECB(key, payload4K)
		}
	})
	b.Run("decrypt", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(payload4K)))
		for b.Loop() {
			_, _ = DecryptECB(key, ct)
		}
	})
}
