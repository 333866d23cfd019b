package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/carrierhub/hub/connectors"
	"github.com/carrierhub/hub/engine/events"
	"github.com/carrierhub/hub/sdk/model"
	"github.com/carrierhub/hub/sdk/transport/sftp/sftptest"
)

// TestSFTPInboxEndToEnd runs hub serve with a statusfile account whose inbox is
// on a real OpenSSH server: a carrier CSV dropped there becomes tracking.updated
// events at a webhook endpoint, once, and the file ends in the archive; a file
// the connector refuses ends in failed/.
func TestSFTPInboxEndToEnd(t *testing.T) {
	t.Parallel()
	if _, ok := connectors.Lookup("statusfile"); !ok {
		t.Fatal("the statusfile connector is not among the built-in connectors (connectors/builtin)")
	}
	srv := sftptest.Start(t, sftptest.Options{})
	inbox := filepath.Join(srv.Root, "acme-status")
	if err := os.MkdirAll(inbox, 0o755); err != nil {
		t.Fatal(err)
	}

	receiver := newEventSink(t)
	updates := func() map[string][]model.TrackingStatus {
		out := map[string][]model.TrackingStatus{}
		for _, e := range receiver.received() {
			if e.Type == events.TrackingUpdated {
				var tr model.Tracking
				_ = json.Unmarshal(e.Data, &tr)
				out[e.Subject] = append(out[e.Subject], tr.Status)
			}
		}
		return out
	}

	dir := t.TempDir()
	tc := newTenant(t, dir)
	// The operator's way: the CLI checks the inbox settings as the inbox reads them.
	if r := hub(t, "", "accounts", "create", "--data-dir", dir, "--tenant", tc.Tenant.ID, "--connector", "statusfile",
		"--name", "acme drop", "--environment", "sandbox",
		"--setting", "sftp_inbox="+inbox, "--setting", "sftp_host=127.0.0.1", "--setting", "sftp_port="+strconv.Itoa(srv.Port),
		"--setting", "sftp_user="+srv.User, "--setting", "sftp_known_hosts="+srv.KnownHosts,
		"--credential", "sftp_private_key="+string(srv.KeyPEM)); r.code != 0 {
		t.Fatalf("accounts create: %s", r.err)
	}
	cfg := filepath.Join(dir, "hub.yaml")
	conf := "webhooks:\n  allow_list: [127.0.0.1]\ntracking_polls:\n  enabled: false\nsftp_inbound:\n  interval: 1s\n  lease: 30s\n  dial_timeout: 10s\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	h := startHub(t, dir, "--config", cfg)
	if code, body := post(t, h.url+"/v1/webhooks/endpoints", tc.APIKey.Secret, `{"url":"`+receiver.URL+`/hooks","ordered":true,"event_types":["tracking.*"]}`); code != http.StatusCreated {
		t.Fatalf("create endpoint: %d %s", code, body)
	}

	const statusCSV = "event_time,tracking_number,status_code,carrier_ref\n" +
		"2026-03-05T10:00:00Z,SFTP-1,PICKED_UP,R-1\n" +
		"2026-03-05T11:00:00Z,SFTP-2,IN_TRANSIT,R-2\n"
	if err := os.WriteFile(filepath.Join(inbox, "status-0305.csv"), []byte(statusCSV), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(inbox, "broken.csv"), []byte("not,a,status,file\n1,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("after 60 s, no %s (updates %v); hub log:\n%s", what, updates(), h.logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	exists := func(p string) func() bool {
		return func() bool { _, err := os.Stat(p); return err == nil }
	}
	waitFor("tracking.updated for both shipments", func() bool { u := updates(); return len(u["SFTP-1"]) > 0 && len(u["SFTP-2"]) > 0 })
	waitFor("the status file archived", exists(filepath.Join(inbox, "archive", "status-0305.csv")))
	waitFor("the broken file in failed/", exists(filepath.Join(inbox, "failed", "broken.csv")))
	// A few more passes change nothing: the file was processed once.
	time.Sleep(3 * time.Second)
	u := updates()
	if len(u["SFTP-1"]) != 1 || u["SFTP-1"][0] != model.StatusInTransit || len(u["SFTP-2"]) != 1 {
		t.Fatalf("tracking.updated = %v; want one in_transit per shipment", u)
	}
	if _, err := os.Stat(filepath.Join(inbox, "status-0305.csv")); !os.IsNotExist(err) {
		t.Fatalf("the status file is still in the inbox: %v", err)
	}
	if strings.Contains(h.logs.String(), "PRIVATE KEY") {
		t.Fatal("the private key reached the hub's log")
	}
}
