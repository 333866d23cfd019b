package model

import "time"

// Address is a postal address with the identifiers Indian logistics needs.
type Address struct {
	// Name is the person to deliver to or collect from.
	Name string `json:"name,omitempty" jsonschema:"maxLength=200"`
	// Company is the organisation at the address.
	Company string `json:"company,omitempty" jsonschema:"maxLength=200"`
	// Phone is a contact number; Indian numbers as 10 digits or with +91.
	Phone string `json:"phone,omitempty" jsonschema:"maxLength=32"`
	// Email is a contact e-mail address.
	Email string `json:"email,omitempty" jsonschema:"maxLength=254"`
	// Lines are the street lines, most specific first.
	Lines []string `json:"lines,omitempty" jsonschema:"maxItems=4"`
	// City is the city, town or village.
	City string `json:"city,omitempty" jsonschema:"maxLength=100"`
	// District is the district (useful for Indian rural addresses).
	District string `json:"district,omitempty" jsonschema:"maxLength=100"`
	// State is the state or province name.
	State string `json:"state,omitempty" jsonschema:"maxLength=100"`
	// StateCode is the two-digit GST state code for Indian addresses ("27").
	StateCode string `json:"state_code,omitempty" jsonschema:"pattern=^[0-9]{2}$"`
	// PostalCode is the postal code; a six-digit PIN code in India.
	PostalCode string `json:"postal_code,omitempty" jsonschema:"maxLength=16"`
	// CountryCode is the ISO 3166-1 alpha-2 country code.
	CountryCode string `json:"country_code,omitempty" jsonschema:"pattern=^[A-Z]{2}$"`
	// GSTIN is the party's 15-character GST identification number.
	GSTIN string `json:"gstin,omitempty" jsonschema:"pattern=^[0-9]{2}[A-Z0-9]{13}$"`
	// Residential marks a residential delivery address.
	Residential bool `json:"residential,omitempty"`
	// Point is the geocoded position, when known.
	Point *GeoPoint `json:"point,omitempty"`
}

// GeoPoint is a WGS 84 position.
type GeoPoint struct {
	// Lat is the latitude in decimal degrees.
	Lat float64 `json:"lat" jsonschema:"minimum=-90,maximum=90"`
	// Lon is the longitude in decimal degrees.
	Lon float64 `json:"lon" jsonschema:"minimum=-180,maximum=180"`
}

// Money is an amount in major units (rupees, not paise) with its currency.
type Money struct {
	// Amount is the value in major units, rounded to the currency's minor unit.
	Amount float64 `json:"amount"`
	// Currency is the ISO 4217 code; INR when empty.
	Currency string `json:"currency,omitempty" jsonschema:"pattern=^[A-Z]{3}$"`
}

// WeightUnit is a unit of mass.
type WeightUnit string

// Units of mass.
const (
	Kilogram WeightUnit = "kg"
	Gram     WeightUnit = "g"
	Pound    WeightUnit = "lb"
	Ounce    WeightUnit = "oz"
)

// Weight is a mass with its unit.
type Weight struct {
	// Value is the mass in Unit.
	Value float64 `json:"value" jsonschema:"minimum=0"`
	// Unit is kg, g, lb or oz.
	Unit WeightUnit `json:"unit" jsonschema:"enum=kg,enum=g,enum=lb,enum=oz"`
}

// Kilograms returns the weight in kilograms.
func (w Weight) Kilograms() float64 {
	switch w.Unit {
	case Gram:
		return w.Value / 1000
	case Pound:
		return w.Value * 0.45359237
	case Ounce:
		return w.Value * 0.028349523125
	default:
		return w.Value
	}
}

// LengthUnit is a unit of length.
type LengthUnit string

// Units of length.
const (
	Centimetre LengthUnit = "cm"
	Inch       LengthUnit = "in"
)

// Dimensions are a parcel's outer dimensions.
type Dimensions struct {
	// Length is the longest side.
	Length float64 `json:"length" jsonschema:"minimum=0"`
	// Width is the second side.
	Width float64 `json:"width" jsonschema:"minimum=0"`
	// Height is the third side.
	Height float64 `json:"height" jsonschema:"minimum=0"`
	// Unit is cm or in.
	Unit LengthUnit `json:"unit" jsonschema:"enum=cm,enum=in"`
}

// Centimetres returns length, width and height in centimetres.
func (d Dimensions) Centimetres() (l, w, h float64) {
	if d.Unit == Inch {
		return d.Length * 2.54, d.Width * 2.54, d.Height * 2.54
	}
	return d.Length, d.Width, d.Height
}

// DocumentFormat is the encoding of a printable document such as a label.
type DocumentFormat string

// Document formats.
const (
	FormatPDF DocumentFormat = "PDF"
	FormatPNG DocumentFormat = "PNG"
	FormatZPL DocumentFormat = "ZPL"
)

// Document is a printable or viewable artefact: a label, a manifest, a POD image.
// Data travels base64-encoded in JSON; URL is set when the provider hosts it.
type Document struct {
	// Type says what the document is: label, manifest, invoice, pod_signature, pod_photo.
	Type string `json:"type,omitempty"`
	// Format is PDF, PNG or ZPL.
	Format DocumentFormat `json:"format" jsonschema:"enum=PDF,enum=PNG,enum=ZPL"`
	// Data is the document's bytes.
	Data []byte `json:"data,omitempty"`
	// URL is where the provider hosts the document, when it does.
	URL string `json:"url,omitempty" jsonschema:"format=uri"`
}

// Charge is one line of a price breakdown.
type Charge struct {
	// Name is the charge as the provider names it (freight, fuel surcharge, COD fee, GST).
	Name string `json:"name"`
	// Amount is the value of the charge.
	Amount Money `json:"amount"`
}

// Date is a calendar date written YYYY-MM-DD.
type Date string

// Time parses the date at midnight in loc.
func (d Date) Time(loc *time.Location) (time.Time, error) {
	return time.ParseInLocation(time.DateOnly, string(d), loc)
}
