//go:build race

package validate

// raceEnabled is set in a -race build, where TestDifferential compares a sample
// of its corpus: the comparison is single-goroutine work the race detector only
// slows down (TestConcurrentUse covers concurrent use).
const raceEnabled = true
