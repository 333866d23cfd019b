//go:build unix

package store

import (
	"fmt"
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock on path (created if missing), waiting for
// another process that holds it, and returns the release function. The kernel drops
// the lock if the process dies.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, DataFileMode)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	if info, err := f.Stat(); err == nil && info.Mode().Perm() != DataFileMode {
		_ = f.Chmod(DataFileMode) // past the umask; another user's lock file stays as it is
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}
