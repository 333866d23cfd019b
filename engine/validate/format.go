package validate

import (
	"net/netip"
	"net/url"
	"strings"
)

// checkFormat returns what a string of format f must be, or "" when s has it.
func checkFormat(f format, s string) string {
	switch f {
	case formatDate:
		if !validDate(s) {
			return "must be a date written YYYY-MM-DD"
		}
	case formatDateTime:
		if !validDateTime(s) {
			return "must be an RFC 3339 date-time with an offset"
		}
	case formatURI:
		if !validURI(s) {
			return "must be an absolute URI"
		}
	}
	return ""
}

// digits parses s, which must be all ASCII digits, as a number; -1 otherwise.
func digits(s string) int {
	if s == "" {
		return -1
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// validDate reports whether s is an RFC 3339 full-date, YYYY-MM-DD, naming a
// day that exists.
func validDate(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	y, m, d := digits(s[:4]), digits(s[5:7]), digits(s[8:])
	if y < 0 || m < 1 || m > 12 || d < 1 {
		return false
	}
	days := [13]int{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[m]
	if m == 2 && y%4 == 0 && (y%100 != 0 || y%400 == 0) {
		days = 29
	}
	return d <= days
}

// validDateTime reports whether s is an RFC 3339 date-time: a full-date, T, a
// time with optional fraction, and Z or a numeric offset. A leap second is
// allowed only at 23:59:60 UTC.
func validDateTime(s string) bool {
	if len(s) < 20 || s[10] != 'T' && s[10] != 't' || !validDate(s[:10]) {
		return false
	}
	t := s[11:]
	if t[2] != ':' || t[5] != ':' {
		return false
	}
	h, m, sec := digits(t[:2]), digits(t[3:5]), digits(t[6:8])
	if h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 60 {
		return false
	}
	t = t[8:]
	if rest, ok := strings.CutPrefix(t, "."); ok {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 {
			return false
		}
		t = rest[i:]
	}
	if t != "Z" && t != "z" {
		if len(t) != 6 || t[0] != '+' && t[0] != '-' || t[3] != ':' {
			return false
		}
		oh, om := digits(t[1:3]), digits(t[4:6])
		if oh < 0 || oh > 23 || om < 0 || om > 59 {
			return false
		}
		// The leap-second rule applies to the time in UTC.
		offset := oh*60 + om
		if t[0] == '+' {
			offset = -offset
		}
		utc := ((h*60+m+offset)%(24*60) + 24*60) % (24 * 60)
		h, m = utc/60, utc%60
	}
	return sec < 60 || h == 23 && m == 59
}

// validURI reports whether s is an absolute URI (with a scheme); an IPv6 host
// must be bracketed and well formed.
func validURI(s string) bool {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() {
		return false
	}
	if host := u.Hostname(); strings.Contains(host, ":") {
		if !strings.Contains(u.Host, "[") || !strings.Contains(u.Host, "]") {
			return false
		}
		a, err := netip.ParseAddr(host)
		if err != nil || a.Zone() != "" {
			return false
		}
	}
	return true
}
