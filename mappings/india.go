package mappings

import "strings"

// The validators below are the mapping language's own: the package imports
// nothing of the hub's, so it does not share engine/validate's.

const gstinChars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

// ValidGSTIN reports whether s is a well-formed GSTIN: a two-digit state code,
// a PAN (five letters, four digits, a letter), an entity number, Z, and the
// check character computed over the first fourteen (base 36, weights 1 and 2).
func ValidGSTIN(s string) bool {
	if len(s) != 15 {
		return false
	}
	s = strings.ToUpper(s)
	for i := 0; i < 15; i++ {
		c := s[i]
		digit := c >= '0' && c <= '9'
		letter := c >= 'A' && c <= 'Z'
		switch {
		case i < 2 || i >= 7 && i < 11:
			if !digit {
				return false
			}
		case i >= 2 && i < 7 || i == 11:
			if !letter {
				return false
			}
		case !digit && !letter:
			return false
		}
	}
	if s[:2] == "00" || s[12] == '0' {
		return false
	}
	sum := 0
	for i := 0; i < 14; i++ {
		v := strings.IndexByte(gstinChars, s[i])
		w := 1
		if i%2 == 1 {
			w = 2
		}
		p := v * w
		sum += p/36 + p%36
	}
	return s[14] == gstinChars[(36-sum%36)%36]
}

// ValidPIN reports whether s is an Indian PIN code: six digits, not starting with 0.
func ValidPIN(s string) bool {
	if len(s) != 6 || s[0] < '1' || s[0] > '9' {
		return false
	}
	for i := 1; i < 6; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ValidHSN reports whether s is an HSN or SAC code: 2, 4, 6 or 8 digits.
func ValidHSN(s string) bool {
	switch len(s) {
	case 2, 4, 6, 8:
	default:
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ValidVehicleReg reports whether s is an Indian vehicle registration number,
// ignoring spaces and hyphens: state letters, RTO digits, an optional series
// and a number (MH 12 AB 1234, DL 3C AB 1234), or the Bharat series (22 BH 1234 AA).
func ValidVehicleReg(s string) bool {
	s = strings.ToUpper(strings.NewReplacer(" ", "", "-", "").Replace(s))
	run := func(i int, letters bool, lo, hi int) (int, bool) {
		n := 0
		for i+n < len(s) && n < hi && isClass(s[i+n], letters) {
			n++
		}
		return i + n, n >= lo
	}
	// Bharat series: yy BH nnnn X(X).
	if len(s) >= 9 && s[2:4] == "BH" {
		i, ok := run(0, false, 2, 2)
		if !ok || i != 2 {
			return false
		}
		i, ok = run(4, false, 4, 4)
		if !ok {
			return false
		}
		j, ok := run(i, true, 1, 2)
		return ok && j == len(s)
	}
	i, ok := run(0, true, 2, 2)
	if !ok {
		return false
	}
	if i, ok = run(i, false, 1, 2); !ok {
		return false
	}
	i, _ = run(i, true, 0, 3)
	j, ok := run(i, false, 1, 4)
	return ok && j == len(s)
}

func isClass(c byte, letter bool) bool {
	if letter {
		return c >= 'A' && c <= 'Z'
	}
	return c >= '0' && c <= '9'
}
