package resilience

import (
	"context"
	"fmt"
	"testing"
	"time"
)

var benchOut = []byte(`{"ok":true}`)

func noop(context.Context) ([]byte, error) { return benchOut, nil }

// BenchmarkDirect is the baseline: the attempt function called bare.
func BenchmarkDirect(b *testing.B) {
	b.ReportAllocs()
	ctx := context.Background()
	var fn Func = noop
	for b.Loop() {
		if _, err := fn(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExecutorSuccess is what Do adds around a call that succeeds at once:
// deadline, bulkhead, budget, breaker, and (in the rate-limited case) a token.
func BenchmarkExecutorSuccess(b *testing.B) {
	for _, rl := range []float64{0, 1e9} {
		b.Run(fmt.Sprintf("ratelimit=%g", rl), func(b *testing.B) {
			e := NewExecutor(Options{Logger: quiet})
			c := trackCall(func(p *Policy) { p.RateLimit, p.RateBurst = rl, 1<<20 })
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Do(ctx, c, noop); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkExecutorSuccessCallerDeadline is the router's case when the caller's
// context already carries a deadline tighter than the policy's: Do sets no timer.
func BenchmarkExecutorSuccessCallerDeadline(b *testing.B) {
	e := NewExecutor(Options{Logger: quiet})
	c := trackCall(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Do(ctx, c, noop); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExecutorSuccessParallel runs Do from GOMAXPROCS goroutines, on one
// account and spread over 64 accounts of the connector.
func BenchmarkExecutorSuccessParallel(b *testing.B) {
	for _, accounts := range []int{1, 64} {
		b.Run(fmt.Sprintf("accounts=%d", accounts), func(b *testing.B) {
			e := NewExecutor(Options{Logger: quiet})
			calls := make([]Call, accounts)
			for i := range calls {
				calls[i] = trackCall(func(p *Policy) { p.MaxInFlight = 1 << 20 })
				calls[i].Account = fmt.Sprintf("acct%d", i)
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					i++
					if _, err := e.Do(ctx, calls[i%accounts], noop); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
