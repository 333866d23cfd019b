// Package bus carries messages between the hub and the rest of the TMS: events out
// (the relay's Kafka sink) and commands in. A Bus is a set of topics, each split into
// partitions by message key, read by consumer groups at least once and in order per
// key. Two implementations pass one conformance suite (bustest): Memory, in process,
// the embedded default when no brokers are configured; and Kafka, over
// github.com/segmentio/kafka-go.
//
// It imports engine/events for the event sink and nothing else of the engine.
package bus

import (
	"context"
	"errors"
	"hash/fnv"
	"math/rand/v2"
	"time"
)

// DefaultMaxMessageBytes is the largest message value a bus accepts by default
// (Kafka's own default limit is about 1 MB).
const DefaultMaxMessageBytes = 1 << 20

var (
	// ErrTooLarge is returned by Publish for a message larger than the bus accepts.
	ErrTooLarge = errors.New("message too large")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("bus closed")
)

// Message is one message on a topic.
type Message struct {
	// Topic is the topic it is on.
	Topic string
	// Key orders messages: those with one key are delivered in publishing order.
	Key []byte
	// Value is the body.
	Value []byte
	// Headers are string metadata (event id, type).
	Headers map[string]string
	// Partition and Offset locate it in the topic (informational).
	Partition int
	// Offset is its position in the partition.
	Offset int64
}

// Handler processes one message. Returning nil acknowledges it; an error leaves it
// unacknowledged and the bus offers it again (after a backoff) before any later
// message of its partition, so a handler that always fails blocks its partition.
// Handlers of one subscription run one at a time per partition. ctx is the
// subscription's context.
type Handler func(ctx context.Context, m Message) error

// Bus publishes and subscribes. Implementations are safe for concurrent use.
type Bus interface {
	// Publish appends a message to topic, returning once the bus has it durably
	// (as durable as the implementation is: Memory keeps it for the process's life).
	// A value over the bus's limit is ErrTooLarge.
	Publish(ctx context.Context, topic string, key, value []byte, headers map[string]string) error
	// PublishBatch publishes several messages, each with its own topic, in order.
	PublishBatch(ctx context.Context, msgs []Message) error
	// Subscribe joins group on topic and calls h for each message, at least once
	// and in order per key, sharing the topic's partitions with the group's other
	// members. It blocks until ctx is done (returning ctx's error) or the bus fails
	// or closes. A new group starts from the oldest message kept.
	Subscribe(ctx context.Context, topic, group string, h Handler) error
	// Close releases the bus; subscriptions end.
	Close() error
}

// partitionFor maps a key to one of n partitions (FNV-1a, like the hash balancer).
func partitionFor(key []byte, n int) int {
	if len(key) == 0 {
		return rand.N(n)
	}
	h := fnv.New32a()
	_, _ = h.Write(key)
	return int(h.Sum32() % uint32(n))
}

// retryDelay is the wait before offering a failed message again: exponential from
// 50 ms to 5 s with full jitter.
func retryDelay(attempt int) time.Duration {
	c := 50 * time.Millisecond << min(attempt, 7)
	c = min(c, 5*time.Second)
	return c/2 + rand.N(c/2+1)
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func checkTopic(topic string) error {
	if topic == "" || len(topic) > 249 {
		return errors.New("bus: topic must be 1 to 249 characters")
	}
	for _, c := range topic {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return errors.New("bus: topic may hold only letters, digits, '.', '_' and '-'")
		}
	}
	return nil
}
