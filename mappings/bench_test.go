package mappings

import (
	"os"
	"testing"
)

// BenchmarkFedExTrack applies the FedEx showcase mapping to its delivered
// fixture. bench/ compares the same work with Bloblang, gojq and gjson.
func BenchmarkFedExTrack(b *testing.B) {
	p, err := CompileFile("../connectors/fedex/mappings/track.mapping", Options{})
	if err != nil {
		b.Fatal(err)
	}
	benchApply(b, p, "../connectors/fedex/mappings/track.delivered.in.json")
}

// benchApply measures p on the JSON document in file.
func benchApply(b *testing.B, p *Program, file string) {
	in, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	var out []byte
	for b.Loop() {
		if out, err = p.ApplyJSON(out[:0], in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompile compiles the FedEx showcase mapping, table included.
func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CompileFile("../connectors/fedex/mappings/track.mapping", Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDelhiveryTrack applies Delhivery's tracking mapping (states table,
// time parsing, locations, sorting) to a small answer (one shipment, two
// scans, 1.2 KB) and a recorded one (5.4 KB).
func BenchmarkDelhiveryTrack(b *testing.B) {
	p, err := CompileFile("../connectors/delhivery/mappings/track.mapping", Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, fixture := range []string{"manifested", "recorded-in-transit"} {
		b.Run(fixture, func(b *testing.B) {
			benchApply(b, p, "../connectors/delhivery/mappings/track."+fixture+".in.json")
		})
	}
}
