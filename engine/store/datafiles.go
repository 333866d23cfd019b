package store

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
)

// Modes of what the hub keeps in its data directory: the embedded database and its
// companions hold every tenant's shipments and sealed credentials, and the secret
// key file unseals them, so nobody but the hub's user may read them.
const (
	// DataDirMode is the mode of a data directory (and of the plugin directory)
	// the hub creates.
	DataDirMode fs.FileMode = 0o700
	// DataFileMode is the mode of every file the hub creates in the data
	// directory: the database, its -wal, -shm and -journal files, the migration
	// lock, and the secret key file.
	DataFileMode fs.FileMode = 0o600
)

// sqliteCompanions are the files SQLite keeps beside the database file.
var sqliteCompanions = []string{"-wal", "-shm", "-journal"}

// prepareDataDir creates dataDir with DataDirMode if missing and the database file
// path in it, empty, with DataFileMode whatever the process's umask, before SQLite
// opens it. SQLite gives the -wal, -shm and -journal files it creates the database
// file's mode (os_unix.c's findCreateFileMode; it fchmods them past the umask), so
// they are private too. Files of an existing database that group or others may
// access (written by an older hub, or copied in) lose those bits. An existing data
// directory's mode is the operator's: one open to others is only reported.
func prepareDataDir(dataDir, path string, log *slog.Logger) error {
	if err := MkdirPrivate(dataDir); err != nil {
		return fmt.Errorf("store: creating data directory: %w", err)
	}
	if info, err := os.Stat(dataDir); err == nil && info.Mode().Perm()&0o077 != 0 {
		log.Warn("the data directory is open to group or others; the hub's files in it are private, but consider chmod 700",
			"dir", dataDir, "mode", fmt.Sprintf("%04o", info.Mode().Perm()))
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, DataFileMode)
	switch {
	case err == nil:
		err = f.Chmod(DataFileMode) // the umask may have taken the owner's bits
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("store: creating %s: %w", path, err)
		}
	case errors.Is(err, fs.ErrExist):
	default:
		return fmt.Errorf("store: creating %s: %w", path, err)
	}
	for _, p := range append([]string{path}, companionPaths(path)...) {
		narrowFileMode(p, log)
	}
	return nil
}

// MkdirPrivate creates dir and any missing parents with DataDirMode whatever the
// process's umask (each is chmod-ed before its child is made). Directories that
// exist already keep their mode.
func MkdirPrivate(dir string) error {
	info, err := os.Stat(dir)
	switch {
	case err == nil && info.IsDir():
		return nil
	case err == nil:
		return &fs.PathError{Op: "mkdir", Path: dir, Err: syscall.ENOTDIR}
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := MkdirPrivate(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, DataDirMode); err != nil {
		if errors.Is(err, fs.ErrExist) { // made by a concurrent caller
			return nil
		}
		return err
	}
	return os.Chmod(dir, DataDirMode)
}

func companionPaths(path string) []string {
	out := make([]string, len(sqliteCompanions))
	for i, c := range sqliteCompanions {
		out[i] = path + c
	}
	return out
}

// narrowFileMode takes group and other permissions off the regular file at p, if
// it exists; a failure (another user's file) is logged, not fatal.
func narrowFileMode(p string, log *slog.Logger) {
	info, err := os.Stat(p)
	if err != nil || !info.Mode().IsRegular() || info.Mode().Perm()&0o077 == 0 {
		return
	}
	if err := os.Chmod(p, info.Mode().Perm()&0o700); err != nil {
		log.Warn("a store file is open to group or others and could not be made private", "file", p, "err", err)
		return
	}
	log.Info("store file made private", "file", p, "was", fmt.Sprintf("%04o", info.Mode().Perm()))
}
