package delhivery

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
)

// This file holds the validation and the pure translation that stays in Go
// beside the mappings: no I/O, no clock, no account lookups beyond the values
// passed in. Tracking answers are translated by a mapping (trackmap.go), and so
// are bookings (createmap.go).

// ewayBillThreshold is the consignment value (INR) above which Delhivery requires
// an e-way bill number.
const ewayBillThreshold = 50000

// maxTrackBatch is how many waybills one tracking call may carry.
const maxTrackBatch = 50

var (
	pinPattern     = regexp.MustCompile(`^[1-9][0-9]{5}$`)
	waybillPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	nonDigits      = regexp.MustCompile(`[^0-9]`)
	ewbnPattern    = regexp.MustCompile(`^[0-9]{12}$`)
)

// createSettings are the account values a create call needs.
type createSettings struct {
	PickupLocation string `json:"pickup_location,omitempty"`
	ClientName     string `json:"client_name,omitempty"`
}

// checkCreate validates a canonical shipment request for Delhivery's create call
// and returns the values the validation computed that the create mapping uses.
// Problems come back as invalid_request errors naming the offending field by
// JSON pointer, in the order a reader would fix them.
func checkCreate(req *model.ShipmentRequest, set createSettings) (createDerived, error) {
	var none createDerived
	if strings.TrimSpace(req.Reference) == "" {
		return none, sdk.InvalidField("/reference", "reference (the order id) is required")
	}
	if len(req.Reference) > 64 {
		return none, sdk.InvalidField("/reference", "reference is %d characters; at most 64 are allowed", len(req.Reference))
	}
	if strings.TrimSpace(req.PickupLocation) == "" && strings.TrimSpace(set.PickupLocation) == "" {
		return none, sdk.InvalidField("/pickup_location", "pickup_location is required: set it on the request or as the account's pickup_location setting")
	}

	to := req.ShipTo
	if strings.TrimSpace(to.Name) == "" {
		return none, sdk.InvalidField("/ship_to/name", "consignee name is required")
	}
	if joinLines(to.Lines) == "" {
		return none, sdk.InvalidField("/ship_to/lines", "at least one address line is required")
	}
	if err := checkIndia(to.CountryCode, "/ship_to/country_code"); err != nil {
		return none, err
	}
	if !pinPattern.MatchString(to.PostalCode) {
		return none, sdk.InvalidField("/ship_to/postal_code", "postal_code %q is not a six-digit Indian PIN code", to.PostalCode)
	}
	phone, err := indianPhone(to.Phone, "/ship_to/phone", true)
	if err != nil {
		return none, err
	}

	switch n := len(req.Parcels); {
	case n == 0:
		return none, sdk.InvalidField("/parcels", "at least one parcel is required")
	case n > 1:
		return none, sdk.InvalidField("/parcels", "Delhivery Express books one parcel per order here; multi-piece shipments (%d parcels) are not supported yet", n)
	}
	p := req.Parcels[0]
	if p.Weight.Value <= 0 || math.IsNaN(p.Weight.Value) || math.IsInf(p.Weight.Value, 0) {
		return none, sdk.InvalidField("/parcels/0/weight/value", "weight must be greater than zero")
	}
	switch p.Weight.Unit {
	case model.Kilogram, model.Gram, model.Pound, model.Ounce:
	default:
		return none, sdk.InvalidField("/parcels/0/weight/unit", "unknown weight unit %q", p.Weight.Unit)
	}

	if err := checkPaymentMode(req.PaymentMode); err != nil {
		return none, err
	}
	if req.PaymentMode == model.CashOnDelivery {
		if req.CODAmount == nil || req.CODAmount.Amount <= 0 {
			return none, sdk.InvalidField("/cod_amount", "cod_amount is required and must be positive for cash on delivery")
		}
		if err := checkINR(req.CODAmount.Currency, "/cod_amount/currency"); err != nil {
			return none, err
		}
	}

	total, err := consignmentValue(req)
	if err != nil {
		return none, err
	}
	if total > ewayBillThreshold && req.EWayBillNumber == "" {
		return none, sdk.InvalidField("/eway_bill_number", "an e-way bill number is required for consignments worth more than INR %d (this one is worth %.2f)", ewayBillThreshold, total)
	}
	if req.EWayBillNumber != "" && !ewbnPattern.MatchString(req.EWayBillNumber) {
		return none, sdk.InvalidField("/eway_bill_number", "e-way bill number must be 12 digits")
	}

	if err := checkShippingMode(req.Service); err != nil {
		return none, err
	}
	if d := p.Dimensions; d != nil {
		if d.Unit != model.Centimetre && d.Unit != model.Inch {
			return none, sdk.InvalidField("/parcels/0/dimensions/unit", "unknown length unit %q", d.Unit)
		}
		if d.Length < 0 || d.Width < 0 || d.Height < 0 {
			return none, sdk.InvalidField("/parcels/0/dimensions", "dimensions must not be negative")
		}
	}
	var rphone string
	if rt := req.ReturnTo; rt != nil {
		if err := checkIndia(rt.CountryCode, "/return_to/country_code"); err != nil {
			return none, err
		}
		if rt.PostalCode != "" && !pinPattern.MatchString(rt.PostalCode) {
			return none, sdk.InvalidField("/return_to/postal_code", "postal_code %q is not a six-digit Indian PIN code", rt.PostalCode)
		}
		if rphone, err = indianPhone(rt.Phone, "/return_to/phone", false); err != nil {
			return none, err
		}
	}
	return createDerived{Phone: phone, ReturnPhone: rphone, TotalAmount: total}, nil
}

// checkPaymentMode refuses the payment modes Delhivery Express has no
// equivalent for; the create mapping writes the others.
func checkPaymentMode(m model.PaymentMode) error {
	switch m {
	case "", model.Prepaid, model.CashOnDelivery, model.PaymentPickup, model.PaymentReplace:
		return nil
	case model.ToPay:
		return sdk.InvalidField("/payment_mode", "Delhivery Express has no to-pay mode; use prepaid or cod")
	}
	return sdk.InvalidField("/payment_mode", "unknown payment mode %q", m)
}

// checkShippingMode refuses a service code that is not one of Delhivery's
// shipping modes (express, surface; empty means the account default).
func checkShippingMode(service string) error {
	switch strings.ToLower(strings.TrimSpace(service)) {
	case "", "express", "surface":
		return nil
	}
	return sdk.InvalidField("/service", "unknown Delhivery service %q; use express or surface", service)
}

// consignmentValue is the invoice value, else the sum of the item values.
func consignmentValue(req *model.ShipmentRequest) (float64, error) {
	if req.Invoice != nil {
		if req.Invoice.Value.Amount < 0 {
			return 0, sdk.InvalidField("/invoice/value/amount", "invoice value must not be negative")
		}
		if err := checkINR(req.Invoice.Value.Currency, "/invoice/value/currency"); err != nil {
			return 0, err
		}
		return round2(req.Invoice.Value.Amount), nil
	}
	var total float64
	for i, it := range req.Parcels[0].Items {
		if it.UnitValue == nil {
			continue
		}
		if err := checkINR(it.UnitValue.Currency, fmt.Sprintf("/parcels/0/items/%d/unit_value/currency", i)); err != nil {
			return 0, err
		}
		total += it.UnitValue.Amount * it.Quantity
	}
	if req.PaymentMode == model.CashOnDelivery && total == 0 && req.CODAmount != nil {
		total = req.CODAmount.Amount
	}
	return round2(total), nil
}

func checkINR(currency, pointer string) error {
	if currency != "" && currency != "INR" {
		return sdk.InvalidField(pointer, "Delhivery Express takes amounts in INR, not %s", currency)
	}
	return nil
}

func checkIndia(country, pointer string) error {
	if country != "" && country != "IN" {
		return sdk.InvalidField(pointer, "Delhivery Express delivers within India only, not to %s", country)
	}
	return nil
}

// indianPhone normalises an Indian phone number to its ten digits.
func indianPhone(raw, pointer string, required bool) (string, error) {
	if strings.TrimSpace(raw) == "" {
		if required {
			return "", sdk.InvalidField(pointer, "phone is required")
		}
		return "", nil
	}
	d := nonDigits.ReplaceAllString(raw, "")
	switch {
	case len(d) == 12 && strings.HasPrefix(d, "91"):
		d = d[2:]
	case len(d) == 11 && strings.HasPrefix(d, "0"):
		d = d[1:]
	}
	if len(d) != 10 {
		return "", sdk.InvalidField(pointer, "phone %q is not a ten-digit Indian number", raw)
	}
	return d, nil
}

func joinLines(lines []string) string {
	var parts []string
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, ", ")
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// classifyCreateRefusal decides what a success=false create answer means. The
// remarks are free text; the patterns below are the ones seen in public clients.
func classifyCreateRefusal(r *createResponse, pkg *createPackage) *sdk.Error {
	var words []string
	status := ""
	if pkg != nil {
		words = append(words, pkg.Remarks...)
		status = pkg.Status
	}
	if r.RMK != "" {
		words = append(words, r.RMK)
	}
	msg := strings.Join(words, "; ")
	if msg == "" {
		msg = "Delhivery refused the shipment without a remark"
	}
	lower := strings.ToLower(msg)
	e := sdk.CarrierError(sdk.CodeInvalidRequest, status, msg)
	switch {
	case strings.Contains(lower, "duplicate") || strings.Contains(lower, "already exist"):
		e.Code = sdk.CodeConflict
		e.Field = "/reference"
	case strings.Contains(lower, "clientwarehouse") || strings.Contains(lower, "pickup location") || strings.Contains(lower, "warehouse"):
		e.Field = "/pickup_location"
	case strings.Contains(lower, "serviceab") || (pkg != nil && pkg.Serviceable != nil && !*pkg.Serviceable):
		e.Field = "/ship_to/postal_code"
	case strings.Contains(lower, "insufficient balance") || strings.Contains(lower, "wallet"):
		e.Code = sdk.CodePermanent
	case strings.Contains(lower, "internal error") && (pkg == nil || len(pkg.Remarks) == 0):
		e.Code = sdk.CodeCarrierUnavailable
	}
	return e
}

// checkTrackingNumbers validates the numbers of a track request.
func checkTrackingNumbers(numbers []string) error {
	if len(numbers) == 0 {
		return sdk.InvalidField("/tracking_numbers", "at least one tracking number is required")
	}
	if len(numbers) > maxTrackBatch {
		return sdk.InvalidField("/tracking_numbers", "at most %d tracking numbers per call, got %d", maxTrackBatch, len(numbers))
	}
	for i, n := range numbers {
		if !waybillPattern.MatchString(n) {
			return sdk.InvalidField("/tracking_numbers/"+strconv.Itoa(i), "tracking number %q is not a Delhivery waybill", n)
		}
	}
	return nil
}

// trackQuery returns the query string of a tracking call. The numbers were
// checked against waybillPattern, so they need no escaping and the commas stay
// literal, as in Delhivery's examples.
func trackQuery(numbers []string) string {
	return "waybill=" + strings.Join(numbers, ",")
}

// distinct returns the numbers without repeats, in first-seen order.
func distinct(numbers []string) []string {
	seen := make(map[string]bool, len(numbers))
	out := make([]string, 0, len(numbers))
	for _, n := range numbers {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// notFound is the per-number result for a waybill Delhivery does not know.
func notFound(number, carrierMessage string) model.Tracking {
	return model.Tracking{
		TrackingNumber: number,
		Status:         model.StatusUnknown,
		SubStatus:      "not_found",
		RawText:        carrierMessage,
		Error: &model.ItemError{
			Code:           string(sdk.CodeNotFound),
			Message:        "Delhivery does not know waybill " + number,
			CarrierMessage: carrierMessage,
		},
	}
}

// fromCancelResponse reads a cancellation answer. A shipment that is already
// cancelled counts as cancelled, so that the operation is idempotent.
func fromCancelResponse(number string, r *cancelResponse) (*model.CancelResponse, error) {
	msg := firstNonEmpty(r.Remark, r.Error)
	if r.Status {
		return &model.CancelResponse{TrackingNumber: number, Cancelled: true, Message: msg}, nil
	}
	lower := strings.ToLower(msg)
	switch {
	case strings.Contains(lower, "already cancel"):
		return &model.CancelResponse{TrackingNumber: number, Cancelled: true, Message: msg}, nil
	case strings.Contains(lower, "not found") || strings.Contains(lower, "no such") || strings.Contains(lower, "invalid waybill") || strings.Contains(lower, "does not exist"):
		e := sdk.CarrierError(sdk.CodeNotFound, "", msg)
		e.Field = "/tracking_number"
		return nil, e
	case msg == "":
		return nil, sdk.CarrierError(sdk.CodeConflict, "", "Delhivery did not cancel the shipment and gave no reason")
	}
	return nil, sdk.CarrierError(sdk.CodeConflict, "", msg)
}
