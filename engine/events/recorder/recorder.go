// Package recorder turns successful connector calls into shipment and e-way bill
// state and events: the router calls Recorder.AfterCall with a call's canonical
// response, and the store writes the state change and its events in one
// transaction. It imports the store, the events contract and the sdk's canonical
// model.
package recorder

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

// Store is what a Recorder writes to.
type Store interface {
	store.EventStore
	store.ShipmentStore
	store.EWayBillStore
}

// Recorder records the outcome of connector calls.
type Recorder struct {
	store  Store
	notify func()
}

// New returns a recorder over s; notify, when set, is called after events were
// appended (Relay.Notify), so they are relayed at once.
func New(s Store, notify func()) *Recorder { return &Recorder{store: s, notify: notify} }

// AfterCall records a successful call's response (the operation's canonical response
// JSON) and returns the events appended. create_shipment records the booking,
// cancel_shipment a confirmed cancellation, track each result without an item error;
// generate_eway_bill, update_eway_bill_vehicle and extend_eway_bill record the
// e-way bill with its validity and vehicle (store.EWayBillStore.RecordEWayBill: an
// event once per distinct response), and cancel_eway_bill its cancellation
// (eway_bill.cancelled), which stops its expiry notices; e-invoice
// generation and proofs of delivery append their events. Other operations
// record nothing (reads such as get_eway_bill included). A response that does
// not decode is an error; for track, the results that could be applied are
// applied and the others reported together.
func (r *Recorder) AfterCall(ctx context.Context, tenantID, connectorID, accountID string, op sdk.Operation, response []byte) ([]events.Stored, error) {
	return r.appended(r.record(ctx, tenantID, connectorID, accountID, op, response))
}

// appended tells the relay of the events a record appended, and returns them
// (an empty list rather than nil).
func (r *Recorder) appended(out []events.Stored, err error) ([]events.Stored, error) {
	if len(out) > 0 && r.notify != nil {
		r.notify()
	}
	if out == nil {
		out = []events.Stored{}
	}
	return out, err
}

// AfterCreate records a create_shipment response as AfterCall does, and
// schedules the shipment's first tracking poll at firstPoll (nil for none) in
// the same transaction, unless a poll is scheduled already.
func (r *Recorder) AfterCreate(ctx context.Context, tenantID, connectorID, accountID string, response []byte, firstPoll *time.Time) ([]events.Stored, error) {
	return r.appended(r.recordBooking(ctx, tenantID, connectorID, accountID, response, firstPoll))
}

// recordBooking records a create_shipment response.
func (r *Recorder) recordBooking(ctx context.Context, tenantID, connectorID, accountID string, response []byte, firstPoll *time.Time) ([]events.Stored, error) {
	var resp model.ShipmentResponse
	if err := json.Unmarshal(response, &resp); err != nil {
		return nil, fmt.Errorf("recording %s: decoding response: %w", sdk.OpCreateShipment, err)
	}
	return r.store.RecordShipment(ctx, store.Shipment{TenantID: tenantID, ConnectorID: connectorID, AccountID: accountID,
		TrackingNumber: resp.TrackingNumber, Reference: resp.Reference, NextPollAt: firstPoll}, response)
}

// eWayBillChanges is the event each e-way bill write appends.
var eWayBillChanges = map[sdk.Operation]events.Type{
	sdk.OpGenerateEWayBill:      events.EWayBillGenerated,
	sdk.OpUpdateEWayBillVehicle: events.EWayBillVehicleUpdated,
	sdk.OpExtendEWayBill:        events.EWayBillExtended,
}

func (r *Recorder) record(ctx context.Context, tenantID, connectorID, accountID string, op sdk.Operation, response []byte) ([]events.Stored, error) {
	decode := func(v any) error {
		if err := json.Unmarshal(response, v); err != nil {
			return fmt.Errorf("recording %s: decoding response: %w", op, err)
		}
		return nil
	}
	event := func(t events.Type, subject string, at time.Time) ([]events.Stored, error) {
		return r.store.AppendEvents(ctx, []events.Event{{Type: t, TenantID: tenantID, Subject: subject, Time: at,
			Connector: connectorID, Account: accountID, Data: json.RawMessage(response)}})
	}
	switch op {
	case sdk.OpCreateShipment:
		return r.recordBooking(ctx, tenantID, connectorID, accountID, response, nil)
	case sdk.OpCancelShipment:
		var resp model.CancelResponse
		if err := decode(&resp); err != nil {
			return nil, err
		}
		if !resp.Cancelled {
			return nil, nil
		}
		return r.store.CancelShipment(ctx, tenantID, connectorID, accountID, resp.TrackingNumber, response)
	case sdk.OpTrack:
		// One string for every read below: gjson.GetBytes copies what it finds.
		doc := string(response)
		results := gjson.Get(doc, "results")
		if !gjson.Valid(doc) || (results.Exists() && !results.IsArray() && results.Type != gjson.Null) {
			var resp model.TrackResponse
			return nil, decode(&resp)
		}
		var out []events.Stored
		var errs []error
		results.ForEach(func(_, res gjson.Result) bool {
			if e := res.Get("error"); e.Exists() && e.Type != gjson.Null {
				return true
			}
			// Most answers repeat what the hub has: tell them from news on the few
			// fields that decide it, and decode the whole result only for news.
			if light, ok := lightTracking(res); ok {
				if news, err := r.store.TrackingIsNews(ctx, tenantID, connectorID, light); err == nil && !news {
					return true
				}
			}
			var tr model.Tracking
			if err := json.Unmarshal([]byte(res.Raw), &tr); err != nil {
				errs = append(errs, fmt.Errorf("recording %s: decoding a result: %w", op, err))
				return true
			}
			evs, err := r.store.ApplyTracking(ctx, tenantID, connectorID, accountID, tr)
			if err != nil {
				errs = append(errs, fmt.Errorf("tracking %q: %w", tr.TrackingNumber, err))
				return true
			}
			out = append(out, evs...)
			return true
		})
		return out, errors.Join(errs...)
	case sdk.OpGenerateEWayBill, sdk.OpUpdateEWayBillVehicle, sdk.OpExtendEWayBill:
		var resp model.EWayBill
		if err := decode(&resp); err != nil {
			return nil, err
		}
		change := eWayBillChanges[op]
		b := store.EWayBill{TenantID: tenantID, Number: resp.Number, ConnectorID: connectorID, AccountID: accountID,
			ValidUntil: resp.ValidUntil, Vehicle: resp.VehicleNumber}
		if !resp.GeneratedAt.IsZero() {
			b.GeneratedAt = &resp.GeneratedAt
		}
		return r.store.RecordEWayBill(ctx, b, change, response)
	case sdk.OpCancelEWayBill:
		var resp model.EWayBill
		if err := decode(&resp); err != nil {
			return nil, err
		}
		if resp.Status != "" && resp.Status != string(store.EWayBillCancelled) {
			return nil, nil // the provider says it is not cancelled
		}
		return r.store.CancelEWayBill(ctx, tenantID, connectorID, accountID, resp.Number, response)
	case sdk.OpGenerateEInvoice:
		var resp model.EInvoice
		if err := decode(&resp); err != nil {
			return nil, err
		}
		return event(events.EInvoiceGenerated, resp.IRN, resp.AckDate)
	case sdk.OpGetPOD:
		var resp model.ProofOfDelivery
		if err := decode(&resp); err != nil {
			return nil, err
		}
		return event(events.PODReceived, resp.TrackingNumber, time.Time{})
	}
	return nil, nil
}

// lightTracking reads from one tracking result's JSON what store.TrackingIsNews
// looks at: number, status, sub-status, delivery time and event times. ok is
// false when any of them does not read as the model has it; the caller then
// decodes the result in full.
func lightTracking(res gjson.Result) (model.Tracking, bool) {
	num, st, sub := res.Get("tracking_number"), res.Get("status"), res.Get("sub_status")
	if num.Type != gjson.String || st.Type != gjson.String || (sub.Exists() && sub.Type != gjson.String) {
		return model.Tracking{}, false
	}
	tr := model.Tracking{TrackingNumber: num.Str, Status: model.TrackingStatus(st.Str), SubStatus: sub.Str}
	if d := res.Get("delivered_at"); d.Exists() && d.Type != gjson.Null {
		at, err := time.Parse(time.RFC3339, d.Str)
		if err != nil {
			return model.Tracking{}, false
		}
		tr.DeliveredAt = &at
	}
	ok := true
	res.Get("events").ForEach(func(_, ev gjson.Result) bool {
		at, err := time.Parse(time.RFC3339, ev.Get("time").Str)
		if err != nil {
			ok = false
			return false
		}
		tr.Events = append(tr.Events, model.TrackingEvent{Time: at})
		return true
	})
	return tr, ok
}
