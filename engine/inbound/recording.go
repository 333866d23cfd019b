package inbound

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/carrierhub/hub/engine/events"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
	"github.com/tidwall/gjson"
)

// Recorder records a successful call's canonical response (engine/events/recorder
// satisfies it).
type Recorder interface {
	// AfterCall records the response of operation op and returns the events appended.
	AfterCall(ctx context.Context, tenantID, connectorID, accountID string, op sdk.Operation, response []byte) ([]events.Stored, error)
	// AfterCreate records a create_shipment response and, in the same
	// transaction, schedules the shipment's first poll at firstPoll (nil for
	// none) unless one is scheduled already.
	AfterCreate(ctx context.Context, tenantID, connectorID, accountID string, response []byte, firstPoll *time.Time) ([]events.Stored, error)
}

// Scheduler is the part of the store that keeps shipments' poll times.
type Scheduler interface {
	// GetShipment returns a shipment, or store.ErrNotFound.
	GetShipment(ctx context.Context, tenantID, connectorID, trackingNumber string) (store.Shipment, error)
	// SetNextPoll sets when a shipment is next polled; the zero time clears it.
	SetNextPoll(ctx context.Context, tenantID, connectorID, trackingNumber string, at time.Time) error
}

// Recording is the router's AfterCall with inbound's additions around the
// recorder: a receive_push response is recorded as the tracking results (through
// the same ApplyTracking as track, so a retried push appends nothing twice) and
// proofs of delivery it carries; booked and tracked shipments get their first
// poll scheduled; and a pushed shipment's next poll is deferred by the schedule's
// PushSilence.
type Recording struct {
	// Recorder records the state and events; required.
	Recorder Recorder
	// Store keeps poll times; required when Polls is set.
	Store Scheduler
	// Polls schedules polls; false records only.
	Polls bool
	// Schedule gives the first poll's delay and the push silence.
	Schedule Schedule
	// Tracks reports whether a connector serves track (only then is a shipment
	// polled); nil means every connector does.
	Tracks func(connectorID string) bool
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// AfterCall records a successful call; see Recording.
func (r *Recording) AfterCall(ctx context.Context, tenantID, connectorID, accountID string, op sdk.Operation, response []byte) error {
	switch op {
	case sdk.OpReceivePush:
		return r.recordPush(ctx, tenantID, connectorID, accountID, response)
	case sdk.OpCreateShipment:
		// The booking and its first poll are one transaction.
		_, err := r.Recorder.AfterCreate(ctx, tenantID, connectorID, accountID, response, r.firstPoll(connectorID))
		return err
	case sdk.OpTrack:
		_, err := r.Recorder.AfterCall(ctx, tenantID, connectorID, accountID, op, response)
		if r.polls(connectorID) {
			// Only the numbers are needed here: gjson reads them without decoding
			// the whole answer a second time.
			err = errors.Join(err, r.schedule(ctx, tenantID, connectorID, appliedNumbers(response), 0))
		}
		return err
	}
	_, err := r.Recorder.AfterCall(ctx, tenantID, connectorID, accountID, op, response)
	return err
}

// recordPush records a receive_push response as track and get_pod responses.
func (r *Recording) recordPush(ctx context.Context, tenantID, connectorID, accountID string, response []byte) error {
	var resp model.PushResponse
	if err := json.Unmarshal(response, &resp); err != nil {
		return fmt.Errorf("recording receive_push: decoding response: %w", err)
	}
	var errs []error
	if len(resp.Results) > 0 {
		track, err := json.Marshal(model.TrackResponse{Results: resp.Results})
		if err != nil {
			return fmt.Errorf("recording receive_push: %w", err)
		}
		if _, err := r.Recorder.AfterCall(ctx, tenantID, connectorID, accountID, sdk.OpTrack, track); err != nil {
			errs = append(errs, err)
		}
	}
	for _, pod := range resp.PODs {
		data, err := json.Marshal(pod)
		if err == nil {
			_, err = r.Recorder.AfterCall(ctx, tenantID, connectorID, accountID, sdk.OpGetPOD, data)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("proof of delivery of %q: %w", pod.TrackingNumber, err))
		}
	}
	if r.Schedule.PushSilence > 0 {
		errs = append(errs, r.schedule(ctx, tenantID, connectorID, applied(resp.Results), r.Schedule.PushSilence))
	}
	return errors.Join(errs...)
}

// appliedNumbers lists the numbers of a track response's results without an item
// error, as applied does for a decoded one.
func appliedNumbers(response []byte) []string {
	var out []string
	gjson.GetBytes(response, "results").ForEach(func(_, tr gjson.Result) bool {
		n := tr.Get("tracking_number")
		if e := tr.Get("error"); (!e.Exists() || e.Type == gjson.Null) && n.Type == gjson.String && n.Str != "" {
			out = append(out, n.Str)
		}
		return true
	})
	return out
}

// polls reports whether shipments of the connector get polls scheduled.
func (r *Recording) polls(connectorID string) bool {
	return r.Polls && (r.Tracks == nil || r.Tracks(connectorID))
}

// applied lists the numbers of the results without an item error.
func applied(results []model.Tracking) []string {
	out := make([]string, 0, len(results))
	for _, tr := range results {
		if tr.Error == nil && tr.TrackingNumber != "" {
			out = append(out, tr.TrackingNumber)
		}
	}
	return out
}

// firstPoll is when a new booking of connectorID is first polled; nil when
// its shipments are not polled.
func (r *Recording) firstPoll(connectorID string) *time.Time {
	if !r.polls(connectorID) {
		return nil
	}
	wait, ok := r.Schedule.Next(model.StatusPending)
	if !ok {
		return nil
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	at := now().Add(wait)
	return &at
}

// schedule sets the next poll of shipments that are not terminal: at now+defer
// when defer is set (a push), overriding any earlier time; otherwise at the
// status's delay, and only for shipments with no poll scheduled (a poller's claim
// or an earlier schedule is left alone).
func (r *Recording) schedule(ctx context.Context, tenantID, connectorID string, numbers []string, deferBy time.Duration) error {
	if len(numbers) == 0 || !r.polls(connectorID) {
		return nil
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	var errs []error
	for _, n := range numbers {
		sh, err := r.Store.GetShipment(ctx, tenantID, connectorID, n)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("scheduling the poll of %q: %w", n, err))
			continue
		}
		wait, ok := r.Schedule.Next(sh.Status)
		if !ok || (deferBy == 0 && sh.NextPollAt != nil) {
			continue
		}
		if deferBy > 0 {
			wait = deferBy
		}
		if err := r.Store.SetNextPoll(ctx, tenantID, connectorID, n, now().Add(wait)); err != nil && !errors.Is(err, store.ErrNotFound) {
			errs = append(errs, fmt.Errorf("scheduling the poll of %q: %w", n, err))
		}
	}
	return errors.Join(errs...)
}
