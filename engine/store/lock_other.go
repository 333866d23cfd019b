//go:build !unix

package store

// lockFile does nothing where flock is unavailable: two processes migrating a fresh
// SQLite database at the same instant may then see one of them fail, and a retry
// succeeds.
func lockFile(string) (func(), error) { return func() {}, nil }
