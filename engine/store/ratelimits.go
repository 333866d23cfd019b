package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// MaxRateKeyLen is the longest rate-limit key, in bytes.
const MaxRateKeyLen = 255

// RateReservation is what ReserveRate decided.
type RateReservation struct {
	// OK is true when the request was admitted and its slot taken.
	OK bool
	// Delay is how long after now the request may go: when OK, the slot it was
	// given; otherwise the earliest slot it could have had (nothing was taken).
	Delay time.Duration
	// TAT is the key's theoretical arrival time as the call left it, to the
	// microsecond: the key admits a request at once until TAT-tolerance, and has
	// its whole burst back at TAT.
	TAT time.Time
}

// RateStore keeps rate limits shared by every process using the database, by
// the generic cell rate algorithm (GCRA): a key stores only its theoretical
// arrival time (TAT), and each reservation is one atomic statement, so replicas
// on one Postgres together admit no more than the limit. Times are passed in,
// not read from a clock, and kept to the microsecond.
//
// A key's rows are tiny and never purged: an idle key's TAT in the past behaves
// exactly like no row at all.
type RateStore interface {
	// ReserveRate reserves a slot for one request on key, whose limit admits one
	// request per interval with a burst of tolerance/interval at once. With tat
	// the key's TAT (now when it has none), the request's new TAT is
	// max(tat, now)+interval and it may go after delay
	// max(0, newTAT-tolerance-now). When that delay is at most maxWait the slot
	// is taken (the TAT stored) and OK is true; otherwise nothing changes, OK is
	// false and Delay says when the request could have gone. Of concurrent
	// reservations on one key, no two are given the same slot.
	//
	// An empty key or one longer than MaxRateKeyLen, an interval under a
	// microsecond, a tolerance shorter than the interval or a negative maxWait
	// is a *ValidationError.
	ReserveRate(ctx context.Context, key string, interval, tolerance time.Duration, now time.Time, maxWait time.Duration) (RateReservation, error)
}

var _ RateStore = (*sqlStore)(nil)

// rateReserveQuery takes the key's next slot in one statement: a missing row is
// inserted as TAT now+interval (admitted at once, since the tolerance is at
// least the interval); an existing one is moved to max(tat, now)+interval only
// when that slot ($6, now+maxWait, bounds it) is close enough. The conflict
// clause locks the row in Postgres and SQLite has one writer, so concurrent
// reservations see each other's TAT. $2 is now+interval, $3 now, $4 the
// interval, $5 the tolerance, all in microseconds.
const rateReserveQuery = `INSERT INTO rate_limits (limit_key, tat) VALUES ($1, $2)
	ON CONFLICT (limit_key) DO UPDATE SET
		tat = CASE WHEN rate_limits.tat > $3 THEN rate_limits.tat ELSE $3 END + $4
	WHERE CASE WHEN rate_limits.tat > $3 THEN rate_limits.tat ELSE $3 END + $4 - $5 <= $6
	RETURNING tat`

// ReserveRate reserves a request's slot; see RateStore.
func (s *sqlStore) ReserveRate(ctx context.Context, key string, interval, tolerance time.Duration, now time.Time, maxWait time.Duration) (RateReservation, error) {
	switch {
	case key == "":
		return RateReservation{}, invalid("key", "must not be empty")
	case len(key) > MaxRateKeyLen:
		return RateReservation{}, invalid("key", "is %d bytes, longer than %d", len(key), MaxRateKeyLen)
	case interval < time.Microsecond:
		return RateReservation{}, invalid("interval", "must be at least a microsecond, not %v", interval)
	case tolerance < interval:
		return RateReservation{}, invalid("tolerance", "must be at least the interval (%v), not %v", interval, tolerance)
	case maxWait < 0:
		return RateReservation{}, invalid("max_wait", "must not be negative")
	}
	if err := checkText("key", key); err != nil {
		return RateReservation{}, err
	}
	// The interval is rounded up and the tolerance down (but not below the
	// interval), so rounding never admits more than the limit.
	t := (interval + time.Microsecond - 1).Microseconds()
	tol, nowUS, wait := max(tolerance.Microseconds(), t), now.UnixMicro(), maxWait.Microseconds()
	res := func(ok bool, tat int64) RateReservation {
		next := tat // admitted: the request's slot is the new TAT
		if !ok {
			next = max(tat, nowUS) + t // refused: the slot it would have had
		}
		return RateReservation{OK: ok, Delay: time.Duration(max(0, next-tol-nowUS)) * time.Microsecond,
			TAT: time.UnixMicro(tat).UTC()}
	}
	// A refusal reads the row back to say when the request could go. The row
	// can only vanish in between when someone deletes it by hand; then the
	// reservation is tried again.
	for range 3 {
		var tat int64
		err := s.db.queryRow(ctx, rateReserveQuery, []any{key, nowUS + t, nowUS, t, tol, nowUS + wait}, &tat)
		if err == nil {
			return res(true, tat), nil
		}
		if !errors.Is(err, errNoRows) {
			return RateReservation{}, s.dbErr("reserving rate", err)
		}
		err = s.db.queryRow(ctx, `SELECT tat FROM rate_limits WHERE limit_key = $1`, []any{key}, &tat)
		if err == nil {
			return res(false, tat), nil
		}
		if !errors.Is(err, errNoRows) {
			return RateReservation{}, s.dbErr("reading rate", err)
		}
	}
	return RateReservation{}, fmt.Errorf("reserving rate: %w", ErrConflict)
}
