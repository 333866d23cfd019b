package model

import (
	"regexp"
	"testing"
)

// The India checks agree with the patterns the canonical schema gives the
// fields they check (go test runs the seeds; -fuzz FuzzIndiaChecks explores
// beyond them).
func FuzzIndiaChecks(f *testing.F) {
	checks := []struct {
		name  string
		check func(string) bool
		want  *regexp.Regexp
	}{
		{"IsPINCode", IsPINCode, regexp.MustCompile(`^[1-9][0-9]{5}$`)},
		{"IsEWayBillNumber", IsEWayBillNumber, regexp.MustCompile(`^[0-9]{12}$`)},
		{"IsHSNCode", IsHSNCode, regexp.MustCompile(`^[0-9]{4}([0-9]{2}){0,2}$`)},
		{"IsStateCode", IsStateCode, regexp.MustCompile(`^[0-9]{2}$`)},
		{"IsGSTIN", IsGSTIN, regexp.MustCompile(`^[0-9]{2}[A-Z0-9]{13}$`)},
	}
	for _, s := range []string{
		"560001", "110001", "999999", "100000", "", "0", "012345", "56000", "5600011", "56000a", "５60001", " 56000", "560001\n", "-56000", "56.001",
		"331009223441", "33100922344", "3310092234411", "33100922344x", "1001", "100110", "10011020", "100", "10011", "1001102", "100110201",
		"29", "07", "2", "291", "2a", "29AKLPM8755F1ZJ", "29aklpm8755f1zj", "29AKLPM8755F1YJ", "29AKLPM8755F1Z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range checks {
			if got, want := c.check(s), c.want.MatchString(s); got != want {
				t.Errorf("%s(%q) = %v, the schema's pattern says %v", c.name, s, got, want)
			}
		}
	})
}

func TestNationalNumber(t *testing.T) {
	for in, want := range map[string]string{
		"9876543210":        "9876543210",
		"+91 98765 43210":   "9876543210",
		"+91-98765-43210":   "9876543210",
		"098765 43210":      "9876543210",
		"(080) 2345 6789":   "8023456789",
		"919876543210":      "9876543210",
		"91 9876 5432":      "9198765432",
		"12345":             "12345",
		"":                  "",
		"+1 (415) 555-0100": "14155550100",
		"९८७६५४३२१०":        "",
	} {
		if got := NationalNumber(in); got != want {
			t.Errorf("NationalNumber(%q) = %q, want %q", in, got, want)
		}
	}
}
