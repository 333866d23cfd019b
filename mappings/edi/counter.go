package edi

import (
	"context"
	"sync"
)

// Level names the envelope a control number is for.
type Level int

// The envelope levels, outermost first.
const (
	// Interchange is the ISA (ISA13) or UNB (UNB05) envelope.
	Interchange Level = iota + 1
	// Group is the functional group: GS (GS06) or UNG (UNG05).
	Group
	// Message is the transaction set or message: ST (ST02) or UNH (UNH01).
	Message
)

// Counter hands out control numbers to writers. Trading partners expect them
// unique per sender (and ISA13 never reused), so production counters are
// durable, such as a row in the hub's store; Next is called once per envelope
// written, from the writer's goroutine, and must be safe for concurrent use if
// the counter is shared.
type Counter interface {
	// Next returns the next control number for level; it must be positive.
	Next(ctx context.Context, level Level) (int64, error)
}

// Sequence is an in-memory Counter: one increasing sequence per level,
// starting at the value given to NewSequence. It is safe for concurrent use and
// meant for tests and single-process tools; it forgets its state on exit.
type Sequence struct {
	mu   sync.Mutex
	next [Message + 1]int64
}

// NewSequence returns a Sequence whose first number at every level is start.
func NewSequence(start int64) *Sequence {
	s := &Sequence{}
	for i := range s.next {
		s.next[i] = start
	}
	return s
}

// Next returns the level's next number.
func (s *Sequence) Next(_ context.Context, level Level) (int64, error) {
	if level < Interchange || level > Message {
		level = Message
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.next[level]
	s.next[level]++
	return n, nil
}

var _ Counter = (*Sequence)(nil)
