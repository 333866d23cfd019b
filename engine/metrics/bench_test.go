package metrics

import (
	"testing"
	"time"

	"github.com/carrierhub/hub/sdk"
)

// BenchmarkPerCall is what metrics add to one API call of a connector: the
// request counter and histogram, the call counter and histogram, and the
// attempts counter. BenchmarkPerCallOff is the same with metrics off (nil).
func BenchmarkPerCall(b *testing.B) {
	m := New()
	o := m.Resilience()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.ObserveRequest("POST /v1/connectors/{id}/{operation}", "POST", 200, 3*time.Millisecond)
			m.ObserveCall("delhivery_express", sdk.OpTrack, nil, 2*time.Millisecond)
			o.CallDone("delhivery_express", "acc_1", sdk.OpTrack, nil, 1)
		}
	})
}

// BenchmarkPerCallOff is BenchmarkPerCall with metrics switched off.
func BenchmarkPerCallOff(b *testing.B) {
	var m *Metrics
	o := m.Resilience()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.ObserveRequest("POST /v1/connectors/{id}/{operation}", "POST", 200, 3*time.Millisecond)
			m.ObserveCall("delhivery_express", sdk.OpTrack, nil, 2*time.Millisecond)
			o.CallDone("delhivery_express", "acc_1", sdk.OpTrack, nil, 1)
		}
	})
}
