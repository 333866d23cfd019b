//go:build race

package main

// raceEnabled reports whether the test binary was built with -race, so heavy
// tests can scale themselves down.
const raceEnabled = true
