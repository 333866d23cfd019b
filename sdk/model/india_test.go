package model

import (
	"regexp"
	"testing"
)

// IsPINCode agrees with the pattern the canonical schema gives PIN code fields
// (go test runs the seeds; -fuzz FuzzIsPINCode explores beyond them).
func FuzzIsPINCode(f *testing.F) {
	schema := regexp.MustCompile(`^[1-9][0-9]{5}$`)
	for _, s := range []string{"560001", "110001", "999999", "100000", "", "0", "012345", "56000", "5600011", "56000a", "５60001", " 56000", "560001\n", "-56000", "56.001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := IsPINCode(s), schema.MatchString(s); got != want {
			t.Errorf("IsPINCode(%q) = %v, the schema's pattern says %v", s, got, want)
		}
	})
}
