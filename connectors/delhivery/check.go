package delhivery

import (
	"fmt"
	"math"
	"strings"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
)

// This file holds what stays in Go of create_shipment beside its binding: the
// check of a booking, whose errors name the offending field by JSON pointer (a
// mapping's fail() names none), the values it computes for the request mapping,
// and the field a refusal concerns. No I/O, no clock, no account lookups beyond
// the values passed in.

// ewayBillThreshold is the consignment value (INR) above which Delhivery requires
// an e-way bill number.
const ewayBillThreshold = 50000

// createInput is the envelope mappings/create-request.mapping reads (the
// runtime adds the account's settings as "settings").
type createInput struct {
	Shipment *model.ShipmentRequest `json:"shipment"`
	Derived  createDerived          `json:"derived"`
}

// createDerived are the values the check computes that the mapping should not
// compute again: the phone numbers it normalised and the consignment value it
// checked against the e-way bill threshold.
type createDerived struct {
	Phone       string  `json:"phone"`
	ReturnPhone string  `json:"return_phone,omitempty"`
	TotalAmount float64 `json:"total_amount"`
}

// checkCreate validates a canonical shipment request for Delhivery's create call
// (accountPickup is the account's pickup_location setting, used when the request
// names none) and returns the values the validation computed that the create
// mapping uses.
// Problems come back as invalid_request errors naming the offending field by
// JSON pointer, in the order a reader would fix them.
func checkCreate(req *model.ShipmentRequest, accountPickup string) (createDerived, error) {
	var none createDerived
	if strings.TrimSpace(req.Reference) == "" {
		return none, sdk.InvalidField("/reference", "reference (the order id) is required")
	}
	if len(req.Reference) > 64 {
		return none, sdk.InvalidField("/reference", "reference is %d characters; at most 64 are allowed", len(req.Reference))
	}
	if strings.TrimSpace(req.PickupLocation) == "" && strings.TrimSpace(accountPickup) == "" {
		return none, sdk.InvalidField("/pickup_location", "pickup_location is required: set it on the request or as the account's pickup_location setting")
	}

	// The consignee block is where Delhivery goes: the customer it delivers to,
	// or, for a reverse pickup, the customer it collects from (ship_from).
	to, at := req.ShipTo, "/ship_to"
	if req.Reverse {
		to, at = req.ShipFrom, "/ship_from"
	}
	if strings.TrimSpace(to.Name) == "" {
		return none, sdk.InvalidField(at+"/name", "consignee name is required")
	}
	if joinLines(to.Lines) == "" {
		return none, sdk.InvalidField(at+"/lines", "at least one address line is required")
	}
	if err := checkIndia(to.CountryCode, at+"/country_code"); err != nil {
		return none, err
	}
	if !model.IsPINCode(to.PostalCode) {
		return none, sdk.InvalidField(at+"/postal_code", "postal_code %q is not a six-digit Indian PIN code", to.PostalCode)
	}
	phone, err := indianPhone(to.Phone, at+"/phone", true)
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
	if req.Reverse && req.PaymentMode != "" && req.PaymentMode != model.Prepaid && req.PaymentMode != model.PaymentPickup {
		return none, sdk.InvalidField("/payment_mode", "a reverse pickup is booked with Delhivery's Pickup payment mode and collects no cash; leave payment_mode empty (or prepaid/pickup)")
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
	if req.EWayBillNumber != "" && !model.IsEWayBillNumber(req.EWayBillNumber) {
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
	// The return block: the return address, or where a reverse pickup is
	// delivered (return_to, else ship_to, the shipper's warehouse).
	var rphone string
	rt, rat := req.ReturnTo, "/return_to"
	if req.Reverse && rt == nil {
		rt, rat = &req.ShipTo, "/ship_to"
	}
	if rt != nil {
		if err := checkIndia(rt.CountryCode, rat+"/country_code"); err != nil {
			return none, err
		}
		if rt.PostalCode != "" && !model.IsPINCode(rt.PostalCode) {
			return none, sdk.InvalidField(rat+"/postal_code", "postal_code %q is not a six-digit Indian PIN code", rt.PostalCode)
		}
		if rphone, err = indianPhone(rt.Phone, rat+"/phone", false); err != nil {
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
	d := model.NationalNumber(raw)
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

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// withRefusalField names the request field a create refusal concerns, from
// Delhivery's own words, which are free text: a duplicate order is the
// reference, an unknown warehouse the pickup location, an unserved PIN code the
// destination's (a reverse pickup's customer's, in ship_from). The code is the binding's (create-error.mapping); an error that
// is not Delhivery's refusal is returned as it is.
func withRefusalField(err error, reverse bool) error {
	e := sdk.AsError(err)
	if e.Source != sdk.SourceCarrier || e.Field != "" {
		return e
	}
	words := strings.ToLower(e.CarrierMessage)
	switch {
	case e.Code == sdk.CodeConflict:
		e.Field = "/reference"
	case e.Code != sdk.CodeInvalidRequest:
	case strings.Contains(words, "warehouse") || strings.Contains(words, "pickup location"):
		e.Field = "/pickup_location"
	case strings.Contains(words, "serviceab") && reverse:
		e.Field = "/ship_from/postal_code" // a reverse pickup's customer
	case strings.Contains(words, "serviceab"):
		e.Field = "/ship_to/postal_code"
	}
	return e
}
