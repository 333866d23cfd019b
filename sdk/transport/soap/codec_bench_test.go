package soap

import "testing"

// BenchmarkCodec is this package's own share of a call, without the network:
// building the envelope and decoding a reply through the guards.
func BenchmarkCodec(b *testing.B) {
	c := &Client{}
	req := &trackRequest{Number: []string{"90012345678"}}
	reply := []byte(envelope11(trackReply))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.envelope(req, nil); err != nil {
			b.Fatal(err)
		}
		var out trackResponse
		if f, err := readEnvelope(reply, &out, nil, 0); err != nil || f != nil {
			b.Fatal(err, f)
		}
	}
}
