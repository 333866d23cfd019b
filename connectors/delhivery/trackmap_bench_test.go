package delhivery

import (
	"os"
	"testing"
)

// BenchmarkFromTrackResponse measures translating one tracking answer (a
// manifested shipment with two scans, as the simulator answers) through the
// mapping into canonical results.
func BenchmarkFromTrackResponse(b *testing.B) {
	data, err := os.ReadFile("mappings/track.manifested.in.json")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := fromTrackResponse(data); err != nil {
			b.Fatal(err)
		}
	}
}
