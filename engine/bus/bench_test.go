package bus_test

import (
	"fmt"
	"testing"

	"github.com/carrierhub/hub/engine/bus"
)

// BenchmarkKafkaPublish measures publishing 1 KiB messages to kfake on loopback, one
// at a time and in batches of 100 (how the relay's sink publishes).
func BenchmarkKafkaPublish(b *testing.B) {
	k := newKafka(b, startKafka(b))
	value := make([]byte, 1024)
	if err := k.Publish(b.Context(), "bench", []byte("k"), value, nil); err != nil {
		b.Fatal(err)
	}
	b.Run("single", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			if err := k.Publish(b.Context(), "bench", []byte(fmt.Sprint(i%64)), value, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
	b.Run("batch100", func(b *testing.B) {
		msgs := make([]bus.Message, 100)
		for i := range msgs {
			msgs[i] = bus.Message{Topic: "bench", Key: []byte(fmt.Sprint(i % 64)), Value: value}
		}
		for b.Loop() {
			if err := k.PublishBatch(b.Context(), msgs); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "msgs/s")
	})
}
