package declarative

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/gjson"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
)

// defaultParallelism bounds a fan-out's concurrent requests when the binding
// names no bound.
const defaultParallelism = 4

// tracked gathers a track call's results by number as the fan-out's answers
// arrive: the raw canonical results the response mapping wrote, and the
// refusals that concern one number only.
type tracked struct {
	mu      sync.Mutex
	results map[string][]string
	refused map[string]*sdk.Error
	err     error
}

func (t *tracked) add(out []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, r := range gjson.GetBytes(out, "results").Array() {
		n := r.Get("tracking_number").String()
		t.results[n] = append(t.results[n], r.Raw)
	}
}

func (t *tracked) fail(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err == nil {
		t.err = err
	}
}

func (t *tracked) refuse(n string, e *sdk.Error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refused[n] = e
}

// track serves a track call through the binding's fan-out and assembles the
// canonical contract: exactly one result per requested number, in request
// order; several provider records for one number merged into one, the latest
// scan deciding; a number the provider did not answer for a per-number
// not_found.
func (ex *exchanger) track(ctx context.Context, fan *sdk.FanOut) ([]byte, error) {
	numbers, err := trackingNumbers(ex.call.Payload)
	if err != nil {
		return nil, err
	}
	uniq := distinct(numbers)
	ex.unitFields = otherFields(ex.call.Payload)
	t := &tracked{results: map[string][]string{}, refused: map[string]*sdk.Error{}}
	par := fan.Parallelism
	if par <= 0 {
		par = defaultParallelism
	}
	switch fan.Mode {
	case sdk.FanOutPerItem:
		ex.each(ctx, uniq, par, t, false)
	case sdk.FanOutBatch:
		var chunks [][]string
		for batch := range slices.Chunk(uniq, fan.Size) {
			chunks = append(chunks, batch)
		}
		parallel(len(chunks), par, func(i int) {
			chunk := chunks[i]
			out, err := ex.run(ctx, ex.unitRequest("tracking_numbers", chunk), "")
			switch {
			case err == nil:
				t.add(out)
			case perNumber(err) && len(chunk) == 1:
				t.refuse(chunk[0], sdk.AsError(err))
			case perNumber(err) && fan.Fallback == sdk.FanOutPerItem:
				ex.each(ctx, chunk, par, t, true)
			default:
				t.fail(err)
			}
		})
	}
	if t.err != nil {
		return nil, t.err
	}
	return assemble(numbers, t)
}

// each asks for each number on its own: as a per-item exchange ({item} and
// {"tracking_number": N}), or as a batch of one (a refused batch's fallback).
func (ex *exchanger) each(ctx context.Context, numbers []string, par int, t *tracked, asBatch bool) {
	parallel(len(numbers), par, func(i int) {
		n := numbers[i]
		var (
			out []byte
			err error
		)
		if asBatch {
			out, err = ex.run(ctx, ex.unitRequest("tracking_numbers", []string{n}), "")
		} else {
			out, err = ex.run(ctx, ex.unitRequest("tracking_number", n), n)
		}
		switch {
		case err == nil:
			t.add(out)
		case perNumber(err):
			t.refuse(n, sdk.AsError(err))
		default:
			t.fail(err)
		}
	})
}

// perNumber reports whether a refusal concerns the numbers asked about (an
// unknown or malformed number) rather than the call (auth, outage, limits).
func perNumber(err error) bool {
	e := sdk.AsError(err)
	return e.Source == sdk.SourceCarrier && (e.Code == sdk.CodeNotFound || e.Code == sdk.CodeInvalidRequest)
}

// parallel runs f(0..n-1) at most par at a time and waits for all.
func parallel(n, par int, f func(i int)) {
	if n == 1 {
		f(0)
		return
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, par)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f(i)
		}()
	}
	wg.Wait()
}

// unitRequest is the canonical request one fan-out exchange's mapping reads:
// field (its number or numbers) and the call's other members.
func (ex *exchanger) unitRequest(field string, v any) []byte {
	b, _ := json.Marshal(map[string]any{field: v})
	if ex.unitFields == "" {
		return b // tracking_numbers alone, as nearly every call
	}
	out := make([]byte, 0, len(b)+len(ex.unitFields)+1)
	out = append(out, b[:len(b)-1]...)
	out = append(out, ',')
	out = append(out, ex.unitFields...)
	return append(out, '}')
}

// otherFields is the call's members other than tracking_numbers, as JSON
// object members ("courier_id":"6"), written once per call for its units.
func otherFields(payload []byte) string {
	var b strings.Builder
	gjson.ParseBytes(payload).ForEach(func(k, val gjson.Result) bool {
		if k.String() == "tracking_numbers" {
			return true
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k.Raw)
		b.WriteByte(':')
		b.WriteString(val.Raw)
		return true
	})
	return b.String()
}

// trackingNumbers reads and checks the call's tracking numbers.
func trackingNumbers(payload []byte) ([]string, error) {
	arr := gjson.GetBytes(payload, "tracking_numbers")
	if !arr.IsArray() || len(arr.Array()) == 0 {
		return nil, unsent(sdk.InvalidField("/tracking_numbers", "tracking_numbers must be a non-empty list"))
	}
	var out []string
	for i, n := range arr.Array() {
		s := strings.TrimSpace(n.String())
		if n.Type != gjson.String || s == "" {
			return nil, unsent(sdk.InvalidField(fmt.Sprintf("/tracking_numbers/%d", i), "each tracking number must be a non-empty string"))
		}
		out = append(out, s)
	}
	return out, nil
}

func distinct(ns []string) []string {
	seen := make(map[string]bool, len(ns))
	out := make([]string, 0, len(ns))
	for _, n := range ns {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// assemble writes {"results": [...]} with one result per requested number.
func assemble(numbers []string, t *tracked) ([]byte, error) {
	// Providers may echo a number in another case or with spaces: index those
	// too, after the exact spelling.
	loose := make(map[string][]string, len(t.results))
	for n, rs := range t.results {
		k := looseKey(n)
		loose[k] = append(loose[k], rs...)
	}
	out := make([]byte, 0, 256*len(numbers))
	out = append(out, `{"results":[`...)
	for i, n := range numbers {
		if i > 0 {
			out = append(out, ',')
		}
		rs, ok := t.results[n]
		if !ok {
			rs = loose[looseKey(n)]
		}
		switch {
		case len(rs) == 1:
			r := rs[0]
			if gjson.Get(r, "tracking_number").String() != n {
				r = withNumber(r, n)
			}
			out = append(out, r...)
		case len(rs) > 1:
			merged, err := merge(n, rs)
			if err != nil {
				return nil, err
			}
			out = append(out, merged...)
		default:
			out = append(out, notFound(n, t.refused[n])...)
		}
	}
	return append(out, "]}"...), nil
}

func looseKey(n string) string { return strings.ToUpper(strings.Join(strings.Fields(n), "")) }

// withNumber rewrites a result's tracking_number to the requested spelling.
func withNumber(raw, n string) string {
	var m map[string]json.RawMessage
	if json.Unmarshal([]byte(raw), &m) != nil {
		return raw
	}
	m["tracking_number"], _ = json.Marshal(n)
	b, _ := json.Marshal(m)
	return string(b)
}

// notFound is the per-number result of a number the provider did not answer
// for, keeping its refusal's words when it gave one.
func notFound(n string, e *sdk.Error) []byte {
	ie := &model.ItemError{Code: string(sdk.CodeNotFound), Message: "the provider returned no result for this number"}
	if e != nil {
		ie.Code, ie.Message, ie.CarrierCode, ie.CarrierMessage = string(e.Code), e.Message, e.CarrierCode, e.CarrierMessage
	}
	sub := "not_found"
	if ie.Code != string(sdk.CodeNotFound) {
		sub = "refused"
	}
	b, _ := json.Marshal(model.Tracking{TrackingNumber: n, Status: model.StatusUnknown, SubStatus: sub, Error: ie})
	return b
}

// merge makes one result of several provider records for one number: the
// record with the latest scan decides the status, and the scans of all are
// kept once each, oldest first.
func merge(n string, raws []string) ([]byte, error) {
	recs := make([]model.Tracking, 0, len(raws))
	for _, r := range raws {
		var t model.Tracking
		if err := json.Unmarshal([]byte(r), &t); err != nil {
			return nil, sdk.Errorf(sdk.CodeInternal, "reading the response mapping's result for %s: %v", n, err)
		}
		recs = append(recs, t)
	}
	best := 0
	for i := range recs {
		if latest(&recs[i]).After(latest(&recs[best])) || (recs[best].Error != nil && recs[i].Error == nil) {
			best = i
		}
	}
	out := recs[best]
	out.TrackingNumber = n
	type key struct {
		t    int64
		code string
		text string
	}
	seen := map[key]bool{}
	var events []model.TrackingEvent
	for _, r := range recs {
		for _, e := range r.Events {
			k := key{e.Time.UnixNano(), e.RawCode, e.RawText}
			if !seen[k] {
				seen[k] = true
				events = append(events, e)
			}
		}
	}
	slices.SortStableFunc(events, func(a, b model.TrackingEvent) int { return a.Time.Compare(b.Time) })
	out.Events = events
	return json.Marshal(out)
}

// latest is the time of a record's newest scan.
func latest(t *model.Tracking) (max time.Time) {
	for _, e := range t.Events {
		if e.Time.After(max) {
			max = e.Time
		}
	}
	return max
}
