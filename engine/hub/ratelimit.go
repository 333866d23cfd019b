package hub

import (
	"context"
	"time"

	"github.com/carrierhub/hub/engine/config"
	"github.com/carrierhub/hub/engine/resilience"
	"github.com/carrierhub/hub/engine/store"
)

// sharedRate returns the rate limit the executor shares with other replicas:
// the store's on Postgres, where many replicas call the same carrier accounts,
// and none on the embedded SQLite store, where one process holds the store and
// its own token buckets are exact and cost no statement.
func sharedRate(cfg config.Store, st store.RateStore) resilience.SharedRate {
	if cfg.PostgresURL == "" {
		return nil
	}
	return storeRate{st}
}

// storeRate is resilience.SharedRate over the store's rate limits.
type storeRate struct{ st store.RateStore }

var _ resilience.SharedRate = storeRate{}

// Reserve reserves a slot with store.RateStore.ReserveRate.
func (r storeRate) Reserve(ctx context.Context, key string, interval, tolerance time.Duration, now time.Time, maxWait time.Duration) (resilience.RateReservation, error) {
	res, err := r.st.ReserveRate(ctx, key, interval, tolerance, now, maxWait)
	return resilience.RateReservation(res), err
}
