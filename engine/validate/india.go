package validate

import (
	"strconv"

	"github.com/tidwall/gjson"
)

// check runs the checks a schema cannot express over one object's fields. Only
// the canonical Address has gstin, country_code and postal_code, and only the
// shipment request has payment_mode, so the checks run on the objects whose
// schema declares those fields, whatever the type's name.
func (in *indiaFields) check(w *walker) {
	if in.gstin.Type == gjson.String && gstinShape(in.gstin.Str) {
		gstin := in.gstin.Str
		if want := GSTINCheckChar(gstin[:14]); gstin[14] != want {
			w.fail("gstin", "fails its check character: "+gstin+" should end in "+string(want)+"; check for a typing mistake")
		} else if in.stateCode.Type == gjson.String && len(in.stateCode.Str) == 2 && in.stateCode.Str != gstin[:2] {
			w.fail("state_code", "is "+in.stateCode.Str+" but the GSTIN belongs to state "+gstin[:2])
		}
	}
	if in.countryCode.Type == gjson.String && in.countryCode.Str == "IN" {
		if in.postalCode.Type == gjson.String && !ValidPIN(in.postalCode.Str) {
			w.fail("postal_code", "must be a six-digit Indian PIN code not starting with 0, not "+strconv.Quote(in.postalCode.Str))
		}
	}
	if in.paymentMode.Type == gjson.String && in.paymentMode.Str == "cod" && !in.codAmount {
		w.fail("cod_amount", "is required when payment_mode is cod")
	}
}

// gstinShape reports whether s has the GSTIN's layout, so that a checksum is
// meaningful; the schema's pattern reports any other string.
func gstinShape(s string) bool {
	if len(s) != 15 || s[13] != 'Z' {
		return false
	}
	for i := 0; i < 15; i++ {
		c := s[i]
		digit := c >= '0' && c <= '9'
		if i < 2 && !digit || !digit && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}

// GSTINCheckChar returns the check character of a GSTIN from its first 14
// characters: each character's value in 0-9A-Z (base 36) is multiplied by 1 and
// 2 alternately, each product's base-36 digits are summed, and the check
// character is the one that brings the total to a multiple of 36. It returns 0
// when first14 is not 14 characters of 0-9 and A-Z.
func GSTINCheckChar(first14 string) byte {
	if len(first14) != 14 {
		return 0
	}
	sum := 0
	for i := 0; i < 14; i++ {
		v := base36(first14[i])
		if v < 0 {
			return 0
		}
		p := v * (1 + i%2)
		sum += p/36 + p%36
	}
	return digits36[(36-sum%36)%36]
}

// ValidGSTIN reports whether s is a GSTIN with the right layout and check character.
func ValidGSTIN(s string) bool {
	return gstinShape(s) && GSTINCheckChar(s[:14]) == s[14]
}

// ValidPIN reports whether s is an Indian PIN code: six digits, the first not 0.
func ValidPIN(s string) bool {
	if len(s) != 6 || s[0] == '0' {
		return false
	}
	for i := 0; i < 6; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

const digits36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

func base36(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	}
	return -1
}
