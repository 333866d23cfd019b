package model

import "testing"

func TestAdvances(t *testing.T) {
	for _, tc := range []struct {
		cur, next TrackingStatus
		want      bool
	}{
		// A new shipment (no status yet) or an unknown one may take any known status.
		{"", StatusPending, true},
		{"", StatusDelivered, true},
		{"", StatusUnknown, false},
		{StatusUnknown, StatusInTransit, true},
		{StatusUnknown, StatusUnknown, false},

		// The forward path.
		{StatusPending, StatusInTransit, true},
		{StatusInTransit, StatusOutForDelivery, true},
		{StatusOutForDelivery, StatusDelivered, true},
		{StatusPending, StatusDelivered, true},
		{StatusInTransit, StatusReturning, true},
		{StatusReturning, StatusReturned, true},
		{StatusPending, StatusCancelled, true},

		// Repeats of a non-terminal status refresh it.
		{StatusInTransit, StatusInTransit, true},
		{StatusReturning, StatusReturning, true},

		// Late events do not move a shipment backwards.
		{StatusInTransit, StatusPending, false},
		{StatusOutForDelivery, StatusInTransit, false},
		{StatusAttemptFailed, StatusInTransit, false},
		{StatusReturning, StatusOutForDelivery, false},
		{StatusReturning, StatusDelivered, false},
		{StatusReturning, StatusInTransit, false},

		// The last-mile stage alternates freely.
		{StatusOutForDelivery, StatusAttemptFailed, true},
		{StatusAttemptFailed, StatusOutForDelivery, true},
		{StatusAttemptFailed, StatusAvailableForPickup, true},
		{StatusAvailableForPickup, StatusOutForDelivery, true},
		{StatusAttemptFailed, StatusReturning, true},

		// Exception is entered from anything non-terminal and left to anything known.
		{StatusPending, StatusException, true},
		{StatusReturning, StatusException, true},
		{StatusException, StatusException, true},
		{StatusException, StatusInTransit, true},
		{StatusException, StatusPending, true},
		{StatusException, StatusDelivered, true},
		{StatusException, StatusUnknown, false},

		// Nothing moves to unknown.
		{StatusPending, StatusUnknown, false},
		{StatusOutForDelivery, StatusUnknown, false},

		// Terminal statuses never change.
		{StatusDelivered, StatusReturning, false},
		{StatusDelivered, StatusException, false},
		{StatusDelivered, StatusDelivered, false},
		{StatusReturned, StatusDelivered, false},
		{StatusReturned, StatusException, false},
		{StatusCancelled, StatusPending, false},
		{StatusCancelled, StatusInTransit, false},

		// A status outside the vocabulary never advances anything.
		{StatusInTransit, "moving", false},
		{StatusPending, "", false},
	} {
		if got := tc.cur.Advances(tc.next); got != tc.want {
			t.Errorf("%q.Advances(%q) = %v, want %v", tc.cur, tc.next, got, tc.want)
		}
	}
}

// TestAdvancesProperties checks the rules of TRACKING.md over every pair of statuses.
func TestAdvancesProperties(t *testing.T) {
	seen := map[TrackingStatus]bool{}
	for _, s := range TrackingStatuses {
		if seen[s] {
			t.Errorf("%q listed twice", s)
		}
		seen[s] = true
		if s != StatusUnknown && s != StatusException {
			if _, ok := rank[s]; !ok {
				t.Errorf("%q has no rank", s)
			}
		}
	}
	for _, cur := range TrackingStatuses {
		for _, next := range TrackingStatuses {
			got := cur.Advances(next)
			switch {
			case cur.Terminal():
				if got {
					t.Errorf("terminal %q advanced to %q", cur, next)
				}
			case next == StatusUnknown:
				if got {
					t.Errorf("%q advanced to unknown", cur)
				}
			case next == StatusException, cur == StatusException, cur == StatusUnknown:
				if !got {
					t.Errorf("%q may not move to %q", cur, next)
				}
			case next == StatusCancelled:
				if want := cur == StatusPending; got != want {
					t.Errorf("%q.Advances(cancelled) = %v; only pending may be cancelled", cur, got)
				}
			default:
				if want := rank[next] >= rank[cur]; got != want {
					t.Errorf("%q.Advances(%q) = %v, against the ranks", cur, next, got)
				}
			}
		}
	}
}

// TestAdvancesFoldsOutOfOrderEvents replays events in arrival order, applying each
// only when it advances, as the engine does.
func TestAdvancesFoldsOutOfOrderEvents(t *testing.T) {
	for _, tc := range []struct {
		name    string
		arrived []TrackingStatus
		want    TrackingStatus
	}{
		{"in order", []TrackingStatus{StatusPending, StatusInTransit, StatusOutForDelivery, StatusDelivered}, StatusDelivered},
		{"late scans after delivery", []TrackingStatus{StatusPending, StatusDelivered, StatusInTransit, StatusOutForDelivery, StatusException}, StatusDelivered},
		{"two attempts then RTO", []TrackingStatus{StatusInTransit, StatusOutForDelivery, StatusAttemptFailed, StatusOutForDelivery, StatusAttemptFailed, StatusReturning, StatusOutForDelivery, StatusReturned}, StatusReturned},
		{"held then released", []TrackingStatus{StatusInTransit, StatusException, StatusInTransit, StatusOutForDelivery}, StatusOutForDelivery},
		{"unmapped events ignored", []TrackingStatus{StatusUnknown, StatusPending, StatusUnknown, StatusInTransit, StatusUnknown}, StatusInTransit},
		{"cancelled stays cancelled", []TrackingStatus{StatusPending, StatusCancelled, StatusInTransit}, StatusCancelled},
	} {
		var cur TrackingStatus
		for _, next := range tc.arrived {
			if cur.Advances(next) {
				cur = next
			}
		}
		if cur == "" {
			cur = StatusUnknown
		}
		if cur != tc.want {
			t.Errorf("%s: ended %q, want %q", tc.name, cur, tc.want)
		}
	}
}

func TestTerminal(t *testing.T) {
	for _, s := range TrackingStatuses {
		want := s == StatusDelivered || s == StatusReturned || s == StatusCancelled
		if s.Terminal() != want {
			t.Errorf("%q.Terminal() = %v", s, !want)
		}
	}
}
