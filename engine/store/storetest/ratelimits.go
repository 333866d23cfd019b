package storetest

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/store"
)

// testRateReserve checks store.RateStore's GCRA: a key's burst is admitted at
// once and then spaced by its interval; a slot beyond maxWait is refused
// without being taken; time passing gives the burst back; keys are
// independent; microsecond intervals keep their precision; malformed input is
// a *ValidationError; and concurrent reservations on one key at the same
// instant get distinct slots, which is what holds the limit across replicas.
func testRateReserve(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	const T = 100 * time.Millisecond
	reserve := func(key string, at time.Time, tolerance, maxWait time.Duration) store.RateReservation {
		t.Helper()
		r, err := s.ReserveRate(ctx, key, T, tolerance, at, maxWait)
		if err != nil {
			t.Fatalf("ReserveRate(%q): %v", key, err)
		}
		return r
	}
	want := func(what string, got store.RateReservation, ok bool, delay time.Duration) {
		t.Helper()
		if got.OK != ok || got.Delay != delay {
			t.Fatalf("%s: OK %v, delay %v; want %v, %v", what, got.OK, got.Delay, ok, delay)
		}
	}

	// A burst of 3 goes at once, then one request every T.
	first := reserve("acme/acc_1", now, 3*T, 0)
	want("first", first, true, 0)
	if !first.TAT.Equal(now.Add(T)) || first.TAT.Location() != time.UTC {
		t.Fatalf("first TAT %v, want %v in UTC", first.TAT, now.Add(T))
	}
	for range 2 {
		want("within the burst", reserve("acme/acc_1", now, 3*T, 0), true, 0)
	}
	for i := 1; i <= 2; i++ {
		want("after the burst", reserve("acme/acc_1", now, 3*T, time.Hour), true, time.Duration(i)*T)
	}

	// The next slot is 3T away: refused with less patience, and refusing takes nothing.
	for range 3 {
		r := reserve("acme/acc_1", now, 3*T, 3*T-time.Microsecond)
		want("beyond maxWait", r, false, 3*T)
		if !r.TAT.Equal(now.Add(5 * T)) {
			t.Fatalf("refused TAT %v, want the stored %v", r.TAT, now.Add(5*T))
		}
	}
	want("exactly maxWait", reserve("acme/acc_1", now, 3*T, 3*T), true, 3*T)

	// Time passing frees slots: 4T on, the key's TAT (now+6T) leaves 1 of 3.
	later := now.Add(4 * T)
	want("one freed slot", reserve("acme/acc_1", later, 3*T, 0), true, 0)
	want("no second", reserve("acme/acc_1", later, 3*T, 0), false, T)
	// Long after, the whole burst is back, as for a key never seen.
	idle := now.Add(time.Hour)
	for range 3 {
		want("burst after idling", reserve("acme/acc_1", idle, 3*T, 0), true, 0)
	}
	want("beyond the burst after idling", reserve("acme/acc_1", idle, 3*T, 0), false, T)

	// Keys are independent.
	for range 3 {
		want("another key", reserve("acme/acc_2", now, 3*T, 0), true, 0)
	}

	// Microsecond intervals (10,000 a second) keep their precision.
	for i := range 5 {
		r, err := s.ReserveRate(ctx, "fast/acc_1", 100*time.Microsecond, 100*time.Microsecond, now, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		want("10k a second", r, true, time.Duration(i)*100*time.Microsecond)
	}

	for _, bad := range []struct {
		name                         string
		key                          string
		interval, tolerance, maxWait time.Duration
	}{
		{"empty key", "", T, T, 0},
		{"long key", strings.Repeat("k", store.MaxRateKeyLen+1), T, T, 0},
		{"control character", "acme/\x00", T, T, 0},
		{"zero interval", "acme/acc_9", 0, T, 0},
		{"sub-microsecond interval", "acme/acc_9", time.Nanosecond, T, 0},
		{"tolerance under the interval", "acme/acc_9", T, T - 1, 0},
		{"negative maxWait", "acme/acc_9", T, T, -1},
	} {
		_, err := s.ReserveRate(ctx, bad.key, bad.interval, bad.tolerance, now, bad.maxWait)
		wantErr(t, bad.name, err, store.ErrInvalid)
	}
	if r := reserve(strings.Repeat("k", store.MaxRateKeyLen), now, T, 0); !r.OK {
		t.Fatalf("the longest key: %+v", r)
	}

	// Concurrent reservations at one instant, as replicas make them: each gets
	// a slot of its own, every one of 0, T, 2T, ... taken once.
	const n = 24
	delays := make([]time.Duration, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var r store.RateReservation
			r, errs[i] = s.ReserveRate(ctx, "acme/race", T, T, now, time.Hour)
			if errs[i] == nil && !r.OK {
				t.Errorf("reservation %d refused: %+v", i, r)
			}
			delays[i] = r.Delay
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent reservation %d: %v", i, err)
		}
	}
	slices.Sort(delays)
	for i, d := range delays {
		if d != time.Duration(i)*T {
			t.Fatalf("concurrent delays %v: want each multiple of %v from 0 once", delays, T)
		}
	}
}
