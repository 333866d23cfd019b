package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/itchyny/gojq"
	"github.com/redpanda-data/benthos/v4/public/bloblang"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure" // Bloblang's time functions
	"github.com/tidwall/gjson"

	"github.com/carrierhub/hub/mappings"
	"github.com/carrierhub/hub/sdk/model"
)

// translator maps one FedEx Track response to canonical JSON, appended to dst.
type translator struct {
	name string
	fn   func(dst, in []byte) ([]byte, error)
}

// mappingDir is where the FedEx showcase mapping and its status table live.
var mappingDir = filepath.Join("..", "connectors", "fedex", "mappings")

// statusRow is one row of fedex-status.csv.
type statusRow struct{ status, sub string }

func loadStatusTable() (map[string]statusRow, error) {
	f, err := os.Open(filepath.Join(mappingDir, "fedex-status.csv"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comment = '#'
	rows, err := r.ReadAll()
	if err != nil {
		return nil, err
	}
	t := map[string]statusRow{}
	for _, row := range rows[1:] {
		t[row[0]] = statusRow{row[1], row[2]}
	}
	return t, nil
}

// translators builds the four implementations of the same translation.
func translators() ([]translator, error) {
	table, err := loadStatusTable()
	if err != nil {
		return nil, err
	}
	prog, err := mappings.CompileFile(filepath.Join(mappingDir, "track.mapping"), mappings.Options{})
	if err != nil {
		return nil, err
	}
	blob, err := newBloblang(table)
	if err != nil {
		return nil, fmt.Errorf("bloblang: %w", err)
	}
	jq, err := newGojq(table)
	if err != nil {
		return nil, fmt.Errorf("gojq: %w", err)
	}
	return []translator{
		{"hub mapping", prog.ApplyJSON},
		{"hand-written gjson", func(dst, in []byte) ([]byte, error) { return handGJSON(table, dst, in) }},
		{"bloblang", blob},
		{"gojq", jq},
	}, nil
}

// --- hand-written gjson: what a Go developer writes without a mapping language.

const fedexLayout = "2006-01-02T15:04:05"

func fedexTime(s string) (*time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		if t, err = time.Parse(fedexLayout, s); err != nil {
			return nil, fmt.Errorf("time %q: %w", s, err)
		}
	}
	return &t, nil
}

func title(s string) string {
	b := []rune(strings.ToLower(s))
	start := true
	for i, r := range b {
		if unicode.IsLetter(r) {
			if start {
				b[i] = unicode.ToUpper(r)
			}
			start = false
		} else {
			start = true
		}
	}
	return string(b)
}

func location(l gjson.Result, facility string) *model.EventLocation {
	loc := model.EventLocation{
		Facility:    facility,
		City:        title(l.Get("city").String()),
		State:       l.Get("stateOrProvinceCode").String(),
		PostalCode:  l.Get("postalCode").String(),
		CountryCode: l.Get("countryCode").String(),
	}
	if loc == (model.EventLocation{}) {
		return nil
	}
	return &loc
}

func handGJSON(table map[string]statusRow, dst, in []byte) ([]byte, error) {
	if !gjson.ValidBytes(in) {
		return dst, errors.New("malformed JSON")
	}
	resp := model.TrackResponse{Results: []model.Tracking{}}
	var err error
	gjson.GetBytes(in, "output.completeTrackResults").ForEach(func(_, c gjson.Result) bool {
		c.Get("trackResults").ForEach(func(_, r gjson.Result) bool {
			var t model.Tracking
			if t, err = handResult(table, r); err != nil {
				return false
			}
			resp.Results = append(resp.Results, t)
			return true
		})
		return err == nil
	})
	if err != nil {
		return dst, err
	}
	out, err := json.Marshal(&resp)
	return append(dst, out...), err
}

func handResult(table map[string]statusRow, r gjson.Result) (model.Tracking, error) {
	t := model.Tracking{TrackingNumber: r.Get("trackingNumberInfo.trackingNumber").String()}
	if t.TrackingNumber == "" {
		return t, errors.New("trackingNumberInfo.trackingNumber is missing")
	}
	latest := r.Get("latestStatusDetail")
	code := latest.Get("code")
	if !code.Exists() {
		code = latest.Get("derivedCode")
	}
	fail := r.Get("error")
	switch {
	case fail.Exists():
		t.Status = model.StatusUnknown
		if strings.Contains(fail.Get("code").String(), "NOTFOUND") {
			t.SubStatus = "not_found"
		}
	default:
		t.Status = model.StatusUnknown
		if row, ok := table[code.String()]; ok && code.Exists() {
			t.Status = model.TrackingStatus(row.status)
		}
		if code.Exists() {
			if row, ok := table[code.String()]; ok {
				t.SubStatus = row.sub
			} else {
				t.SubStatus = "unmapped"
			}
		}
	}
	t.Reason = latest.Get("ancillaryDetails.0.reasonDescription").String()
	t.RawCode = code.String()
	if d := latest.Get("description"); d.Exists() {
		t.RawText = d.String()
	} else {
		t.RawText = latest.Get("statusByLocale").String()
	}
	t.Location = location(latest.Get("scanLocation"), "")
	var estimated, delivered string
	r.Get("dateAndTimes").ForEach(func(_, d gjson.Result) bool {
		switch d.Get("type").String() {
		case "ESTIMATED_DELIVERY":
			if estimated == "" {
				estimated = d.Get("dateTime").String()
			}
		case "ACTUAL_DELIVERY":
			if delivered == "" {
				delivered = d.Get("dateTime").String()
			}
		}
		return true
	})
	if estimated == "" {
		estimated = r.Get("estimatedDeliveryTimeWindow.window.ends").String()
	}
	var err error
	if estimated != "" {
		if t.EstimatedDelivery, err = fedexTime(estimated); err != nil {
			return t, err
		}
	}
	if delivered != "" {
		if t.DeliveredAt, err = fedexTime(delivered); err != nil {
			return t, err
		}
	}
	if rb := r.Get("deliveryDetails.receivedByName"); rb.Exists() {
		t.ReceivedBy = rb.String()
	} else {
		t.ReceivedBy = r.Get("deliveryDetails.signedByName").String()
	}
	scans := r.Get("scanEvents").Array()
	for i := len(scans) - 1; i >= 0; i-- {
		s := scans[i]
		at, err := fedexTime(s.Get("date").String())
		if err != nil {
			return t, err
		}
		sc := s.Get("eventType")
		if !sc.Exists() {
			sc = s.Get("derivedStatusCode")
		}
		ev := model.TrackingEvent{Time: *at, Status: model.StatusUnknown, SubStatus: "unmapped",
			RawCode: s.Get("eventType").String(), RawText: s.Get("eventDescription").String(),
			Location: location(s.Get("scanLocation"), s.Get("locationId").String())}
		if row, ok := table[sc.String()]; ok && sc.Exists() {
			ev.Status, ev.SubStatus = model.TrackingStatus(row.status), row.sub
		}
		t.Events = append(t.Events, ev)
	}
	if fail.Exists() {
		e := &model.ItemError{Code: "invalid_request", Message: "FedEx could not track this number",
			CarrierCode: fail.Get("code").String(), CarrierMessage: fail.Get("message").String()}
		if strings.Contains(e.CarrierCode, "NOTFOUND") {
			e.Code = "not_found"
		}
		t.Error = e
	}
	return t, nil
}

// --- Bloblang.

func tableLiteral(table map[string]statusRow, col func(statusRow) string) string {
	keys := make([]string, 0, len(table))
	for k := range table {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("({")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q: %q", k, col(table[k]))
	}
	b.WriteString("})")
	return b.String()
}

// bloblangMapping is the FedEx translation in Bloblang. Absent fields become
// null and each object drops its null and empty members, which is how Bloblang
// authors usually say "omit when empty".
const bloblangMapping = `
map loc {
  root = {
    "facility": this.facility,
    "city": this.l.city.or("").lowercase().capitalize(),
    "state": this.l.stateOrProvinceCode,
    "postal_code": this.l.postalCode,
    "country_code": this.l.countryCode,
  }.filter(kv -> kv.value != null && kv.value != "")
}

map fedex_time {
  let s = this
  root = $s.ts_parse("2006-01-02T15:04:05Z07:00").catch($s.ts_parse("2006-01-02T15:04:05")).ts_format("2006-01-02T15:04:05.999999999Z07:00")
}

map scan {
  let sc = this.eventType.or(this.derivedStatusCode)
  let sloc = {"l": this.scanLocation.or({}), "facility": this.locationId}.apply("loc")
  root = {
    "time": this.date.apply("fedex_time"),
    "status": STATUS.get($sc).or("unknown"),
    "sub_status": SUBSTATUS.get($sc).or("unmapped"),
    "raw_code": this.eventType,
    "raw_text": this.eventDescription,
    "location": if $sloc.length() > 0 { $sloc } else { null },
  }.filter(kv -> kv.value != null && kv.value != "")
}

map track_result {
  let latest = this.latestStatusDetail
  let code = $latest.code.or($latest.derivedCode)
  let failed = this.error != null
  let loc = {"l": $latest.scanLocation.or({})}.apply("loc")
  let est = this.dateAndTimes.or([]).filter(d -> d.type == "ESTIMATED_DELIVERY").index(0).dateTime.catch(null).or(this.estimatedDeliveryTimeWindow.window.ends)
  let del = this.dateAndTimes.or([]).filter(d -> d.type == "ACTUAL_DELIVERY").index(0).dateTime.catch(null)
  let events = this.scanEvents.or([]).enumerated().sort_by(e -> 0 - e.index).map_each(e -> e.value.apply("scan"))
  let notfound = this.error.code.or("").contains("NOTFOUND")
  root = {
    "tracking_number": this.trackingNumberInfo.trackingNumber.not_empty(),
    "status": if $failed { "unknown" } else { STATUS.get($code).or("unknown") },
    "sub_status": if $failed {
      if $notfound { "not_found" } else { null }
    } else if $code == null { null } else { SUBSTATUS.get($code).or("unmapped") },
    "reason": $latest.ancillaryDetails.index(0).reasonDescription.catch(null),
    "raw_code": $code,
    "raw_text": $latest.description.or($latest.statusByLocale),
    "location": if $loc.length() > 0 { $loc } else { null },
    "estimated_delivery": if $est != null { $est.apply("fedex_time") } else { null },
    "delivered_at": if $del != null { $del.apply("fedex_time") } else { null },
    "received_by": this.deliveryDetails.receivedByName.or(this.deliveryDetails.signedByName),
    "events": if $events.length() > 0 { $events } else { null },
    "error": if $failed { {
      "code": if $notfound { "not_found" } else { "invalid_request" },
      "message": "FedEx could not track this number",
      "carrier_code": this.error.code,
      "carrier_message": this.error.message,
    }.filter(kv -> kv.value != null && kv.value != "") } else { null },
  }.filter(kv -> kv.value != null && kv.value != "")
}

root.results = this.output.completeTrackResults.map_each(c -> c.trackResults).flatten().map_each(r -> r.apply("track_result"))
`

func newBloblang(table map[string]statusRow) (func(dst, in []byte) ([]byte, error), error) {
	src := strings.NewReplacer(
		"STATUS", tableLiteral(table, func(r statusRow) string { return r.status }),
		"SUBSTATUS", tableLiteral(table, func(r statusRow) string { return r.sub }),
	).Replace(bloblangMapping)
	exec, err := bloblang.Parse(src)
	if err != nil {
		return nil, err
	}
	return func(dst, in []byte) ([]byte, error) {
		var v any
		if err := json.Unmarshal(in, &v); err != nil {
			return dst, err
		}
		res, err := exec.Query(v)
		if err != nil {
			return dst, err
		}
		out, err := json.Marshal(res)
		return append(dst, out...), err
	}, nil
}

// --- gojq.

// jqProgram is the FedEx translation in jq. jq has no time zones, so a time
// with an offset is checked and kept and one without gets Z, which is what the
// other implementations produce.
const jqProgram = `
def fedex_time:
  if test("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(Z|[+-]\\d\\d:\\d\\d)$") then sub("\\+00:00$"; "Z")
  elif test("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d$") then . + "Z"
  else error("bad time: \(.)") end;
def title: ascii_downcase | gsub("(?<a>(^|[^a-z])[a-z])"; .a | ascii_upcase);
def compact: with_entries(select(.value != null and .value != ""));
def loc($l; $facility): {facility: $facility, city: ($l.city // "" | title), state: $l.stateOrProvinceCode,
  postal_code: $l.postalCode, country_code: $l.countryCode} | compact | if length > 0 then . else null end;
{results: [.output.completeTrackResults[]?.trackResults[]? | . as $r
  | ($r.latestStatusDetail) as $latest
  | ($latest.code // $latest.derivedCode) as $code
  | ($r.error != null) as $failed
  | ([$r.dateAndTimes[]? | select(.type == "ESTIMATED_DELIVERY") | .dateTime][0] // $r.estimatedDeliveryTimeWindow.window.ends) as $est
  | ([$r.dateAndTimes[]? | select(.type == "ACTUAL_DELIVERY") | .dateTime][0]) as $del
  | ([$r.scanEvents // [] | reverse[] | (.eventType // .derivedStatusCode) as $sc | {
      time: (.date | fedex_time),
      status: ($status[$sc] // "unknown"),
      sub_status: ($sub[$sc] // "unmapped"),
      raw_code: .eventType,
      raw_text: .eventDescription,
      location: loc(.scanLocation // {}; .locationId)
    } | compact]) as $events
  | {
    tracking_number: ($r.trackingNumberInfo.trackingNumber // error("trackingNumber is missing")),
    status: (if $failed then "unknown" else ($status[$code // ""] // "unknown") end),
    sub_status: (if $failed then (if ($r.error.code // "" | contains("NOTFOUND")) then "not_found" else null end)
                 elif $code == null then null else ($sub[$code] // "unmapped") end),
    reason: ($latest.ancillaryDetails[0]?.reasonDescription),
    raw_code: $code,
    raw_text: ($latest.description // $latest.statusByLocale),
    location: loc($latest.scanLocation // {}; null),
    estimated_delivery: (if $est != null then $est | fedex_time else null end),
    delivered_at: (if $del != null then $del | fedex_time else null end),
    received_by: ($r.deliveryDetails.receivedByName // $r.deliveryDetails.signedByName),
    events: (if ($events | length) > 0 then $events else null end),
    error: (if $failed then {
      code: (if ($r.error.code // "" | contains("NOTFOUND")) then "not_found" else "invalid_request" end),
      message: "FedEx could not track this number",
      carrier_code: $r.error.code, carrier_message: $r.error.message} | compact else null end)
  } | compact]}
`

func newGojq(table map[string]statusRow) (func(dst, in []byte) ([]byte, error), error) {
	q, err := gojq.Parse(jqProgram)
	if err != nil {
		return nil, err
	}
	code, err := gojq.Compile(q, gojq.WithVariables([]string{"$status", "$sub"}))
	if err != nil {
		return nil, err
	}
	status, sub := map[string]any{}, map[string]any{}
	for k, r := range table {
		status[k] = r.status
		sub[k] = r.sub
	}
	return func(dst, in []byte) ([]byte, error) {
		var v any
		if err := json.Unmarshal(in, &v); err != nil {
			return dst, err
		}
		iter := code.Run(v, status, sub)
		res, ok := iter.Next()
		if !ok {
			return dst, errors.New("no result")
		}
		if err, isErr := res.(error); isErr {
			return dst, err
		}
		out, err := json.Marshal(res)
		return append(dst, out...), err
	}, nil
}
