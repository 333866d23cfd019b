package bluedart

import (
	"bytes"
	"encoding/base64"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/carrierhub/hub/connectors/bluedart/internal/waybill"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
)

// This file holds what stays in Go beside the mappings: validation with JSON
// pointers, the answers' classification and the small success paths of the SOAP
// answers. No I/O, no clock (callers pass the time),
// safe for concurrent use.

// IST is India Standard Time, in which Blue Dart writes every date and time. India
// keeps no daylight saving, so a fixed zone equals Asia/Kolkata without tzdata.
var IST = time.FixedZone("IST", 5*3600+30*60)

// Settings are an account's non-secret Blue Dart values. The JSON names are
// those the generate mapping reads.
type Settings struct {
	// CustomerCode is the Blue Dart billing customer code.
	CustomerCode string `json:"customer_code,omitempty"`
	// OriginArea is the three-letter area code of the pickup location.
	OriginArea string `json:"origin_area,omitempty"`
	// APIType is Profile/Api_type (S for Shipping API customers).
	APIType string `json:"api_type,omitempty"`
	// ProductCode is the default Services/ProductCode (A Apex air, E ground).
	ProductCode string `json:"product_code,omitempty"`
	// PickupTime is Services/PickupTime as HHmm.
	PickupTime string `json:"pickup_time,omitempty"`
	// VendorCode is Shipper/VendorCode, when assigned.
	VendorCode string `json:"vendor_code,omitempty"`
}

// nameMax is the length Blue Dart allows a name (also in
// mappings/generate-request.mapping, with the address lines' 30).
const nameMax = 30

var (
	pinPattern     = regexp.MustCompile(`^[1-9][0-9]{5}$`)
	awbPattern     = regexp.MustCompile(`^[0-9]{8,12}$`)
	productPattern = regexp.MustCompile(`^[A-Z]{1,2}$`)
	areaPattern    = regexp.MustCompile(`^[A-Z]{3}$`)
)

// ValidateAWB checks a Blue Dart waybill number (8 to 12 digits; 11 in practice) and
// returns it trimmed, or an invalid_request naming pointer.
func ValidateAWB(s, pointer string) (string, error) {
	s = strings.TrimSpace(s)
	if !awbPattern.MatchString(s) {
		return "", sdk.InvalidField(pointer, "%q is not a Blue Dart waybill number (8 to 12 digits)", s)
	}
	return s, nil
}

// ToWayBillRequest maps a canonical shipment onto GenerateWayBill's Request. now is
// the current time in IST, used when the request has no ship date. The request
// is validated here, with JSON pointers; mappings/generate-request.mapping
// builds the Request from it (generatemap.go).
func ToWayBillRequest(r *model.ShipmentRequest, s Settings, now time.Time) (*waybill.WayBillGenerationRequest, error) {
	derived, err := checkWayBill(r, s, now)
	if err != nil {
		return nil, err
	}
	return buildWayBill(r, s, derived)
}

// checkWayBill validates a canonical shipment for GenerateWayBill and returns
// what the validation computed that the mapping uses: each party's phone and
// today's date. Whether an address fits Blue Dart's three lines is the
// mapping's to say, since it packs them (buildWayBill reports the field).
func checkWayBill(r *model.ShipmentRequest, s Settings, now time.Time) (*wayBillDerived, error) {
	if s.CustomerCode == "" {
		return nil, sdk.InvalidField("/account/settings/customer_code", "the account has no Blue Dart customer_code setting")
	}
	if !areaPattern.MatchString(s.OriginArea) {
		return nil, sdk.InvalidField("/account/settings/origin_area", "origin_area %q must be a three-letter Blue Dart area code", s.OriginArea)
	}
	if strings.TrimSpace(r.Reference) == "" {
		return nil, sdk.InvalidField("/reference", "reference is required; Blue Dart uses it as CreditReferenceNo")
	}
	to, err := party(&r.ShipTo, "/ship_to")
	if err != nil {
		return nil, err
	}
	from, err := party(&r.ShipFrom, "/ship_from")
	if err != nil {
		return nil, err
	}
	if len(r.Parcels) == 0 {
		return nil, sdk.InvalidField("/parcels", "at least one parcel is required")
	}
	if r.Service != "" && !productPattern.MatchString(r.Service) {
		return nil, sdk.InvalidField("/service", "service %q is not a Blue Dart product code (A, D, E...)", r.Service)
	}
	for i, p := range r.Parcels {
		ptr := "/parcels/" + strconv.Itoa(i)
		switch p.Weight.Unit {
		case model.Kilogram, model.Gram, model.Pound, model.Ounce:
		default:
			return nil, sdk.InvalidField(ptr+"/weight/unit", "unknown weight unit %q", p.Weight.Unit)
		}
		if kg := p.Weight.Kilograms(); !(kg > 0) || math.IsInf(kg, 0) {
			return nil, sdk.InvalidField(ptr+"/weight/value", "parcel weight must be greater than zero")
		}
		if d := p.Dimensions; d != nil {
			if d.Unit != model.Centimetre && d.Unit != model.Inch {
				return nil, sdk.InvalidField(ptr+"/dimensions/unit", "unknown length unit %q", d.Unit)
			}
			if l, w, h := d.Centimetres(); !(l > 0 && w > 0 && h > 0) {
				return nil, sdk.InvalidField(ptr+"/dimensions", "length, width and height must all be greater than zero")
			}
		}
	}
	switch r.PaymentMode {
	case "", model.Prepaid, model.ToPay:
	case model.CashOnDelivery:
		if r.CODAmount == nil || !(r.CODAmount.Amount > 0) {
			return nil, sdk.InvalidField("/cod_amount", "a cod shipment needs a cod_amount greater than zero")
		}
		if r.CODAmount.Currency != "" && r.CODAmount.Currency != "INR" {
			return nil, sdk.InvalidField("/cod_amount/currency", "Blue Dart collects cash on delivery in INR only, not %s", r.CODAmount.Currency)
		}
	default:
		return nil, sdk.InvalidField("/payment_mode", "payment mode %q is not supported by Blue Dart waybill generation", r.PaymentMode)
	}
	if r.ShipDate != "" {
		if _, err := r.ShipDate.Time(IST); err != nil {
			return nil, sdk.InvalidField("/ship_date", "ship_date %q is not a YYYY-MM-DD date", r.ShipDate)
		}
	}
	out := &wayBillDerived{Today: now.In(IST).Format(time.DateOnly), ShipTo: to.packed(), ShipFrom: from.packed()}
	if r.ReturnTo != nil {
		ret, err := party(r.ReturnTo, "/return_to")
		if err != nil {
			return nil, err
		}
		p := ret.packed()
		out.ReturnTo = &p
	}
	return out, nil
}

// partyFields are an address cut to Blue Dart's fields.
type partyFields struct {
	name  string
	phone string
}

// packed returns the party's values as the generate mapping reads them.
func (p *partyFields) packed() packedParty {
	return packedParty{Phone: p.phone}
}

func party(a *model.Address, ptr string) (*partyFields, error) {
	p := &partyFields{name: clip(firstNonEmpty(a.Company, a.Name), nameMax)}
	if p.name == "" {
		return nil, sdk.InvalidField(ptr+"/name", "a name or company is required")
	}
	if !pinPattern.MatchString(a.PostalCode) {
		return nil, sdk.InvalidField(ptr+"/postal_code", "postal_code %q is not a six-digit Indian PIN code", a.PostalCode)
	}
	if a.CountryCode != "" && a.CountryCode != "IN" {
		return nil, sdk.InvalidField(ptr+"/country_code", "Blue Dart domestic waybills need an Indian address, not %s", a.CountryCode)
	}
	phone, ok := indianMobile(a.Phone)
	if !ok {
		return nil, sdk.InvalidField(ptr+"/phone", "phone %q is not a ten-digit Indian number", a.Phone)
	}
	p.phone = phone
	if !hasWords(a.Lines) && !hasWords([]string{a.City}) {
		return nil, sdk.InvalidField(ptr+"/lines", "at least one address line is required")
	}
	return p, nil
}

// hasWords reports whether the texts hold anything but spaces and commas.
func hasWords(texts []string) bool {
	for _, t := range texts {
		if strings.Trim(t, " \t\r\n,") != "" {
			return true
		}
	}
	return false
}

// indianMobile reduces a phone number to its ten national digits.
func indianMobile(s string) (string, bool) {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	d := b.String()
	switch {
	case len(d) == 12 && strings.HasPrefix(d, "91"):
		d = d[2:]
	case len(d) == 11 && strings.HasPrefix(d, "0"):
		d = d[1:]
	}
	return d, len(d) == 10
}

// FromWayBillResponse maps GenerateWayBillResult onto a canonical booking, or the
// classified error when IsError is set.
func FromWayBillResponse(r *model.ShipmentRequest, res *waybill.WayBillGenerationResponse) (*model.ShipmentResponse, error) {
	if res == nil {
		return nil, &sdk.Error{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceCarrier, Message: "generating waybill: Blue Dart returned no GenerateWayBillResult"}
	}
	if res.IsError || strings.TrimSpace(res.AWBNo) == "" {
		return nil, statusError("generating waybill", res.Status)
	}
	out := &model.ShipmentResponse{
		TrackingNumber:   strings.TrimSpace(res.AWBNo),
		Reference:        r.Reference,
		CarrierReference: res.TokenNumber,
		Routing:          strings.Trim(res.DestinationArea+"/"+res.DestinationLocation, "/"),
		Messages:         statusMessages(res.Status),
	}
	if label := bytes.TrimSpace(res.AWBPrintContent); len(label) > 0 {
		// encoding/xml leaves xs:base64Binary as its text; decode it here.
		pdf, err := base64.StdEncoding.DecodeString(string(label))
		if err != nil {
			out.Messages = append(out.Messages, "the label Blue Dart returned is not valid base64 and was left out")
		} else {
			out.Labels = []model.Document{{Type: "label", Format: model.FormatPDF, Data: pdf}}
		}
	}
	return out, nil
}

// FromCancelResponse maps CancelWaybillResult onto a canonical cancellation.
func FromCancelResponse(awb string, res *waybill.AWBCancelationResponse) (*model.CancelResponse, error) {
	if res == nil {
		return nil, &sdk.Error{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceCarrier, Message: "cancelling waybill: Blue Dart returned no CancelWaybillResult"}
	}
	if res.IsError {
		return nil, statusError("cancelling waybill", res.Status)
	}
	return &model.CancelResponse{TrackingNumber: awb, Cancelled: true, Message: strings.Join(statusMessages(res.Status), "; ")}, nil
}

func statuses(a *waybill.ArrayOfWayBillGenerationStatus) []*waybill.WayBillGenerationStatus {
	if a == nil {
		return nil
	}
	return a.WayBillGenerationStatus
}

func statusMessages(a *waybill.ArrayOfWayBillGenerationStatus) []string {
	var out []string
	for _, s := range statuses(a) {
		if s != nil && s.StatusInformation != "" {
			out = append(out, s.StatusInformation)
		}
	}
	return out
}

// statusError classifies an IsError answer by its Status entries: the first code is
// the carrier code, all texts joined are the carrier message.
func statusError(what string, a *waybill.ArrayOfWayBillGenerationStatus) *sdk.Error {
	var codes []string
	for _, s := range statuses(a) {
		if s != nil && s.StatusCode != "" {
			codes = append(codes, s.StatusCode)
		}
	}
	msg := strings.Join(statusMessages(a), "; ")
	code := ""
	if len(codes) > 0 {
		code = codes[0]
	}
	e := sdk.CarrierError(ClassifyStatusText(strings.Join(codes, " ")+" "+msg), code, msg)
	if msg == "" && code == "" {
		e.Message = what + ": Blue Dart reported an error without a status"
	} else {
		e.Message = what + ": Blue Dart refused: " + firstNonEmpty(msg, code)
	}
	return e
}

var (
	authText        = regexp.MustCompile(`(?i)licen[cs]e|login|unauthori[sz]ed|not authori[sz]ed|invalid user|profile|credential`)
	conflictText    = regexp.MustCompile(`(?i)already (been )?cancel|duplicate|already exist|already generated|already (been )?used`)
	notFoundText    = regexp.MustCompile(`(?i)not found|does not exist|no such|invalid (awb|waybill)|no information`)
	unavailableText = regexp.MustCompile(`(?i)try again|temporar|unavailable|timed? ?out|server error|internal error`)
)

// ClassifyStatusText classifies a Blue Dart status code or text (IsError statuses,
// tracking errors): licence and login problems are auth_failed, duplicates and
// repeated cancellations conflict, unknown waybills not_found, outages
// carrier_unavailable, and anything else is a rejected request (invalid_request).
func ClassifyStatusText(s string) sdk.Code {
	switch {
	case authText.MatchString(s):
		return sdk.CodeAuthFailed
	case conflictText.MatchString(s):
		return sdk.CodeConflict
	case notFoundText.MatchString(s):
		return sdk.CodeNotFound
	case unavailableText.MatchString(s):
		return sdk.CodeCarrierUnavailable
	}
	return sdk.CodeInvalidRequest
}

// ClassifyFault classifies a SOAP fault. Credential problems are auth_failed whatever
// the code; client faults (s:Client, a:DeserializationFailed) are invalid_request;
// a:ActionNotSupported (a SOAPAction the service does not know) is permanent; server
// faults (s:Server, a:InternalServiceFault) and anything else are carrier_unavailable.
func ClassifyFault(code, text string) sdk.Code {
	if authText.MatchString(text) {
		return sdk.CodeAuthFailed
	}
	_, local, found := strings.Cut(code, ":")
	if !found {
		local = code
	}
	switch strings.ToLower(local) {
	case "client", "sender", "deserializationfailed", "invalidmessage":
		return sdk.CodeInvalidRequest
	case "actionnotsupported", "contractfilter", "versionmismatch":
		return sdk.CodePermanent
	}
	return sdk.CodeCarrierUnavailable
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

func clip(s string, n int) string {
	r := []rune(strings.TrimSpace(s))
	if len(r) <= n {
		return string(r)
	}
	return strings.TrimSpace(string(r[:n]))
}
