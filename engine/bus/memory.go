package bus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// Memory is the in-process Bus: topics live in memory for the life of the process
// (nothing survives a restart; the outbox, not the bus, is the durable record).
// Messages are never trimmed, so it suits the embedded hub's volumes, not a firehose.
type Memory struct {
	partitions int
	maxBytes   int

	mu     sync.Mutex
	cond   *sync.Cond
	topics map[string]*memTopic
	closed bool
	nextID int
}

type memTopic struct {
	parts  [][]Message
	groups map[string]*memGroup
}

type memGroup struct {
	committed []int
	busy      []bool
	members   []int // member ids, ascending; partition p belongs to members[p % len]
}

// MemoryConfig tunes a Memory bus; zero fields take defaults.
type MemoryConfig struct {
	// Partitions per topic (default 8).
	Partitions int
	// MaxMessageBytes is the largest value accepted (default DefaultMaxMessageBytes).
	MaxMessageBytes int
}

// NewMemory returns an empty in-process bus.
func NewMemory(cfg MemoryConfig) *Memory {
	if cfg.Partitions <= 0 {
		cfg.Partitions = 8
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	m := &Memory{partitions: cfg.Partitions, maxBytes: cfg.MaxMessageBytes, topics: map[string]*memTopic{}}
	m.cond = sync.NewCond(&m.mu)
	return m
}

var _ Bus = (*Memory)(nil)

func (m *Memory) topic(name string) *memTopic {
	t := m.topics[name]
	if t == nil {
		t = &memTopic{parts: make([][]Message, m.partitions), groups: map[string]*memGroup{}}
		m.topics[name] = t
	}
	return t
}

// Publish appends a message; see Bus.
func (m *Memory) Publish(ctx context.Context, topic string, key, value []byte, headers map[string]string) error {
	return m.PublishBatch(ctx, []Message{{Topic: topic, Key: key, Value: value, Headers: headers}})
}

// PublishBatch appends messages; see Bus.
func (m *Memory) PublishBatch(ctx context.Context, msgs []Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bus: publishing: %w", err)
	}
	for _, msg := range msgs {
		if err := checkTopic(msg.Topic); err != nil {
			return err
		}
		if len(msg.Value) > m.maxBytes {
			return fmt.Errorf("bus: publishing to %s: %d bytes, limit %d: %w", msg.Topic, len(msg.Value), m.maxBytes, ErrTooLarge)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	for _, msg := range msgs {
		t := m.topic(msg.Topic)
		p := partitionFor(msg.Key, m.partitions)
		c := Message{Topic: msg.Topic, Key: slices.Clone(msg.Key), Value: slices.Clone(msg.Value),
			Headers: cloneHeaders(msg.Headers), Partition: p, Offset: int64(len(t.parts[p]))}
		t.parts[p] = append(t.parts[p], c)
	}
	m.cond.Broadcast()
	return nil
}

func cloneHeaders(h map[string]string) map[string]string {
	if h == nil {
		return nil
	}
	out := make(map[string]string, len(h))
	for k, v := range h {
		out[k] = v
	}
	return out
}

// Subscribe consumes topic as a member of group; see Bus.
func (m *Memory) Subscribe(ctx context.Context, topic, group string, h Handler) error {
	if err := checkTopic(topic); err != nil {
		return err
	}
	if group == "" {
		return errors.New("bus: group must not be empty")
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	t := m.topic(topic)
	g := t.groups[group]
	if g == nil {
		g = &memGroup{committed: make([]int, m.partitions), busy: make([]bool, m.partitions)}
		t.groups[group] = g
	}
	m.nextID++
	me := m.nextID
	g.members = append(g.members, me)
	m.cond.Broadcast()
	stop := context.AfterFunc(ctx, func() {
		m.mu.Lock()
		m.cond.Broadcast()
		m.mu.Unlock()
	})
	defer stop()
	defer func() {
		g.members = slices.DeleteFunc(g.members, func(id int) bool { return id == me })
		m.cond.Broadcast()
		m.mu.Unlock()
	}()
	attempts := make([]int, m.partitions)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if m.closed {
			return ErrClosed
		}
		p := m.ready(t, g, me)
		if p < 0 {
			m.cond.Wait()
			continue
		}
		g.busy[p] = true
		msg := t.parts[p][g.committed[p]]
		m.mu.Unlock()
		err := h(ctx, msg)
		if err != nil {
			attempts[p]++
			_ = sleepCtx(ctx, retryDelay(attempts[p]))
		}
		m.mu.Lock()
		g.busy[p] = false
		if err == nil {
			attempts[p] = 0
			g.committed[p]++
		}
		m.cond.Broadcast()
	}
}

// ready returns a partition of member me with a message to hand over, or -1.
func (m *Memory) ready(t *memTopic, g *memGroup, me int) int {
	i := slices.Index(g.members, me)
	n := len(g.members)
	for p := range t.parts {
		if p%n == i && !g.busy[p] && g.committed[p] < len(t.parts[p]) {
			return p
		}
	}
	return -1
}

// Close ends every subscription; later calls fail with ErrClosed.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.cond.Broadcast()
	return nil
}
