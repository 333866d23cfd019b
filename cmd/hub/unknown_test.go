package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/carrierhub/hub/connectors/delhivery/simulator"
	"github.com/carrierhub/hub/engine/store"
)

// answerLosingCarrier fronts the Delhivery simulator: every request reaches it,
// but while lose is set a create's answer is swallowed once the simulator has
// booked it (booked receives the answer) and the connection is held open until
// the caller goes away, as when a connector process dies waiting for the answer.
type answerLosingCarrier struct {
	srv    *httptest.Server
	lose   atomic.Bool
	booked chan []byte
}

func newAnswerLosingCarrier(t *testing.T, sim *simulator.Simulator) *answerLosingCarrier {
	c := &answerLosingCarrier{booked: make(chan []byte, 1)}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		lose := r.URL.Path == simulator.PathCreate && c.lose.Load()
		ctx := r.Context()
		if lose {
			// The simulator finishes the booking even if the caller goes away first.
			ctx = context.WithoutCancel(ctx)
		}
		req, err := http.NewRequestWithContext(ctx, r.Method, sim.URL()+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if lose {
			c.booked <- answer
			<-r.Context().Done()
			return
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(answer)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// postHeaders calls the hub's API with extra headers and returns the answer.
func postHeaders(t *testing.T, url, key, body string, headers ...string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ": ")
		req.Header.Set(name, value)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, out
}

type unknownProblem struct {
	Code, Source, Detail string
	RetryAfter           int `json:"retry_after"`
}

// TestConnectorKilledMidCreate is issue 13's unknown-outcome attack through `hub
// serve` and the real Delhivery connector process. The connector is SIGKILLed
// while its create waits for an answer Delhivery will never send, after Delhivery
// has booked the shipment. The caller gets 502 outcome_unknown with Retry-After
// (not internal), the hub lists the shipment as unconfirmed, and a retry with the
// same Idempotency-Key settles it: the hub looks the booking up by its reference
// (find_shipment) and answers with Delhivery's waybill, which Delhivery booked
// once, instead of replaying the 502; later retries replay that answer. A second
// create killed before Delhivery booked anything is settled by booking it, once.
func TestConnectorKilledMidCreate(t *testing.T) {
	t.Parallel()
	sim := simulator.New()
	t.Cleanup(sim.Close)
	carrier := newAnswerLosingCarrier(t, sim)
	dir := t.TempDir()
	tc := newTenant(t, dir)
	if r := hub(t, "", "accounts", "create", "--data-dir", dir, "--tenant", tc.Tenant.ID, "--connector", "delhivery_express",
		"--name", "sim", "--environment", "sandbox", "--base-url", carrier.srv.URL, "--credential", "api_token="+sim.Token(),
		"--setting", "pickup_location=WH"); r.code != 0 {
		t.Fatalf("accounts create: %s", r.err)
	}
	cfg := filepath.Join(dir, "hub.yaml")
	if err := os.WriteFile(cfg, []byte("idempotency:\n  settle_after: 1s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := startHub(t, dir, "--config", cfg)
	key := tc.APIKey.Secret
	createURL := h.url + "/v1/connectors/delhivery_express/create_shipment"
	if code, body := post(t, h.url+"/v1/connectors/delhivery_express/track", key, trackBody); code != http.StatusOK {
		t.Fatalf("track: %d %s", code, body)
	}
	pid, _ := connectorPID(t, h.url, "delhivery_express")
	if pid == 0 {
		t.Fatal("no connector process")
	}

	// The attack: Delhivery books, the connector dies before the answer arrives.
	carrier.lose.Store(true)
	type answer struct {
		code   int
		header http.Header
		body   []byte
	}
	done := make(chan answer, 1)
	go func() {
		c, hd, b := postHeaders(t, createURL, key, fmt.Sprintf(stormShipment, 1), "Idempotency-Key: KILL-1")
		done <- answer{c, hd, b}
	}()
	var booked []byte
	select {
	case booked = <-carrier.booked:
	case <-time.After(30 * time.Second):
		t.Fatalf("the create never reached Delhivery\n%s", h.logs.String())
	}
	var bookedAnswer struct {
		Packages []struct{ Waybill string } `json:"packages"`
	}
	if err := json.Unmarshal(booked, &bookedAnswer); err != nil || len(bookedAnswer.Packages) != 1 || bookedAnswer.Packages[0].Waybill == "" {
		t.Fatalf("Delhivery's answer: %v %s", err, booked)
	}
	waybill := bookedAnswer.Packages[0].Waybill
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	got := <-done
	carrier.lose.Store(false)
	var p unknownProblem
	if err := json.Unmarshal(got.body, &p); err != nil || got.code != http.StatusBadGateway || p.Code != "outcome_unknown" ||
		got.header.Get("Retry-After") != "1" || p.RetryAfter != 1 || !strings.Contains(p.Detail, `"STORM-1"`) ||
		!strings.Contains(p.Detail, "same Idempotency-Key") {
		t.Fatalf("the create whose connector died: %d %v %s; want 502 outcome_unknown with Retry-After 1 naming the reference", got.code, got.header, got.body)
	}
	t.Logf("create whose connector was killed: %d Retry-After %s %s", got.code, got.header.Get("Retry-After"), got.body)
	unconfirmed := listUnconfirmed(t, h.url, key, "unconfirmed")
	if len(unconfirmed) != 1 || unconfirmed[0].Reference != "STORM-1" || unconfirmed[0].IdempotencyKey != "KILL-1" ||
		unconfirmed[0].Operation != "create_shipment" || unconfirmed[0].State != store.Unconfirmed ||
		!strings.Contains(unconfirmed[0].Reason, "exited during the call") {
		t.Fatalf("unconfirmed shipments after the kill: %+v", unconfirmed)
	}

	// The retry with the same key settles it: Delhivery's booking, not the 502.
	code, header, body := settleRetry(t, createURL, key, fmt.Sprintf(stormShipment, 1), "KILL-1")
	var settled struct {
		TrackingNumber string `json:"tracking_number"`
		Reference      string `json:"reference"`
	}
	if err := json.Unmarshal(body, &settled); err != nil || code != http.StatusOK || settled.TrackingNumber != waybill ||
		settled.Reference != "STORM-1" || header.Get("Hub-Settled") != "found" || header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("the retry: %d %v %s; want 200 with waybill %s found by reference\n%s", code, header, body, waybill, h.logs.String())
	}
	t.Logf("retry with the same key: %d Hub-Settled %s %s", code, header.Get("Hub-Settled"), body)
	if n := sim.Calls(simulator.PathCreate); n != 1 {
		t.Fatalf("Delhivery received %d creates, want 1", n)
	}
	code, header, again := postHeaders(t, createURL, key, fmt.Sprintf(stormShipment, 1), "Idempotency-Key: KILL-1")
	if code != http.StatusOK || !bytes.Equal(again, body) || header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("a later retry: %d %v %s; want the settled answer replayed", code, header, again)
	}
	if list := listUnconfirmed(t, h.url, key, "booked"); len(list) != 1 || list[0].TrackingNumber != waybill {
		t.Fatalf("booked after settling: %+v", list)
	}

	// Killed before Delhivery booked anything: the retry finds nothing and books it, once.
	pid, _ = connectorPID(t, h.url, "delhivery_express")
	sim.SetLatency(20 * time.Second) // a request abandoned during the delay is not booked
	go func() {
		c, hd, b := postHeaders(t, createURL, key, fmt.Sprintf(stormShipment, 2), "Idempotency-Key: KILL-2")
		done <- answer{c, hd, b}
	}()
	for deadline := time.Now().Add(30 * time.Second); sim.Calls(simulator.PathCreate) < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the second create never reached Delhivery")
		}
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	got = <-done
	sim.SetLatency(0)
	if err := json.Unmarshal(got.body, &p); err != nil || got.code != http.StatusBadGateway || p.Code != "outcome_unknown" || got.header.Get("Retry-After") != "1" {
		t.Fatalf("the second create: %d %v %s", got.code, got.header, got.body)
	}
	code, header, body = settleRetry(t, createURL, key, fmt.Sprintf(stormShipment, 2), "KILL-2")
	if code != http.StatusOK || header.Get("Hub-Settled") != "not_found" || !strings.Contains(string(body), `"reference":"STORM-2"`) {
		t.Fatalf("the second retry: %d %v %s", code, header, body)
	}
	if n := sim.Calls(simulator.PathCreate); n != 3 {
		t.Fatalf("Delhivery received %d creates, want 3 (one lost before booking, then one each)", n)
	}
	if list := listUnconfirmed(t, h.url, key, "not_booked"); len(list) != 1 || list[0].Reference != "STORM-2" {
		t.Fatalf("not booked after settling: %+v", list)
	}
	if strings.Contains(h.logs.String(), sim.Token()) || strings.Contains(h.logs.String(), key) {
		t.Fatal("a secret reached the logs")
	}
}

// settleRetry retries a create under its key until the hub settles it, waiting
// as each 502 outcome_unknown's Retry-After says, and returns the settled answer.
func settleRetry(t *testing.T, url, key, body, idemKey string) (int, http.Header, []byte) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; {
		code, header, out := postHeaders(t, url, key, body, "Idempotency-Key: "+idemKey)
		if code != http.StatusBadGateway {
			return code, header, out
		}
		var p unknownProblem
		wait, err := strconv.Atoi(header.Get("Retry-After"))
		if json.Unmarshal(out, &p) != nil || p.Code != "outcome_unknown" || err != nil || wait < 1 {
			t.Fatalf("a retry: %d %v %s; want 502 outcome_unknown with Retry-After until settled", code, header, out)
		}
		if time.Now().After(deadline) {
			t.Fatalf("not settled after a minute: %s", out)
		}
		time.Sleep(time.Duration(wait) * time.Second)
	}
}

func listUnconfirmed(t *testing.T, hubURL, key, state string) []store.UnconfirmedShipment {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, hubURL+"/v1/unconfirmed-shipments?state="+state, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list []store.UnconfirmedShipment
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/unconfirmed-shipments: %d %v", resp.StatusCode, err)
	}
	return list
}
