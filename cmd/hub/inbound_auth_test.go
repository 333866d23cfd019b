package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/api"
	"github.com/carrierhub/hub/engine/events"
	"github.com/carrierhub/hub/engine/secretbox"
	"github.com/carrierhub/hub/engine/store"
)

// TestInboundPushNeedsItsCredentials replays issue 13's forged push through
// `hub serve` and the statusfile connector process: a CSV posted to
// /v1/inbound/statusfile/<account id> without credentials, with a wrong
// token, or to an account that holds no inbound_token (its files come by
// SFTP) is refused with 401 before the connector sees it, and records
// nothing and emits no event; an unknown account gets the very same answer.
// The account's own token is accepted and its results are recorded, with
// their events.
func TestInboundPushNeedsItsCredentials(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tc := newTenant(t, dir)
	const token = "sf-inbound-3b9d0c7e41a25f86"
	account := func(name string, creds ...string) string {
		t.Helper()
		args := []string{"accounts", "create", "--data-dir", dir, "--tenant", tc.Tenant.ID, "--connector", "statusfile",
			"--name", name, "--environment", "production", "-o", "json"}
		for _, c := range creds {
			args = append(args, "--credential", c)
		}
		r := hub(t, "", args...)
		var acct struct {
			ID string `json:"id"`
		}
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &acct) != nil || acct.ID == "" {
			t.Fatalf("accounts create %s: %s %s", name, r.stdout, r.err)
		}
		return acct.ID
	}
	pushed := account("pushed files", "inbound_token="+token)
	sftpOnly := account("sftp drops")

	cfg := filepath.Join(dir, "hub.yaml")
	conf := "webhooks:\n  allow_list: [127.0.0.1]\ntracking_polls:\n  enabled: false\nsftp_inbound:\n  enabled: false\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	h := startHub(t, dir, "--config", cfg)
	receiver := newEventSink(t)
	if code, body := post(t, h.url+"/v1/webhooks/endpoints", tc.APIKey.Secret, `{"url":"`+receiver.URL+`/hooks","ordered":true,"event_types":["shipment.*","tracking.*"]}`); code != http.StatusCreated {
		t.Fatalf("create endpoint: %d %s", code, body)
	}

	const forged = "tracking_number,status_code,status_text,event_time,location\n" +
		"FORGED-7001,DL,Delivered,2026-03-05 10:00,\"Pune, Maharashtra, IN\"\n"
	type answer struct {
		code int
		hdr  http.Header
		body []byte
	}
	push := func(account, authorization, body string) answer {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, h.url+"/v1/inbound/statusfile/"+account, strings.NewReader(body))
		req.Header.Set("Content-Type", "text/csv")
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("push: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return answer{resp.StatusCode, resp.Header, b}
	}
	// refusal is the answer without what differs per request.
	refusal := func(what string, a answer) api.Problem {
		t.Helper()
		var p api.Problem
		if a.code != http.StatusUnauthorized || a.hdr.Get("Content-Type") != "application/problem+json" || json.Unmarshal(a.body, &p) != nil ||
			p.Code != "unauthenticated" || strings.Contains(string(a.body), token) {
			t.Fatalf("%s: %d %s %s, want a 401 unauthenticated problem", what, a.code, a.hdr.Get("Content-Type"), a.body)
		}
		p.Instance, p.RequestID = "", ""
		return p
	}
	first := refusal("no credentials", push(pushed, "", forged))
	for _, c := range []struct{ what, account, authorization string }{
		{"a wrong token", pushed, "Bearer not-the-token"},
		{"the tenant's API key", pushed, "Bearer " + tc.APIKey.Secret},
		{"the token without its scheme's space", pushed, "Bearer" + token},
		{"an account without an inbound_token", sftpOnly, "Bearer " + token},
		{"an account without an inbound_token, no credentials", sftpOnly, ""},
		{"an unknown account", "acc_aaaaaaaaaaaaaaaaaaaaaaaaaa", "Bearer " + token},
		{"not an account id", "nope", ""},
	} {
		if got := refusal(c.what, push(c.account, c.authorization, forged)); !reflect.DeepEqual(got, first) {
			t.Errorf("%s: answer %+v differs from the first refusal's %+v", c.what, got, first)
		}
	}

	// The account's token: recorded, with its events.
	const real = "tracking_number,status_code,status_text,event_time,location\n" +
		"REAL-7002,DL,Delivered,2026-03-05 11:00,\"Pune, Maharashtra, IN\"\n"
	a := push(pushed, "Bearer "+token, real)
	var got api.PushReceived
	if a.code != http.StatusOK || json.Unmarshal(a.body, &got) != nil || got.Results != 1 {
		t.Fatalf("push with the token: %d %s\n%s", a.code, a.body, h.logs.String())
	}
	// The endpoint is ordered: once the accepted push's delivery arrived,
	// anything a refused push had recorded would have arrived before it.
	deadline := time.Now().Add(30 * time.Second)
	for {
		delivered := false
		for _, e := range receiver.received() {
			if e.Subject == "REAL-7002" && e.Type == events.ShipmentDelivered {
				delivered = true
			}
		}
		if delivered {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no shipment.delivered for the accepted push after 30 s; hub log:\n%s", h.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, e := range receiver.received() {
		if e.Subject == "FORGED-7001" {
			t.Errorf("a refused push emitted %s", e.Type)
		}
	}
	if strings.Contains(h.logs.String(), token) {
		t.Errorf("the hub's log shows the token")
	}

	// And nothing of the refused pushes is in the store.
	if err := h.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.exited:
	case <-time.After(60 * time.Second):
		t.Fatal("serve ignored SIGTERM")
	}
	key, err := secretbox.LoadOrCreateKeyFile(filepath.Join(dir, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.Context(), store.Config{DataDir: dir, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.GetShipment(t.Context(), tc.Tenant.ID, "statusfile", "FORGED-7001"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the forged shipment: %v, want not found", err)
	}
	if sh, err := st.GetShipment(t.Context(), tc.Tenant.ID, "statusfile", "REAL-7002"); err != nil || sh.Status != "delivered" {
		t.Errorf("the accepted push's shipment: %+v %v", sh, err)
	}
}
