package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/engine/webhooks"
)

// The Standard Webhooks specification's example secret.
const specSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func TestWebhooksSignMatchesSpecLibrary(t *testing.T) {
	t.Parallel()
	payload := `{"test": 2432232314}` + "\n"
	ts := time.Now().Unix()
	r := hub(t, payload, "webhooks", "sign", "--secret", specSecret, "--id", "msg_p5jXN8AQM9LWM0D4loKWxJek", "--timestamp", strconv.FormatInt(ts, 10))
	if r.code != 0 {
		t.Fatalf("sign: %d %s", r.code, r.err)
	}
	wh, err := standardwebhooks.NewWebhook(specSecret)
	if err != nil {
		t.Fatal(err)
	}
	want, err := wh.Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(ts, 0), []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(r.stdout); got != want {
		t.Fatalf("sign printed %q, the library signs %q", got, want)
	}
	// The same from a file.
	file := filepath.Join(t.TempDir(), "body.json")
	if err := os.WriteFile(file, []byte(payload), 0o600); err != nil {
		t.Fatal(err)
	}
	r = hub(t, "", "webhooks", "sign", "--secret", specSecret, "--id", "msg_p5jXN8AQM9LWM0D4loKWxJek", "--timestamp", strconv.FormatInt(ts, 10), file)
	if strings.TrimSpace(r.stdout) != want {
		t.Fatalf("sign FILE printed %q", r.stdout)
	}
	if r := hub(t, "", "webhooks", "sign", "--secret", "sk_nope", "--id", "x", "--timestamp", "1"); r.code != 2 || strings.Contains(r.err, "sk_nope") {
		t.Fatalf("bad secret: %d %s", r.code, r.err)
	}
	if r := hub(t, "", "webhooks", "sign", "--id", "x"); r.code != 2 || !strings.Contains(r.err, "--secret") || !strings.Contains(r.err, "--timestamp") {
		t.Fatalf("missing flags: %d %s", r.code, r.err)
	}
}

func TestWebhooksVerify(t *testing.T) {
	t.Parallel()
	payload := `{"id":"evt_1","type":"shipment.delivered"}`
	now := time.Now()
	sig, err := webhooks.Sign([]string{specSecret}, "evt_1", now, []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	args := func(ts time.Time, sig string, extra ...string) []string {
		return append([]string{"webhooks", "verify", "--secret", specSecret, "--id", "evt_1", "--timestamp",
			strconv.FormatInt(ts.Unix(), 10), "--signature", sig}, extra...)
	}
	if r := hub(t, payload, args(now, "v1,bm9wZQ== "+sig)...); r.code != 0 || !strings.Contains(r.stdout, "valid") {
		t.Fatalf("valid: %d %s %s", r.code, r.stdout, r.err)
	}
	if r := hub(t, payload+" ", args(now, sig)...); r.code != 1 || !strings.Contains(r.err, "no signature matches") {
		t.Fatalf("tampered: %d %s", r.code, r.err)
	}
	old := now.Add(-time.Hour)
	oldSig, _ := webhooks.Sign([]string{specSecret}, "evt_1", old, []byte(payload))
	if r := hub(t, payload, args(old, oldSig)...); r.code != 1 || !strings.Contains(r.err, "tolerance") {
		t.Fatalf("old timestamp: %d %s", r.code, r.err)
	}
	if r := hub(t, payload, args(old, oldSig, "--no-tolerance")...); r.code != 0 {
		t.Fatalf("old timestamp with --no-tolerance: %d %s", r.code, r.err)
	}
	if r := hub(t, payload, args(now, "garbage")...); r.code != 1 || !strings.Contains(r.err, "invalid") {
		t.Fatalf("garbage signature: %d %s", r.code, r.err)
	}
}

func TestWebhooksReplayThroughAPI(t *testing.T) {
	a := newTestAPI(t)
	sf := storeFlags{dataDir: a.dataDir}
	st, err := sf.open(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ws := st.(store.WebhookStore)
	ctx := t.Context()
	ep, err := ws.CreateWebhookEndpoint(ctx, store.WebhookEndpoint{TenantID: a.tenant, URL: "https://erp.example.com", Enabled: true, Secret: webhooks.NewSecret()})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().Add(-2 * time.Hour).UTC().Truncate(time.Millisecond)
	var ds []store.WebhookDelivery
	for i := range 7 {
		ds = append(ds, store.WebhookDelivery{EventID: fmt.Sprintf("evt_%d", i), EndpointID: ep.ID, TenantID: a.tenant,
			EventType: "tracking.updated", Subject: "AWB", Seq: int64(i), EventTime: t0.Add(time.Duration(i) * time.Minute), Body: []byte(`{}`)})
	}
	if _, err := ws.InsertWebhookDeliveries(ctx, ds, t0); err != nil {
		t.Fatal(err)
	}
	claimed, err := ws.ClaimWebhookDeliveries(ctx, "t", 10, t0, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var outs []store.DeliveryOutcome
	for _, d := range claimed {
		outs = append(outs, store.DeliveryOutcome{EventID: d.EventID, EndpointID: d.EndpointID, LeaseOwner: d.LeaseOwner,
			State: store.DeliveryDead, NextAttemptAt: t0, Attempt: &store.WebhookAttempt{TenantID: a.tenant, Attempt: 1, At: t0, Status: 500, Error: "answered 500"}})
	}
	if err := ws.CompleteWebhookDeliveries(ctx, outs, t0); err != nil {
		t.Fatal(err)
	}
	r := hub(t, "", "webhooks", "replay", "--endpoint", ep.ID, "--since", t0.Format(time.RFC3339), "--page", "3",
		"--hub-url", a.url, "--api-key", a.secret)
	if r.code != 0 || !strings.Contains(r.stdout, "queued 7 deliveries") {
		t.Fatalf("replay: %d %s %s", r.code, r.stdout, r.err)
	}
	// Not a terminal: one plain line per page.
	if lines := strings.Split(strings.TrimSpace(r.err), "\n"); len(lines) != 3 || lines[2] != "queued 7 of 7" {
		t.Fatalf("progress lines %q", r.err)
	}
	if n, _ := ws.CountWebhookDeliveries(ctx, ep.ID, store.DeliveryPending); n != 7 {
		t.Fatalf("%d pending after replay", n)
	}
	r = hub(t, "", "webhooks", "replay", "--endpoint", "whe_aaaaaaaaaaaaaaaaaaaaaaaaaa", "--since", "36h", "--hub-url", a.url, "--api-key", a.secret)
	if r.code != 1 || !strings.Contains(r.err, strconv.Itoa(http.StatusNotFound)) {
		t.Fatalf("unknown endpoint: %d %s", r.code, r.err)
	}
	if r := hub(t, "", "webhooks", "replay", "--endpoint", ep.ID, "--since", "yesterday", "--hub-url", a.url); r.code != 2 {
		t.Fatalf("bad --since: %d %s", r.code, r.err)
	}
	if progressBar(5, 10, 10) != "[#####.....]" {
		t.Fatalf("progress bar %q", progressBar(5, 10, 10))
	}
}
