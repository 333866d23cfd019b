package store

import (
	"context"
	"fmt"
	"strings"
)

// Group commit for SQLite.
//
// SQLite has one writer, and with synchronous(FULL) every commit waits for an
// fsync: one write transaction per API call caps the embedded hub at a few hundred
// calls a second however many cores it has, with the CPU mostly idle. So the
// backend commits together whatever writes queue up while one commit runs: the
// first caller to find the writer free becomes the leader, takes up to
// maxGroupCommit queued transactions, runs each inside a SAVEPOINT of one
// BEGIN IMMEDIATE transaction (a failing one rolls back to its savepoint and
// leaves the others alone), commits once and hands every caller its own outcome.
// Each caller still returns only after its writes are durable, so nothing about
// the store's guarantees changes; only the fsyncs are shared.

// maxGroupCommit bounds the transactions one commit carries, and so the time the
// last of them waits for the first.
const maxGroupCommit = 256

// txRequest is one queued transaction.
type txRequest struct {
	fn   func(q querier) error
	done chan txOutcome
}

// txOutcome is what a transaction's caller gets back: fn's error or the commit's,
// or the value fn panicked with, which is re-raised in the caller's goroutine.
type txOutcome struct {
	err      error
	panicked any
}

// inTx runs fn in a transaction of its own or shared with other callers' (see
// above) and returns once its effects are durable or undone. Statements run
// without the caller's cancellation: interrupting one would roll back the whole
// shared transaction. A caller whose ctx ends before its turn withdraws.
func (b *sqliteBackend) inTx(ctx context.Context, fn func(q querier) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	req := &txRequest{fn: fn, done: make(chan txOutcome, 1)}
	b.qmu.Lock()
	b.queue = append(b.queue, req)
	b.qmu.Unlock()
	for {
		select {
		case out := <-req.done:
			return out.result()
		default:
		}
		select {
		case out := <-req.done:
			return out.result()
		case b.writer <- struct{}{}:
			b.leadGroup()
			<-b.writer
		case <-ctx.Done():
			if b.withdraw(req) {
				return ctx.Err()
			}
			return (<-req.done).result()
		}
	}
}

func (o txOutcome) result() error {
	if o.panicked != nil {
		panic(o.panicked)
	}
	return o.err
}

// withdraw takes req off the queue and reports whether it was still there (and
// so never ran).
func (b *sqliteBackend) withdraw(req *txRequest) bool {
	b.qmu.Lock()
	defer b.qmu.Unlock()
	for i, r := range b.queue {
		if r == req {
			b.queue = append(b.queue[:i], b.queue[i+1:]...)
			return true
		}
	}
	return false
}

// leadGroup runs the queued transactions, at most maxGroupCommit, as one; the
// caller holds the writer.
func (b *sqliteBackend) leadGroup() {
	b.qmu.Lock()
	n := min(len(b.queue), maxGroupCommit)
	group := make([]*txRequest, n)
	copy(group, b.queue)
	rest := copy(b.queue, b.queue[n:])
	clear(b.queue[rest:])
	b.queue = b.queue[:rest]
	b.qmu.Unlock()
	if n == 0 {
		return
	}
	outs := b.runGroup(group)
	for i, r := range group {
		r.done <- outs[i]
	}
}

// runGroup runs group in one transaction and returns each member's outcome.
func (b *sqliteBackend) runGroup(group []*txRequest) []txOutcome {
	outs := make([]txOutcome, len(group))
	failAll := func(err error) []txOutcome {
		for i := range outs {
			if outs[i].err == nil && outs[i].panicked == nil {
				outs[i].err = err
			}
		}
		return outs
	}
	// The transaction belongs to no single caller, so no caller's context may end it.
	ctx := context.Background()
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return failAll(err)
	}
	q := &sqliteTx{b: b, tx: tx, detached: true}
	if len(group) == 1 {
		outs[0] = call(group[0].fn, q)
		if outs[0].err != nil || outs[0].panicked != nil {
			_ = tx.Rollback()
			return outs
		}
		if err := tx.Commit(); err != nil {
			outs[0].err = err
		}
		return outs
	}
	for i, r := range group {
		if _, err := tx.ExecContext(ctx, "SAVEPOINT grp"); err != nil {
			_ = tx.Rollback()
			return failAll(fmt.Errorf("group commit: savepoint: %w", err))
		}
		outs[i] = call(r.fn, q)
		if outs[i].err != nil || outs[i].panicked != nil {
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO grp"); err != nil {
				_ = tx.Rollback()
				return failAll(fmt.Errorf("group commit: rolling back to savepoint: %w", err))
			}
		}
		if _, err := tx.ExecContext(ctx, "RELEASE grp"); err != nil {
			_ = tx.Rollback()
			return failAll(fmt.Errorf("group commit: releasing savepoint: %w", err))
		}
	}
	if err := tx.Commit(); err != nil {
		return failAll(err)
	}
	return outs
}

// call runs fn, turning a panic into an outcome.
func call(fn func(q querier) error, q querier) (out txOutcome) {
	defer func() {
		if p := recover(); p != nil {
			out = txOutcome{panicked: p}
		}
	}()
	return txOutcome{err: fn(q)}
}

// writes reports whether a statement changes the database, and so must go
// through the writer.
func writes(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n")
	for _, verb := range [...]string{"INSERT", "UPDATE", "DELETE", "REPLACE"} {
		if len(q) >= len(verb) && strings.EqualFold(q[:len(verb)], verb) {
			return true
		}
	}
	return false
}
