package delhivery

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
)

// credentialPushToken names the account credential a push must carry.
const credentialPushToken = "push_token"

// maxPushScans bounds the scans one push may carry.
const maxPushScans = 500

// pushScan is one scan of Delhivery's status push ("Tracking Via PUSH API - Web
// hook"): a Shipment object with the current Status, the waybill (AWB), the
// client's reference and the NSL code.
type pushScan struct {
	Shipment *struct {
		AWB         string `json:"AWB"`
		ReferenceNo string `json:"ReferenceNo"`
		NSLCode     string `json:"NSLCode"`
		Status      *struct {
			Status         string `json:"Status"`
			StatusType     string `json:"StatusType"`
			StatusDateTime string `json:"StatusDateTime"`
			StatusLocation string `json:"StatusLocation"`
			Instructions   string `json:"Instructions"`
		} `json:"Status"`
	} `json:"Shipment"`
}

// ReceivePush verifies and reads a scan Delhivery pushed to the hub's inbound
// URL. Delhivery signs nothing: the client gives Delhivery an authorization
// header to send, so the account's push_token must arrive as the Authorization
// header (bare, or after "Bearer " or "Token ") or, for set-ups that cannot add
// headers, as the token query parameter; it is compared in constant time. An
// account without a push_token refuses every push. The body is one scan object
// or an array of them; each becomes one tracking result with one event, mapped
// with the same status table as track.
func (c *Connector) ReceivePush(ctx context.Context, req *sdk.Request[model.PushRequest]) (*model.PushResponse, error) {
	want, err := req.Account.Credential(credentialPushToken)
	if err != nil {
		return nil, &sdk.Error{Code: sdk.CodeAuthFailed, Source: sdk.SourceConnector, NotSent: true,
			Message: "the account has no push_token credential; set one and give it to Delhivery as the push's Authorization header"}
	}
	if !pushTokenMatches(want, req.Body.Headers["authorization"], req.Body.Query["token"]) {
		return nil, &sdk.Error{Code: sdk.CodeAuthFailed, Source: sdk.SourceConnector, NotSent: true,
			Message: "the push carries no valid token (Authorization header or token query parameter)"}
	}
	scans, err := decodePush(req.Body.Body)
	if err != nil {
		return nil, unsent(err)
	}
	out := &model.PushResponse{Results: make([]model.Tracking, 0, len(scans))}
	for i, sc := range scans {
		tr, err := pushTracking(sc)
		if err != nil {
			return nil, unsent(sdk.InvalidField(fmt.Sprintf("/%d", i), "%v", err))
		}
		out.Results = append(out.Results, tr)
	}
	return out, nil
}

// pushTokenMatches compares the token found in the Authorization header or query
// with the account's, hashing both first so the comparison's time does not
// depend on where they differ or on their lengths.
func pushTokenMatches(want, authorization, query string) bool {
	w := sha256.Sum256([]byte(want))
	match := func(got string) bool {
		g := sha256.Sum256([]byte(got))
		return got != "" && subtle.ConstantTimeCompare(w[:], g[:]) == 1
	}
	auth := strings.TrimSpace(authorization)
	for _, scheme := range []string{"Bearer ", "Token "} {
		if len(auth) > len(scheme) && strings.EqualFold(auth[:len(scheme)], scheme) {
			auth = strings.TrimSpace(auth[len(scheme):])
			break
		}
	}
	return match(auth) || match(query)
}

// decodePush reads one scan object or an array of them.
func decodePush(body []byte) ([]pushScan, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, sdk.InvalidField("/body", "the push is empty")
	}
	var scans []pushScan
	if body[0] == '[' {
		if err := json.Unmarshal(body, &scans); err != nil {
			return nil, sdk.InvalidField("/body", "the push is not a JSON array of scans: %v", err)
		}
	} else {
		var one pushScan
		if err := json.Unmarshal(body, &one); err != nil {
			return nil, sdk.InvalidField("/body", "the push is not a JSON scan object: %v", err)
		}
		scans = []pushScan{one}
	}
	if len(scans) > maxPushScans {
		return nil, sdk.InvalidField("/body", "the push carries %d scans; at most %d are read", len(scans), maxPushScans)
	}
	return scans, nil
}

// pushTimeLayouts are the forms Delhivery writes StatusDateTime in: IST wall
// clock, with or without milliseconds.
var pushTimeLayouts = []string{"2006-01-02T15:04:05.000", "2006-01-02T15:04:05", "2006-01-02 15:04:05"}

// pushTracking maps one pushed scan onto a tracking result with one event.
func pushTracking(sc pushScan) (model.Tracking, error) {
	sh := sc.Shipment
	if sh == nil {
		return model.Tracking{}, fmt.Errorf("Shipment is missing")
	}
	awb := strings.TrimSpace(sh.AWB)
	if awb == "" {
		return model.Tracking{}, fmt.Errorf("Shipment.AWB is missing")
	}
	if sh.Status == nil {
		return model.Tracking{}, fmt.Errorf("Shipment.Status is missing")
	}
	st := sh.Status
	at, err := parseIST(st.StatusDateTime)
	if err != nil {
		return model.Tracking{}, fmt.Errorf("Shipment.Status.StatusDateTime %q is not a Delhivery time", st.StatusDateTime)
	}
	status, sub := MapStatus(st.StatusType, st.Status, sh.NSLCode)
	raw := st.StatusType + "/" + st.Status
	if sh.NSLCode != "" {
		raw += "/" + sh.NSLCode
	}
	text := st.Instructions
	if text == "" {
		text = st.Status
	}
	loc := pushLocation(st.StatusLocation)
	tr := model.Tracking{TrackingNumber: awb, Status: status, SubStatus: sub, RawCode: raw, RawText: text, Location: loc,
		Events: []model.TrackingEvent{{Time: at, Status: status, SubStatus: sub, RawCode: raw, RawText: text, Location: loc}}}
	if status == model.StatusAttemptFailed {
		tr.Reason = st.Instructions
	}
	if status == model.StatusDelivered {
		tr.DeliveredAt = &at
	}
	return tr, nil
}

func parseIST(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	var err error
	for _, layout := range pushTimeLayouts {
		var t time.Time
		if t, err = time.ParseInLocation(layout, s, istZone); err == nil {
			return t, nil
		}
	}
	return time.Time{}, err
}

var istZone = time.FixedZone("IST", 5*3600+30*60)

// pushLocation reads "Facility_Name (State)" as the tracking mapping does:
// facility, city (the facility's first part) and state, in India.
func pushLocation(s string) *model.EventLocation {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	loc := &model.EventLocation{Facility: s, CountryCode: "IN"}
	if i := strings.LastIndex(s, " ("); i > 0 && strings.HasSuffix(s, ")") {
		loc.Facility, loc.State = s[:i], s[i+2:len(s)-1]
	}
	loc.City, _, _ = strings.Cut(loc.Facility, "_")
	return loc
}
