package bluedart

import (
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
)

// This file holds the checks the bindings cannot make with a JSON pointer: a
// request mapping's fail() reaches the caller as a message without the field,
// so every refusal of a canonical request is decided here, before the runtime
// builds the SOAP body. No I/O, no clock, safe for concurrent use.

// settings are the account settings the checks need.
type settings struct {
	// CustomerCode is the Blue Dart billing customer code.
	CustomerCode string
	// OriginArea is the three-letter area code of the pickup location.
	OriginArea string
}

var (
	awbPattern     = regexp.MustCompile(`^[0-9]{8,12}$`)
	productPattern = regexp.MustCompile(`^[A-Z]{1,2}$`)
	areaPattern    = regexp.MustCompile(`^[A-Z]{3}$`)
	clockPattern   = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
)

// validateAWB checks a Blue Dart waybill number (8 to 12 digits; 11 in practice)
// and returns it trimmed, or an invalid_request naming pointer.
func validateAWB(s, pointer string) (string, error) {
	s = strings.TrimSpace(s)
	if !awbPattern.MatchString(s) {
		return "", sdk.InvalidField(pointer, "%q is not a Blue Dart waybill number (8 to 12 digits)", s)
	}
	return s, nil
}

// validateWayBill checks a canonical shipment for GenerateWayBill. Whether an
// address fits Blue Dart's three lines is the mapping's to say, since it packs
// them (locate reports the field).
func validateWayBill(r *model.ShipmentRequest, s settings) error {
	if s.CustomerCode == "" {
		return sdk.InvalidField("/account/settings/customer_code", "the account has no Blue Dart customer_code setting")
	}
	if !areaPattern.MatchString(s.OriginArea) {
		return sdk.InvalidField("/account/settings/origin_area", "origin_area %q must be a three-letter Blue Dart area code", s.OriginArea)
	}
	if strings.TrimSpace(r.Reference) == "" {
		return sdk.InvalidField("/reference", "reference is required; Blue Dart uses it as CreditReferenceNo")
	}
	if err := party(&r.ShipTo, "/ship_to"); err != nil {
		return err
	}
	if err := party(&r.ShipFrom, "/ship_from"); err != nil {
		return err
	}
	if len(r.Parcels) == 0 {
		return sdk.InvalidField("/parcels", "at least one parcel is required")
	}
	if r.Service != "" && !productPattern.MatchString(r.Service) {
		return sdk.InvalidField("/service", "service %q is not a Blue Dart product code (A, D, E...)", r.Service)
	}
	for i, p := range r.Parcels {
		ptr := "/parcels/" + strconv.Itoa(i)
		switch p.Weight.Unit {
		case model.Kilogram, model.Gram, model.Pound, model.Ounce:
		default:
			return sdk.InvalidField(ptr+"/weight/unit", "unknown weight unit %q", p.Weight.Unit)
		}
		if kg := p.Weight.Kilograms(); !(kg > 0) || math.IsInf(kg, 0) {
			return sdk.InvalidField(ptr+"/weight/value", "parcel weight must be greater than zero")
		}
		if d := p.Dimensions; d != nil {
			if d.Unit != model.Centimetre && d.Unit != model.Inch {
				return sdk.InvalidField(ptr+"/dimensions/unit", "unknown length unit %q", d.Unit)
			}
			if l, w, h := d.Centimetres(); !(l > 0 && w > 0 && h > 0) {
				return sdk.InvalidField(ptr+"/dimensions", "length, width and height must all be greater than zero")
			}
		}
	}
	switch r.PaymentMode {
	case "", model.Prepaid, model.ToPay:
	case model.CashOnDelivery:
		if r.CODAmount == nil || !(r.CODAmount.Amount > 0) {
			return sdk.InvalidField("/cod_amount", "a cod shipment needs a cod_amount greater than zero")
		}
		if r.CODAmount.Currency != "" && r.CODAmount.Currency != "INR" {
			return sdk.InvalidField("/cod_amount/currency", "Blue Dart collects cash on delivery in INR only, not %s", r.CODAmount.Currency)
		}
	default:
		return sdk.InvalidField("/payment_mode", "payment mode %q is not supported by Blue Dart waybill generation", r.PaymentMode)
	}
	if r.ShipDate != "" {
		if _, err := r.ShipDate.Time(model.IST); err != nil {
			return sdk.InvalidField("/ship_date", "ship_date %q is not a YYYY-MM-DD date", r.ShipDate)
		}
	}
	if r.ReturnTo != nil {
		if err := party(r.ReturnTo, "/return_to"); err != nil {
			return err
		}
	}
	return nil
}

// validatePickup checks a canonical pickup for RegisterPickup: the account's
// customer code and area, the address as for a waybill party, the date and
// the times (HH:MM).
func validatePickup(r *model.PickupRequest, s settings) error {
	if s.CustomerCode == "" {
		return sdk.InvalidField("/account/settings/customer_code", "the account has no Blue Dart customer_code setting")
	}
	if !areaPattern.MatchString(s.OriginArea) {
		return sdk.InvalidField("/account/settings/origin_area", "origin_area %q must be a three-letter Blue Dart area code", s.OriginArea)
	}
	if err := party(&r.Address, "/address"); err != nil {
		return err
	}
	if _, err := r.Date.Time(model.IST); r.Date == "" || err != nil {
		return sdk.InvalidField("/date", "date %q is not a YYYY-MM-DD date", r.Date)
	}
	for ptr, t := range map[string]string{"/ready_time": r.ReadyTime, "/close_time": r.CloseTime} {
		if t != "" && !clockPattern.MatchString(t) {
			return sdk.InvalidField(ptr, "%q is not a time as HH:MM", t)
		}
	}
	if r.Packages < 0 {
		return sdk.InvalidField("/packages", "packages must not be negative")
	}
	return nil
}

// party checks an address for Blue Dart's fields: a name, an Indian PIN code and
// country, a phone that reduces to ten digits, and an address line or city.
func party(a *model.Address, ptr string) error {
	if firstNonEmpty(a.Company, a.Name) == "" {
		return sdk.InvalidField(ptr+"/name", "a name or company is required")
	}
	if !model.IsPINCode(a.PostalCode) {
		return sdk.InvalidField(ptr+"/postal_code", "postal_code %q is not a six-digit Indian PIN code", a.PostalCode)
	}
	if a.CountryCode != "" && a.CountryCode != "IN" {
		return sdk.InvalidField(ptr+"/country_code", "Blue Dart domestic waybills need an Indian address, not %s", a.CountryCode)
	}
	if !indianMobile(a.Phone) {
		return sdk.InvalidField(ptr+"/phone", "phone %q is not a ten-digit Indian number", a.Phone)
	}
	if !hasWords(a.Lines) && !hasWords([]string{a.City}) {
		return sdk.InvalidField(ptr+"/lines", "at least one address line is required")
	}
	return nil
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

// indianMobile reports whether a phone number reduces to ten national digits,
// as the request mapping reduces it.
func indianMobile(s string) bool { return len(model.NationalNumber(s)) == 10 }

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}
