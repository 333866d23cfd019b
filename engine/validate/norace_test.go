//go:build !race

package validate

// raceEnabled is set in a -race build; see race_test.go.
const raceEnabled = false
