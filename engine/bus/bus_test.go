package bus_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/carrierhub/hub/engine/bus"
	"github.com/carrierhub/hub/engine/bus/bustest"
)

func TestMemoryConformance(t *testing.T) {
	bustest.Run(t, func(t *testing.T) bus.Bus {
		b := bus.NewMemory(bus.MemoryConfig{})
		t.Cleanup(func() { b.Close() })
		return b
	})
}

// startKafka starts an in-process Kafka-protocol broker on loopback.
func startKafka(t testing.TB) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.ListenFn(func(network, _ string) (net.Listener, error) { return net.Listen(network, "127.0.0.1:0") }),
		kfake.DefaultNumPartitions(4), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func newKafka(t testing.TB, brokers []string) *bus.Kafka {
	t.Helper()
	k, err := bus.NewKafka(context.Background(), bus.KafkaConfig{Brokers: brokers, AutoCreateTopics: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

func TestKafkaConformance(t *testing.T) {
	bustest.Run(t, func(t *testing.T) bus.Bus { return newKafka(t, startKafka(t)) })
}

func TestKafkaBadBrokerAddress(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	_, err = bus.NewKafka(t.Context(), bus.KafkaConfig{Brokers: []string{addr}, DialTimeout: 2 * time.Second})
	if err == nil || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "no broker reachable") {
		t.Fatalf("NewKafka(%s) = %v; want an error naming the address", addr, err)
	}
	for _, bad := range [][]string{nil, {"no-port"}} {
		if _, err := bus.NewKafka(t.Context(), bus.KafkaConfig{Brokers: bad}); err == nil {
			t.Fatalf("NewKafka(%q) accepted", bad)
		}
	}
}
