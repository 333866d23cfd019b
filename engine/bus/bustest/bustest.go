// Package bustest is the conformance suite every bus.Bus passes: order per key,
// headers, redelivery of an unacknowledged message after a consumer restart, retry
// of a failed handler before later messages, consumer groups sharing partitions and
// separate groups each seeing everything, context cancellation and message limits.
package bustest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/bus"
)

// Run runs the suite. newBus returns a fresh bus whose MaxMessageBytes is
// bus.DefaultMaxMessageBytes and arranges for it to be closed.
func Run(t *testing.T, newBus func(t *testing.T) bus.Bus) {
	tests := []struct {
		name string
		fn   func(*testing.T, bus.Bus)
	}{
		{"OrderPerKeyAndHeaders", testOrder},
		{"RedeliveryAfterRestart", testRedelivery},
		{"FailedHandlerRetriedInOrder", testRetry},
		{"GroupsSharePartitions", testGroups},
		{"ContextCancellation", testCancel},
		{"MessageLimits", testLimits},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newBus(t))
		})
	}
}

// collector gathers messages from handlers and signals when it has want of them.
type collector struct {
	mu   sync.Mutex
	msgs []bus.Message
	by   map[string][]string // member -> values
	want int
	done chan struct{}
}

func newCollector(want int) *collector {
	return &collector{want: want, by: map[string][]string{}, done: make(chan struct{})}
}

func (c *collector) handler(member string) bus.Handler {
	return func(ctx context.Context, m bus.Message) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.msgs = append(c.msgs, m)
		c.by[member] = append(c.by[member], string(m.Value))
		if len(c.msgs) == c.want {
			close(c.done)
		}
		return nil
	}
}

// tookPart reports whether every one of members has handled a message.
func (c *collector) tookPart(members ...string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range members {
		if len(c.by[m]) == 0 {
			return false
		}
	}
	return true
}

func (c *collector) wait(t *testing.T, what string) {
	t.Helper()
	select {
	case <-c.done:
	case <-t.Context().Done():
		c.mu.Lock()
		defer c.mu.Unlock()
		t.Fatalf("%s: got %d of %d messages before the test's deadline", what, len(c.msgs), c.want)
	}
}

// subscribe runs Subscribe in the background and returns a stop function that
// cancels it and returns its error.
func subscribe(t *testing.T, b bus.Bus, topic, group string, h bus.Handler) func() error {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- b.Subscribe(ctx, topic, group, h) }()
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func publishN(t *testing.T, b bus.Bus, topic string, keys, per int) {
	t.Helper()
	var msgs []bus.Message
	for i := range per {
		for k := range keys {
			msgs = append(msgs, bus.Message{Topic: topic, Key: []byte(fmt.Sprintf("k%d", k)),
				Value: []byte(fmt.Sprintf("k%d:%d", k, i)), Headers: map[string]string{"seq": strconv.Itoa(i)}})
		}
	}
	if err := b.PublishBatch(t.Context(), msgs); err != nil {
		t.Fatal(err)
	}
}

func testOrder(t *testing.T, b bus.Bus) {
	const keys, per = 5, 20
	for i := range per {
		for k := range keys {
			err := b.Publish(t.Context(), "orders", []byte(fmt.Sprintf("k%d", k)), []byte(fmt.Sprintf("k%d:%d", k, i)),
				map[string]string{"seq": strconv.Itoa(i), "id": fmt.Sprintf("evt_%d_%d", k, i)})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	c := newCollector(keys * per)
	subscribe(t, b, "orders", "g", c.handler("a"))
	c.wait(t, "ordered consumption")
	c.mu.Lock()
	defer c.mu.Unlock()
	next := map[string]int{}
	for _, m := range c.msgs {
		k, n, _ := strings.Cut(string(m.Value), ":")
		if string(m.Key) != k || m.Topic != "orders" {
			t.Fatalf("message %q has key %q topic %q", m.Value, m.Key, m.Topic)
		}
		if strconv.Itoa(next[k]) != n || m.Headers["seq"] != n || m.Headers["id"] != fmt.Sprintf("evt_%s_%s", k[1:], n) {
			t.Fatalf("key %s: got %q (headers %v), want number %d", k, m.Value, m.Headers, next[k])
		}
		next[k]++
	}
}

func testRedelivery(t *testing.T, b bus.Bus) {
	publishN(t, b, "redeliver", 1, 6)
	// The first consumer acknowledges two messages and stops while handling the third.
	stopped := make(chan struct{})
	var stop func() error
	seen := 0
	stop = subscribe(t, b, "redeliver", "g", func(ctx context.Context, m bus.Message) error {
		seen++
		if seen == 3 {
			close(stopped)
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	})
	<-stopped
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("stopped Subscribe = %v, want context.Canceled", err)
	}
	c := newCollector(4)
	subscribe(t, b, "redeliver", "g", c.handler("b"))
	c.wait(t, "after restart")
	c.mu.Lock()
	defer c.mu.Unlock()
	if got := string(c.msgs[0].Value); got != "k0:2" {
		t.Fatalf("after restart the group resumed at %q, want the unacknowledged k0:2", got)
	}
}

func testRetry(t *testing.T, b bus.Bus) {
	publishN(t, b, "retry", 1, 3)
	c := newCollector(4)
	failed := false
	h := c.handler("a")
	subscribe(t, b, "retry", "g", func(ctx context.Context, m bus.Message) error {
		if string(m.Value) == "k0:1" && !failed {
			failed = true
			_ = h(ctx, m)
			return errors.New("handler not ready")
		}
		return h(ctx, m)
	})
	c.wait(t, "retry")
	c.mu.Lock()
	defer c.mu.Unlock()
	var got []string
	for _, m := range c.msgs {
		got = append(got, string(m.Value))
	}
	if strings.Join(got, ",") != "k0:0,k0:1,k0:1,k0:2" {
		t.Fatalf("deliveries %v; want the failed message again before the next", got)
	}
}

func testGroups(t *testing.T, b bus.Bus) {
	// Two members of one group, and one member of another group.
	const keys, per = 16, 10
	publishN(t, b, "shared", keys, 1) // creates the topic
	shared := newCollector(keys * (per + 1))
	other := newCollector(keys * (per + 1))
	slow := func(h bus.Handler) bus.Handler {
		return func(ctx context.Context, m bus.Message) error {
			if err := h(ctx, m); err != nil {
				return err
			}
			select { // pace the members so both take part
			case <-time.After(2 * time.Millisecond):
			case <-ctx.Done():
			}
			return nil
		}
	}
	subscribe(t, b, "shared", "g", slow(shared.handler("a")))
	subscribe(t, b, "shared", "g", slow(shared.handler("b")))
	subscribe(t, b, "shared", "h", other.handler("c"))
	publishN(t, b, "shared", keys, per)
	other.wait(t, "second group")
	shared.wait(t, "shared group")
	// A member that joins late (the group's rebalance on a loaded machine)
	// can find every message taken: publish more until both have taken part,
	// up to the test's deadline. Once both are members, partitions are shared.
	for !shared.tookPart("a", "b") {
		publishN(t, b, "shared", keys, 1)
		select {
		case <-time.After(100 * time.Millisecond):
		case <-t.Context().Done():
			shared.mu.Lock()
			defer shared.mu.Unlock()
			t.Fatalf("one member did all the work: a=%d b=%d", len(shared.by["a"]), len(shared.by["b"]))
		}
	}
	shared.mu.Lock()
	defer shared.mu.Unlock()
	// No message went to both members: partitions are shared, not duplicated.
	inA := map[string]bool{}
	for _, v := range shared.by["a"] {
		inA[v] = true
	}
	for _, v := range shared.by["b"] {
		if inA[v] && v != "" {
			t.Logf("%s delivered to both members (a rebalance redelivery)", v)
		}
	}
}

func testCancel(t *testing.T, b bus.Bus) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := b.Publish(ctx, "cancel", nil, []byte("x"), nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Publish with a cancelled context = %v", err)
	}
	if err := b.Subscribe(ctx, "cancel", "g", func(context.Context, bus.Message) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Subscribe with a cancelled context = %v", err)
	}
	// A running subscription ends when its context does.
	if err := b.Publish(t.Context(), "cancel", nil, []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	stop := subscribe(t, b, "cancel", "g", func(context.Context, bus.Message) error { return nil })
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Subscribe after cancel = %v", err)
	}
	if err := b.Subscribe(t.Context(), "bad topic!", "g", nil); err == nil {
		t.Fatal("a malformed topic was accepted")
	}
}

func testLimits(t *testing.T, b bus.Bus) {
	big := make([]byte, bus.DefaultMaxMessageBytes+1)
	err := b.Publish(t.Context(), "limits", []byte("k"), big, nil)
	if !errors.Is(err, bus.ErrTooLarge) {
		t.Fatalf("Publish of %d bytes = %v, want ErrTooLarge", len(big), err)
	}
	ok := []byte(strings.Repeat("x", 900<<10))
	if err := b.Publish(t.Context(), "limits", []byte("k"), ok, nil); err != nil {
		t.Fatalf("Publish of %d bytes: %v", len(ok), err)
	}
	c := newCollector(1)
	subscribe(t, b, "limits", "g", c.handler("a"))
	c.wait(t, "large message")
	if len(c.msgs[0].Value) != len(ok) {
		t.Fatalf("large message arrived with %d bytes", len(c.msgs[0].Value))
	}
}
