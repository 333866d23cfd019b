package inbound

import (
	"math/rand/v2"
	"time"

	"github.com/carrierhub/hub/sdk/model"
)

// MaxBackoff is the longest a failing shipment waits for its next poll.
const MaxBackoff = 6 * time.Hour

// Schedule decides when a shipment is next polled.
type Schedule struct {
	// Interval is the poll interval of an in-transit shipment; 15 minutes when zero.
	Interval time.Duration
	// PushSilence is how long a push defers a shipment's next poll; zero leaves
	// the schedule alone.
	PushSilence time.Duration
}

func (s Schedule) interval() time.Duration {
	if s.Interval <= 0 {
		return 15 * time.Minute
	}
	return s.Interval
}

// Next returns how long after a poll a shipment in status st is polled again, and
// false when it is not polled again (a terminal status). Out for delivery, a
// failed attempt and waiting for pickup poll at a third of Interval (the last
// mile moves fast), pending and unknown at twice it (nothing moves before
// pickup), everything else at Interval.
func (s Schedule) Next(st model.TrackingStatus) (time.Duration, bool) {
	iv := s.interval()
	switch {
	case st.Terminal():
		return 0, false
	case st == model.StatusOutForDelivery || st == model.StatusAttemptFailed || st == model.StatusAvailableForPickup:
		return iv / 3, true
	case st == model.StatusPending || st == model.StatusUnknown || st == "":
		return 2 * iv, true
	}
	return iv, true
}

// Backoff returns the wait before the next poll after failures consecutive
// failed calls (1 for the first): Interval doubled per failure, capped at
// MaxBackoff, with the lower half jittered so replicas and batches spread out.
func (s Schedule) Backoff(failures int) time.Duration {
	d := s.interval()
	for i := 1; i < failures && d < MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, MaxBackoff)
	half := d / 2
	return half + rand.N(half+1)
}
