package api

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/idempotency"
	"github.com/carrierhub/hub/engine/plugins"
	"github.com/carrierhub/hub/engine/resilience"
	"github.com/carrierhub/hub/engine/router"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/engine/store/storetest"
	"github.com/carrierhub/hub/internal/syncbuf"
	"github.com/carrierhub/hub/internal/testclock"
	"github.com/carrierhub/hub/sdk"
)

// idemHarness is the API over a real SQLite store (which keeps idempotency keys),
// a real router and the fake connectors, whose create_shipment runs h.create.
type idemHarness struct {
	*harness
	clock *testclock.Clock
	calls atomic.Int64
	mu    sync.Mutex
	// createFn is what the connector's create_shipment does; guarded by mu.
	createFn func(ctx context.Context, call *sdk.Call) ([]byte, error)
	account  string
	st       store.Store
}

const shipmentBody = `{"reference":"ORDER-77","parcels":[{"weight_grams":1200}]}`

func newIdemHarness(t *testing.T) *idemHarness { return newIdemHarnessOn(t, "sqlite") }

// newIdemHarnessOn is newIdemHarness over backend "sqlite" or "postgres"; the latter
// uses a fresh database on the server at HUB_POSTGRES_URL and skips when it is unset.
func newIdemHarnessOn(t *testing.T, backend string) *idemHarness {
	return newIdemHarnessWith(t, backend, oneAttempt)
}

// newIdemHarnessWith is newIdemHarnessOn with the router's resilience
// overrides ov.
func newIdemHarnessWith(t *testing.T, backend string, ov *resilience.Overrides) *idemHarness {
	t.Helper()
	st := openStore(t, backend)
	h := &idemHarness{
		harness: &harness{t: t, logs: &syncbuf.Buffer{}},
		clock:   testclock.New(time.Date(2030, 3, 4, 5, 6, 7, 0, time.UTC)),
		st:      st,
	}
	h.createFn = func(context.Context, *sdk.Call) ([]byte, error) {
		return []byte(`{"awb":"AWB-1","label_url":"https://labels.test/1.pdf"}`), nil
	}
	h.conns = &fakeConnectors{
		infos: []plugins.Info{{Manifest: acmeManifest, Builtin: true, Status: plugins.Status{State: plugins.StateRunning}}},
		invoke: func(ctx context.Context, _ string, call *sdk.Call) ([]byte, error) {
			h.calls.Add(1)
			h.mu.Lock()
			h.lastCall = call
			create := h.createFn
			h.mu.Unlock()
			return create(ctx, call)
		},
	}
	ctx := t.Context()
	ta, err := st.CreateTenant(ctx, "tenant-a")
	if err != nil {
		t.Fatal(err)
	}
	tb, err := st.CreateTenant(ctx, "tenant-b")
	if err != nil {
		t.Fatal(err)
	}
	h.tenantA, h.tenantB = ta.ID, tb.ID
	_, h.keyA, _ = st.CreateAPIKey(ctx, ta.ID, "a", false)
	_, h.keyB, _ = st.CreateAPIKey(ctx, tb.ID, "b", false)
	for _, tid := range []string{ta.ID, tb.ID} {
		a, err := st.CreateAccount(ctx, store.Account{TenantID: tid, ConnectorID: "acme", Name: "main", Environment: "sandbox",
			Credentials: map[string]string{"api_token": "tok-SECRET-1"}, Settings: map[string]string{"client_name": "C1"}})
		if err != nil {
			t.Fatal(err)
		}
		if tid == ta.ID {
			h.account = a.ID
		}
	}
	// The validator stands in for engine/validate: a shipment needs a reference.
	validate := func(op sdk.Operation, body []byte) error {
		if op == sdk.OpCreateShipment && !bytes.Contains(body, []byte(`"reference"`)) {
			return router.NewValidationError([]router.FieldError{{Pointer: "/reference", Message: "is required"}})
		}
		return nil
	}
	rt, err := router.New(router.Config{Overrides: ov, Connectors: h.conns, Accounts: st, Validate: validate, Now: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := New(Config{Store: st, Router: rt, Connectors: h.conns, Version: "test", Now: h.clock.Now,
		Logger: slog.New(slog.NewJSONHandler(h.logs, nil))})
	h.harness.srv = httptest.NewServer(srv)
	t.Cleanup(h.harness.srv.Close)
	return h
}

func (h *idemHarness) setCreate(f func(ctx context.Context, call *sdk.Call) ([]byte, error)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.createFn = f
}

func (h *idemHarness) lastKey() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lastCall == nil {
		return ""
	}
	return h.lastCall.IdempotencyKey
}

// create posts a create_shipment for tenant A with the key.
func (h *idemHarness) create(body, key string, headers ...string) reply {
	h.t.Helper()
	return h.do("POST", "/v1/connectors/acme/create_shipment", h.keyA, body, append([]string{"Idempotency-Key: " + key}, headers...)...)
}

func wantReplayOf(t *testing.T, what string, got, first reply) {
	t.Helper()
	if got.status != first.status || !bytes.Equal(got.body, first.body) ||
		got.header.Get("Content-Type") != first.header.Get("Content-Type") {
		t.Fatalf("%s: replay %d %q %s differs from the first answer %d %q %s", what,
			got.status, got.header.Get("Content-Type"), got.body, first.status, first.header.Get("Content-Type"), first.body)
	}
	if got.header.Get(idempotency.ReplayedHeader) != "true" {
		t.Fatalf("%s: replay lacks %s: true (headers %v)", what, idempotency.ReplayedHeader, got.header)
	}
}

func TestIdempotentCreateCallsOnce(t *testing.T) {
	t.Parallel()
	h := newIdemHarness(t)
	first := h.create(shipmentBody, "order-77")
	if first.status != 200 || first.header.Get(idempotency.ReplayedHeader) != "" {
		t.Fatalf("first create: %d %v %s", first.status, first.header, first.body)
	}
	if got := h.lastKey(); got != "order-77" {
		t.Fatalf("the connector got key %q, want order-77", got)
	}
	// Naming the (only) account explicitly is the same request.
	second := h.create(shipmentBody, "order-77", "Hub-Account: "+h.account)
	wantReplayOf(t, "second create", second, first)
	if n := h.calls.Load(); n != 1 {
		t.Fatalf("connector called %d times, want 1", n)
	}
	// The key is the tenant's own: tenant B's same key is a new request.
	r := h.do("POST", "/v1/connectors/acme/create_shipment", h.keyB, shipmentBody, "Idempotency-Key: order-77")
	if r.status != 200 || r.header.Get(idempotency.ReplayedHeader) != "" || h.calls.Load() != 2 {
		t.Fatalf("tenant B with tenant A's key: %d %v, %d calls", r.status, r.header, h.calls.Load())
	}
	// Without a key, nothing is remembered.
	for range 2 {
		if r := h.do("POST", "/v1/connectors/acme/create_shipment", h.keyA, shipmentBody); r.status != 200 || r.header.Get(idempotency.ReplayedHeader) != "" {
			t.Fatalf("create without a key: %d %v", r.status, r.header)
		}
	}
	if n := h.calls.Load(); n != 4 {
		t.Fatalf("connector called %d times, want 4", n)
	}
}

func TestIdempotentConcurrentCreates(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			testConcurrentCreates(t, newIdemHarnessOn(t, backend))
		})
	}
}

func testConcurrentCreates(t *testing.T, h *idemHarness) {
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock)
	extra := make(chan struct{}, 64)
	h.setCreate(func(context.Context, *sdk.Call) ([]byte, error) {
		if h.calls.Load() > 1 {
			extra <- struct{}{}
			return []byte(`{"awb":"DUPLICATE"}`), nil
		}
		<-release
		return []byte(`{"awb":"AWB-ONLY"}`), nil
	})
	const n = 50
	results := make(chan reply, n)
	for range n {
		go func() {
			req, _ := http.NewRequestWithContext(t.Context(), "POST", h.srv.URL+"/v1/connectors/acme/create_shipment", strings.NewReader(shipmentBody))
			req.Header.Set("Authorization", "Bearer "+h.keyA)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", "burst-1")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				results <- reply{status: -1, body: []byte(err.Error())}
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			results <- reply{status: resp.StatusCode, header: resp.Header, body: b}
		}()
	}
	// The one claimed call blocks until every other request has been answered, so
	// all of those overlap it.
	var got []reply
	for len(got) < n {
		if len(got) == n-1 {
			unblock()
		}
		select {
		case r := <-results:
			got = append(got, r)
		case <-extra:
			t.Fatal("the connector was called a second time for one key")
		}
	}
	fresh, conflicts, replays := 0, 0, 0
	var answer reply
	for _, r := range got {
		switch {
		case r.status == 200 && r.header.Get(idempotency.ReplayedHeader) == "":
			fresh++
			answer = r
		case r.status == 409:
			if p := r.problem(t); p.Code != "conflict" || r.header.Get("Retry-After") != "1" {
				t.Fatalf("in-progress answer: %+v, Retry-After %q", p, r.header.Get("Retry-After"))
			}
			conflicts++
		case r.status == 200:
			replays++
		default:
			t.Fatalf("unexpected answer %d %s", r.status, r.body)
		}
	}
	if fresh != 1 || h.calls.Load() != 1 || conflicts+replays != n-1 {
		t.Fatalf("%d fresh answers, %d conflicts, %d replays, %d calls; want 1 fresh and 1 call", fresh, conflicts, replays, h.calls.Load())
	}
	t.Logf("50 concurrent creates: 1 call, %d answered 409 in progress, %d replays", conflicts, replays)
	wantReplayOf(t, "after the burst", h.create(shipmentBody, "burst-1"), answer)
}

func TestIdempotentFailuresReplayed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		err    *sdk.Error
		status int
	}{
		{"carrier 503", sdk.CarrierError(sdk.CodeCarrierUnavailable, "503", "Service Unavailable"), 503},
		// (A timeout is not an answer: the create may have been done, so it is
		// outcome_unknown and settled on a retry; see unknown_test.go.)
		{"carrier 500", sdk.CarrierError(sdk.CodeInternal, "500", "Internal Server Error"), 502},
		{"rate limited by the carrier", &sdk.Error{Code: sdk.CodeRateLimited, Source: sdk.SourceCarrier, Message: "slow down", RetryAfter: 7 * time.Second}, 429},
		{"carrier rejected", sdk.CarrierError(sdk.CodePermanent, "ERR-PIN", "pincode not serviceable"), 422},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newIdemHarness(t)
			h.setCreate(func(context.Context, *sdk.Call) ([]byte, error) { return nil, tc.err })
			first := h.create(shipmentBody, "k-"+tc.name)
			if first.status != tc.status || first.problem(t).Code != string(tc.err.Code) {
				t.Fatalf("first answer %d %s, want %d", first.status, first.body, tc.status)
			}
			// The carrier recovers, but the key's answer is the first one.
			h.setCreate(func(context.Context, *sdk.Call) ([]byte, error) { return []byte(`{"awb":"LATE"}`), nil })
			wantReplayOf(t, tc.name, h.create(shipmentBody, "k-"+tc.name), first)
			if n := h.calls.Load(); n != 1 {
				t.Fatalf("connector called %d times, want 1", n)
			}
		})
	}
}

func TestIdempotencyFailuresBeforeTheCallAreNotStored(t *testing.T) {
	t.Parallel()
	h := newIdemHarness(t)
	// Validation fails before the call: 422, and the key stays free.
	r := h.create(`{"parcels":[]}`, "fix-me")
	if r.status != 422 || h.calls.Load() != 0 {
		t.Fatalf("invalid body: %d %s, %d calls", r.status, r.body, h.calls.Load())
	}
	if p := r.problem(t); len(p.Errors) == 0 || p.Errors[0].Pointer == nil || *p.Errors[0].Pointer != "/reference" {
		t.Fatalf("validation problem %+v", p)
	}
	// An unknown account: 404, not stored.
	if r := h.create(shipmentBody, "fix-me", "Hub-Account: acc_nosuchaccountatallxxxxxxxxx"); r.status != 404 {
		t.Fatalf("unknown account: %d %s", r.status, r.body)
	}
	// A call that provably never left (the connector process did not start): not stored.
	h.setCreate(func(context.Context, *sdk.Call) ([]byte, error) {
		return nil, &sdk.Error{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceHub, NotSent: true, Message: "connector acme did not start"}
	})
	if r := h.create(shipmentBody, "fix-me"); r.status != 503 || r.header.Get(idempotency.ReplayedHeader) != "" {
		t.Fatalf("not-sent failure: %d %s", r.status, r.body)
	}
	// The fixed request with the same key is made, and its answer kept.
	h.setCreate(func(context.Context, *sdk.Call) ([]byte, error) { return []byte(`{"awb":"FIXED"}`), nil })
	first := h.create(shipmentBody, "fix-me")
	if first.status != 200 || string(first.body) != `{"awb":"FIXED"}` || first.header.Get(idempotency.ReplayedHeader) != "" {
		t.Fatalf("fixed request: %d %s", first.status, first.body)
	}
	wantReplayOf(t, "fixed request again", h.create(shipmentBody, "fix-me"), first)
	if n := h.calls.Load(); n != 2 {
		t.Fatalf("connector called %d times, want 2 (the not-sent failure and the fixed request)", n)
	}

	// Bad keys are the caller's 400, before anything else.
	for name, headers := range map[string][]string{
		"too long":  {"Idempotency-Key: " + strings.Repeat("k", 256)},
		"not ASCII": {"Idempotency-Key: clé"},
	} {
		r := h.do("POST", "/v1/connectors/acme/create_shipment", h.keyA, shipmentBody, headers...)
		p := r.problem(t)
		if r.status != 400 || len(p.Errors) != 1 || p.Errors[0].Parameter != "Idempotency-Key" {
			t.Fatalf("key %s: %d %s", name, r.status, r.body)
		}
	}
	// Go's client refuses to send a control character; write the request by hand.
	conn, err := net.Dial("tcp", h.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	raw := "POST /v1/connectors/acme/create_shipment HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer " + h.keyA +
		"\r\nContent-Type: application/json\r\nIdempotency-Key: a\x01b\r\nContent-Length: " + strconv.Itoa(len(shipmentBody)) +
		"\r\nConnection: close\r\n\r\n" + shipmentBody
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("a key with a control character: %d", resp.StatusCode)
	}

	req, _ := http.NewRequestWithContext(t.Context(), "POST", h.srv.URL+"/v1/connectors/acme/create_shipment", strings.NewReader(shipmentBody))
	req.Header.Set("Authorization", "Bearer "+h.keyA)
	req.Header.Set("Content-Type", "application/json")
	req.Header["Idempotency-Key"] = []string{"one", "two"}
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("two keys: %d", resp.StatusCode)
	}
	if n := h.calls.Load(); n != 2 {
		t.Fatalf("bad keys reached the connector: %d calls", n)
	}
}

func TestIdempotencyKeyReusedWithDifferentRequest(t *testing.T) {
	t.Parallel()
	h := newIdemHarness(t)
	if r := h.create(shipmentBody, "k1"); r.status != 200 {
		t.Fatalf("first: %d %s", r.status, r.body)
	}
	r := h.create(strings.Replace(shipmentBody, "ORDER-77", "ORDER-78", 1), "k1")
	p := r.problem(t)
	if r.status != 422 || !strings.Contains(p.Detail, "Idempotency-Key reused with a different request") ||
		len(p.Errors) != 1 || p.Errors[0].Parameter != "Idempotency-Key" || r.header.Get(idempotency.ReplayedHeader) != "" {
		t.Fatalf("reused key: %d %s", r.status, r.body)
	}
	// Byte-exact: even whitespace makes another request.
	if r := h.create(shipmentBody+" ", "k1"); r.status != 422 {
		t.Fatalf("reused key, body with a trailing space: %d %s", r.status, r.body)
	}
	if n := h.calls.Load(); n != 1 {
		t.Fatalf("connector called %d times, want 1", n)
	}
}

// TestIdempotencyLeaseCoversTheCallTimeout checks a claim's lease runs from
// the timeout the call runs under, an operator's override included: a lease
// shorter than the call would let the key be abandoned while the call is
// still at the carrier.
func TestIdempotencyLeaseCoversTheCallTimeout(t *testing.T) {
	t.Parallel()
	p := oneAttempt.Connectors["acme"].Policy
	p.Timeout = sdk.Duration(7 * time.Minute)
	h := newIdemHarnessWith(t, "sqlite", &resilience.Overrides{Connectors: map[string]resilience.ConnectorOverrides{"acme": {Policy: p}}})
	var lease time.Duration
	h.createFn = func(ctx context.Context, _ *sdk.Call) ([]byte, error) {
		rec, err := h.st.GetIdempotencyKey(ctx, store.IdempotencyScope{TenantID: h.tenantA, ConnectorID: "acme", Operation: "create_shipment", Key: "k-lease"})
		if err != nil {
			return nil, err
		}
		lease = rec.ExpiresAt.Sub(rec.CreatedAt)
		return []byte(`{"awb":"AWB-1","label_url":"https://labels.test/1.pdf"}`), nil
	}
	if r := h.create(shipmentBody, "k-lease"); r.status != 200 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	if want := 7*time.Minute + idempotency.DefaultLeaseMargin; lease != want {
		t.Fatalf("the claim's lease is %s, want the overridden timeout plus the margin, %s", lease, want)
	}
}

func TestIdempotencyTTL(t *testing.T) {
	t.Parallel()
	h := newIdemHarness(t)
	first := h.create(shipmentBody, "ttl")
	h.clock.Add(idempotency.DefaultTTL - time.Millisecond)
	wantReplayOf(t, "inside the TTL", h.create(shipmentBody, "ttl"), first)
	h.clock.Add(time.Millisecond)
	r := h.create(shipmentBody, "ttl")
	if r.status != 200 || r.header.Get(idempotency.ReplayedHeader) != "" || h.calls.Load() != 2 {
		t.Fatalf("after the TTL: %d %v, %d calls; want a fresh call", r.status, r.header, h.calls.Load())
	}
}

func TestIdempotencyOversizeAnswer(t *testing.T) {
	t.Parallel()
	h := newIdemHarness(t)
	big := append([]byte(`{"label":"`), bytes.Repeat([]byte("A"), idempotency.DefaultMaxBody)...)
	big = append(big, `"}`...)
	h.setCreate(func(context.Context, *sdk.Call) ([]byte, error) { return big, nil })
	first := h.create(shipmentBody, "big")
	if first.status != 200 || !bytes.Equal(first.body, big) {
		t.Fatalf("first answer: %d, %d bytes", first.status, len(first.body))
	}
	r := h.create(shipmentBody, "big")
	p := r.problem(t)
	if r.status != 409 || !strings.Contains(p.Detail, "larger than") || h.calls.Load() != 1 {
		t.Fatalf("retry of an oversize answer: %d %s, %d calls", r.status, r.body, h.calls.Load())
	}
}

func TestIdempotentCallOutlivesTheClient(t *testing.T) {
	t.Parallel()
	h := newIdemHarness(t)
	started := make(chan struct{})
	release := make(chan struct{})
	h.setCreate(func(ctx context.Context, _ *sdk.Call) ([]byte, error) {
		close(started)
		<-release
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return []byte(`{"awb":"KEPT"}`), nil
	})
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "POST", h.srv.URL+"/v1/connectors/acme/create_shipment", strings.NewReader(shipmentBody))
		req.Header.Set("Authorization", "Bearer "+h.keyA)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "gone")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-started
	cancel() // the client gives up while the carrier call runs
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("client request: %v, want cancelled", err)
	}
	if r := h.create(shipmentBody, "gone"); r.status != 409 {
		t.Fatalf("retry while the call runs: %d %s", r.status, r.body)
	}
	close(release)
	// Poll until the answer is stored; the test's own timeout bounds the wait.
	for {
		r := h.create(shipmentBody, "gone")
		if r.status == 409 {
			time.Sleep(time.Millisecond)
			continue
		}
		if r.status != 200 || string(r.body) != `{"awb":"KEPT"}` || r.header.Get(idempotency.ReplayedHeader) != "true" {
			t.Fatalf("retry after the call finished: %d %s", r.status, r.body)
		}
		break
	}
	if n := h.calls.Load(); n != 1 {
		t.Fatalf("connector called %d times, want 1", n)
	}
}

// openStore opens a store for a test on backend "sqlite" (a temporary data
// directory) or "postgres" (a fresh database on the server at
// HUB_POSTGRES_URL; the test is skipped when it is unset), closed with the test.
func openStore(t *testing.T, backend string) store.Store {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	cfg := store.Config{DataDir: t.TempDir(), Key: key, Logger: slog.New(slog.DiscardHandler)}
	if backend == "postgres" {
		admin := os.Getenv("HUB_POSTGRES_URL")
		if admin == "" {
			t.Skip("HUB_POSTGRES_URL is not set; run `source .ci/postgres.sh` to start a throw-away Postgres")
		}
		cfg.PostgresURL = storetest.FreshPostgresDB(t, admin)
	}
	st, err := store.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
