package store_test

import (
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/carrierhub/hub/engine/store"
)

// TestSQLiteSeparateProcesses runs writers in two child processes and this one against
// one fresh data directory, as `hub serve` and a CLI command would: every process
// migrates the new database under the file lock and every write lands.
func TestSQLiteSeparateProcesses(t *testing.T) {
	if os.Getenv("HUB_STORE_HELPER_DIR") != "" {
		t.Skip("running as a helper")
	}
	dir := t.TempDir()
	key := testKey(t)
	const perProcess = 25
	var wg sync.WaitGroup
	for _, name := range []string{"cli", "cron"} {
		wg.Go(func() {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestStoreHelperProcess$", "-test.count=1")
			cmd.Env = append(os.Environ(),
				"HUB_STORE_HELPER_DIR="+dir,
				"HUB_STORE_HELPER_KEY="+hex.EncodeToString(key),
				"HUB_STORE_HELPER_NAME="+name,
				fmt.Sprintf("HUB_STORE_HELPER_N=%d", perProcess))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("helper %s: %v\n%s", name, err, out)
			}
		})
	}
	s := openSQLite(t, dir, key)
	for i := range perProcess {
		if _, err := s.CreateTenant(t.Context(), fmt.Sprintf("serve-%d", i)); err != nil {
			t.Errorf("parent write %d: %v", i, err)
		}
	}
	wg.Wait()
	list, err := s.ListTenants(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3*perProcess {
		t.Fatalf("%d tenants after three writers, want %d", len(list), 3*perProcess)
	}
}

// TestStoreHelperProcess is the child of TestSQLiteSeparateProcesses; it does nothing
// in a normal run.
func TestStoreHelperProcess(t *testing.T) {
	dir := os.Getenv("HUB_STORE_HELPER_DIR")
	if dir == "" {
		t.Skip("helper for TestSQLiteSeparateProcesses")
	}
	key, err := hex.DecodeString(os.Getenv("HUB_STORE_HELPER_KEY"))
	if err != nil {
		t.Fatal(err)
	}
	var n int
	fmt.Sscan(os.Getenv("HUB_STORE_HELPER_N"), &n)
	s, err := store.Open(t.Context(), store.Config{DataDir: dir, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	name := os.Getenv("HUB_STORE_HELPER_NAME")
	for i := range n {
		tn, err := s.CreateTenant(t.Context(), fmt.Sprintf("%s-%d", name, i))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateAccount(t.Context(), store.Account{TenantID: tn.ID, ConnectorID: "bluedart",
			Name: "main", Environment: "sandbox", Credentials: map[string]string{"k": "v"}}); err != nil {
			t.Fatal(err)
		}
	}
}
