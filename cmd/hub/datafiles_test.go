//go:build unix

package main

import (
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/carrierhub/hub/engine/store"
)

// TestDataFilesArePrivate replays issue 13's "hub.db and its WAL are created
// world-readable" with the most permissive umask: the CLI creates a tenant in
// a new data directory and `hub serve` runs on it and takes writes; while it
// serves, every directory under the data directory is 0700 and every file
// (hub.db, -wal, -shm, secret.key, the migration lock) 0600.
//
// It is not parallel: the umask is the process's, and the sequential phase of
// the test binary runs no parallel test beside it.
func TestDataFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "hub-data")
	tc := newTenant(t, dir)
	h := startHub(t, dir)
	key := tc.APIKey.Secret
	for _, name := range []string{"one", "two", "three"} {
		body := `{"connector_id":"delhivery_express","name":"` + name + `","environment":"sandbox","base_url":"https://track.delhivery.com",` +
			`"credentials":{"api_token":"tok-0123456789abcdef"},"settings":{"pickup_location":"WH"}}`
		if code, out := post(t, h.url+"/v1/accounts", key, body); code != http.StatusCreated {
			t.Fatalf("account %s: %d %s", name, code, out)
		}
	}
	out, _ := exec.Command("ls", "-laR", dir).CombinedOutput()
	t.Logf("ls -laR %s (umask 0000):\n%s", dir, out)
	seen := map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		seen[rel] = true
		want := store.DataFileMode
		if d.IsDir() {
			want = store.DataDirMode
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("%s has mode %04o, want %04o", rel, got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, must := range []string{".", "hub.db", "hub.db-wal", "hub.db-shm", "secret.key", "plugins"} {
		if !seen[must] {
			t.Errorf("%s is not in the data directory; found %v", must, seen)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "plugins")); err != nil {
		t.Error(err)
	}
}
