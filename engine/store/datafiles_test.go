//go:build unix

package store_test

import (
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/carrierhub/hub/engine/store"
)

// TestSQLiteFilesArePrivate opens the embedded store in child processes whose
// umask would otherwise leave files open to everyone (0000) or take the owner's
// own write bit (0277), writes through it, and checks while it is open that the
// data directory is 0700 and the database, its -wal and -shm files and the
// migration lock are 0600 (issue 13: hub.db and its WAL were world-readable).
// A database left world-readable by an older hub is narrowed when opened.
func TestSQLiteFilesArePrivate(t *testing.T) {
	if os.Getenv("HUB_STORE_UMASK_DIR") != "" {
		t.Skip("running as a helper")
	}
	key := hex.EncodeToString(testKey(t))
	run := func(t *testing.T, dir string, umask int) {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestSQLiteFilesHelper$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "HUB_STORE_UMASK_DIR="+dir, "HUB_STORE_UMASK="+strconv.Itoa(umask), "HUB_STORE_UMASK_KEY="+key)
		out, err := cmd.CombinedOutput()
		t.Logf("umask %04o:\n%s", umask, out)
		if err != nil {
			t.Fatalf("helper: %v", err)
		}
	}
	for _, umask := range []int{0o000, 0o277} {
		t.Run(fmt.Sprintf("umask %04o", umask), func(t *testing.T) {
			run(t, filepath.Join(t.TempDir(), "data", "nested"), umask)
		})
	}
	t.Run("world-readable database of an older hub", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		run(t, dir, 0o000)
		db := filepath.Join(dir, store.SQLiteFile)
		if err := os.WriteFile(db+"-wal", nil, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{db, db + "-wal"} {
			if err := os.Chmod(p, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		run(t, dir, 0o000)
	})
}

// TestSQLiteFilesHelper is the child of TestSQLiteFilesArePrivate.
func TestSQLiteFilesHelper(t *testing.T) {
	dir := os.Getenv("HUB_STORE_UMASK_DIR")
	if dir == "" {
		t.Skip("helper for TestSQLiteFilesArePrivate")
	}
	umask, _ := strconv.Atoi(os.Getenv("HUB_STORE_UMASK"))
	key, _ := hex.DecodeString(os.Getenv("HUB_STORE_UMASK_KEY"))
	syscall.Umask(umask) // this process only
	s, err := store.Open(t.Context(), store.Config{DataDir: dir, Key: key, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 20 {
		tn, err := s.CreateTenant(t.Context(), fmt.Sprintf("tenant-%d-%s", i, hex.EncodeToString(testKey(t)[:4])))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateAccount(t.Context(), store.Account{TenantID: tn.ID, ConnectorID: "bluedart",
			Name: "main", Environment: "sandbox", Credentials: map[string]string{"k": "v"}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.ListTenants(t.Context()); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command("ls", "-la", dir).CombinedOutput()
	t.Logf("ls -la %s:\n%s", dir, out)
	db := filepath.Join(dir, store.SQLiteFile)
	want := map[string]fs.FileMode{dir: store.DataDirMode,
		db: store.DataFileMode, db + "-wal": store.DataFileMode, db + "-shm": store.DataFileMode}
	if filepath.Base(dir) == "nested" { // the store made its parent too
		want[filepath.Dir(dir)] = store.DataDirMode
	}
	for p, mode := range want {
		info, err := os.Stat(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if got := info.Mode().Perm(); got != mode {
			t.Errorf("%s has mode %04o under umask %04o, want %04o", p, got, umask, mode)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %04o: open to group or others", e.Name(), info.Mode().Perm())
		}
	}
}
