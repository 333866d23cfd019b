package router

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/resilience"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/sdktest"
)

type fakeConnectors struct {
	manifest func(id string) (*sdk.Manifest, bool)
	invoke   func(ctx context.Context, id string, call *sdk.Call) ([]byte, error)
}

func (f *fakeConnectors) Manifest(id string) (*sdk.Manifest, bool) { return f.manifest(id) }
func (f *fakeConnectors) Invoke(ctx context.Context, id string, call *sdk.Call) ([]byte, error) {
	return f.invoke(ctx, id, call)
}

type fakeAccounts struct {
	get  func(ctx context.Context, tenant, id string) (store.Account, error)
	list func(ctx context.Context, tenant, connector string) ([]store.Account, error)
}

func (f *fakeAccounts) GetAccount(ctx context.Context, tenant, id string) (store.Account, error) {
	return f.get(ctx, tenant, id)
}
func (f *fakeAccounts) ListAccounts(ctx context.Context, tenant, connector string) ([]store.Account, error) {
	return f.list(ctx, tenant, connector)
}

var testManifest = &sdk.Manifest{
	ID: "acme", Name: "Acme", Version: "1.0.0", Category: "carrier_parcel", Docs: "https://example.test",
	Operations: []sdk.OperationInfo{
		{Name: sdk.OpTrack, Idempotent: true, Timeout: sdk.Duration(7 * time.Second)},
		{Name: sdk.OpCreateShipment},
	},
	Account: sdk.AccountSchema{Environments: map[string]string{"sandbox": "https://sandbox.acme.test"}},
}

// memAccounts is a tiny in-memory account table keyed by tenant.
func memAccounts(accts ...store.Account) *fakeAccounts {
	return &fakeAccounts{
		get: func(_ context.Context, tenant, id string) (store.Account, error) {
			for _, a := range accts {
				if a.ID == id && a.TenantID == tenant {
					return a, nil
				}
			}
			return store.Account{}, store.ErrNotFound
		},
		list: func(_ context.Context, tenant, connector string) ([]store.Account, error) {
			var out []store.Account
			for _, a := range accts {
				if a.TenantID == tenant && a.ConnectorID == connector {
					out = append(out, a)
				}
			}
			return out, nil
		},
	}
}

func newTestRouter(t *testing.T, accts *fakeAccounts, invoke func(ctx context.Context, id string, call *sdk.Call) ([]byte, error), validate ValidateFunc) *Router {
	t.Helper()
	if invoke == nil {
		invoke = func(context.Context, string, *sdk.Call) ([]byte, error) { return []byte(`{"ok":true}`), nil }
	}
	r, err := New(Config{
		Connectors: &fakeConnectors{
			manifest: func(id string) (*sdk.Manifest, bool) {
				if id == "acme" {
					return testManifest, true
				}
				return nil, false
			},
			invoke: invoke,
		},
		Accounts:   accts,
		Validate:   validate,
		AccountTTL: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestInvokeErrors(t *testing.T) {
	t.Parallel()
	accts := memAccounts(
		store.Account{ID: "a1", TenantID: "t1", ConnectorID: "acme", Name: "main", Environment: "sandbox"},
		store.Account{ID: "a2", TenantID: "t2", ConnectorID: "acme", Name: "other tenant", Environment: "sandbox"},
		store.Account{ID: "b1", TenantID: "t1", ConnectorID: "bolt", Name: "bolt", Environment: "sandbox"},
		store.Account{ID: "p1", TenantID: "t3", ConnectorID: "acme", Name: "prod", Environment: "production"},
		store.Account{ID: "m1", TenantID: "t4", ConnectorID: "acme", Name: "one", Environment: "sandbox"},
		store.Account{ID: "m2", TenantID: "t4", ConnectorID: "acme", Name: "two", Environment: "sandbox"},
	)
	r := newTestRouter(t, accts, nil, nil)
	cases := []struct {
		name    string
		route   Route
		code    sdk.Code
		message string
	}{
		{"unknown connector", Route{TenantID: "t1", ConnectorID: "nope", Operation: sdk.OpTrack}, sdk.CodeNotFound, `no connector "nope"`},
		{"unknown operation", Route{TenantID: "t1", ConnectorID: "acme", Operation: "teleport"}, sdk.CodeNotFound, `no operation "teleport"`},
		{"undeclared operation", Route{TenantID: "t1", ConnectorID: "acme", Operation: sdk.OpRate}, sdk.CodeNotFound, "does not serve rate"},
		{"idempotency key on read", Route{TenantID: "t1", ConnectorID: "acme", Operation: sdk.OpTrack, IdempotencyKey: "k"}, sdk.CodeInvalidRequest, "Idempotency-Key"},
		{"other tenant's account", Route{TenantID: "t1", ConnectorID: "acme", Operation: sdk.OpTrack, AccountID: "a2"}, sdk.CodeNotFound, `no account "a2"`},
		{"account of another connector", Route{TenantID: "t1", ConnectorID: "acme", Operation: sdk.OpTrack, AccountID: "b1"}, sdk.CodeInvalidRequest, "belongs to connector bolt"},
		{"no account", Route{TenantID: "t9", ConnectorID: "acme", Operation: sdk.OpTrack}, sdk.CodeInvalidRequest, "no account of connector acme"},
		{"ambiguous account", Route{TenantID: "t4", ConnectorID: "acme", Operation: sdk.OpTrack}, sdk.CodeInvalidRequest, "m1 (one), m2 (two)"},
		{"environment without URL", Route{TenantID: "t3", ConnectorID: "acme", Operation: sdk.OpTrack}, sdk.CodeInvalidRequest, `environment "production"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := r.Invoke(t.Context(), c.route, []byte(`{}`))
			e := sdktest.Error(t, err)
			if e.Code != c.code || e.Source != sdk.SourceHub || !strings.Contains(e.Message, c.message) {
				t.Fatalf("got %s/%s %q, want %s/hub containing %q", e.Code, e.Source, e.Message, c.code, c.message)
			}
		})
	}
}

func TestInvokePassesCall(t *testing.T) {
	t.Parallel()
	accts := memAccounts(store.Account{
		ID: "a1", TenantID: "t1", ConnectorID: "acme", Environment: "sandbox",
		Credentials: map[string]string{"token": "s3cret"}, Settings: map[string]string{"client": "C1"},
	}, store.Account{ID: "a3", TenantID: "t1", ConnectorID: "acme", Environment: "production", BaseURL: "http://127.0.0.1:1"})
	var got *sdk.Call
	var deadline time.Duration
	r := newTestRouter(t, accts, func(ctx context.Context, id string, call *sdk.Call) ([]byte, error) {
		got = call
		d, _ := ctx.Deadline()
		deadline = time.Until(d)
		return []byte(`{"tracking":[]}`), nil
	}, nil)
	out, err := r.Invoke(t.Context(), Route{TenantID: "t1", ConnectorID: "acme", Operation: sdk.OpCreateShipment, AccountID: "a1", IdempotencyKey: "idem-1", RequestID: "req-1"}, []byte(`{"reference":"R1"}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `{"tracking":[]}` {
		t.Fatalf("out = %s", out)
	}
	if got.Operation != sdk.OpCreateShipment || got.IdempotencyKey != "idem-1" || got.RequestID != "req-1" || string(got.Payload) != `{"reference":"R1"}` {
		t.Fatalf("call = %+v", got)
	}
	if got.Account.BaseURL != "https://sandbox.acme.test" || got.Account.Credentials["token"] != "s3cret" || got.Account.Settings["client"] != "C1" || got.Account.TenantID != "t1" {
		t.Fatalf("account = %+v %v", got.Account, got.Account.Settings)
	}
	if deadline <= 0 || deadline > sdk.DefaultTimeout {
		t.Fatalf("create_shipment deadline %v, want within the default timeout", deadline)
	}

	// track declares its own 7s timeout, and the override URL wins.
	if _, err := r.Invoke(t.Context(), Route{TenantID: "t1", ConnectorID: "acme", Operation: sdk.OpTrack, AccountID: "a3"}, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if deadline > 7*time.Second {
		t.Fatalf("track deadline %v exceeds the manifest's 7s", deadline)
	}
	if got.Account.BaseURL != "http://127.0.0.1:1" {
		t.Fatalf("base URL override ignored: %s", got.Account.BaseURL)
	}
}

func TestInvokeConnectorErrorsPassThrough(t *testing.T) {
	t.Parallel()
	accts := memAccounts(store.Account{ID: "a1", TenantID: "t1", ConnectorID: "acme", Environment: "sandbox"})
	// A Retry-After beyond the policy's cap is handed back at once, not waited out.
	want := &sdk.Error{Code: sdk.CodeRateLimited, Source: sdk.SourceCarrier, RetryAfter: 30 * time.Second, CarrierCode: "429"}
	r := newTestRouter(t, accts, func(context.Context, string, *sdk.Call) ([]byte, error) { return nil, want }, nil)
	_, err := r.Invoke(t.Context(), Route{TenantID: "t1", ConnectorID: "acme", Operation: sdk.OpTrack}, []byte(`{}`))
	if e := sdktest.Error(t, err); e != want {
		t.Fatalf("got %+v, want the connector's error intact", e)
	}
	// A plain error from a misbehaving Connectors implementation is still classified.
	r = newTestRouter(t, accts, func(context.Context, string, *sdk.Call) ([]byte, error) { return nil, errors.New("boom") }, nil)
	_, err = r.Invoke(t.Context(), Route{TenantID: "t1", ConnectorID: "acme", Operation: sdk.OpTrack}, []byte(`{}`))
	if e := sdktest.Error(t, err); e.Code != sdk.CodeInternal {
		t.Fatalf("got %+v", e)
	}
}

// TestInvokeRunsUnderPolicy checks the router hands calls to the resilience layer:
// an idempotent operation is retried on a retryable failure, a create without an
// Idempotency-Key is not, one with a key is, and configuration overrides apply.
func TestInvokeRunsUnderPolicy(t *testing.T) {
	t.Parallel()
	accts := memAccounts(store.Account{ID: "a1", TenantID: "t1", ConnectorID: "acme", Environment: "sandbox"})
	var calls atomic.Int32
	failing := func(context.Context, string, *sdk.Call) ([]byte, error) {
		calls.Add(1)
		return nil, &sdk.Error{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceCarrier, Message: "503"}
	}
	exec := resilience.NewExecutor(resilience.Options{Sleep: func(context.Context, time.Duration) error { return nil }})
	cases := []struct {
		name  string
		op    sdk.Operation
		key   string
		ov    *resilience.Overrides
		calls int32
	}{
		{"idempotent track retried", sdk.OpTrack, "", nil, 3},
		{"create without a key not retried", sdk.OpCreateShipment, "", nil, 1},
		{"create with a key retried", sdk.OpCreateShipment, "k1", nil, 3},
		{"override of max attempts", sdk.OpTrack, "", &resilience.Overrides{Connectors: map[string]resilience.ConnectorOverrides{
			"acme": {Operations: map[sdk.Operation]sdk.Policy{sdk.OpTrack: {MaxAttempts: 2}}}}}, 2},
	}
	for _, c := range cases {
		calls.Store(0)
		r, err := New(Config{
			Connectors: &fakeConnectors{manifest: func(string) (*sdk.Manifest, bool) { return testManifest, true }, invoke: failing},
			Accounts:   accts, AccountTTL: -1, Resilience: exec, Overrides: c.ov,
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.Invoke(t.Context(), Route{TenantID: "t1", ConnectorID: "acme", Operation: c.op, IdempotencyKey: c.key}, []byte(`{}`))
		if e := sdktest.Error(t, err); e.Code != sdk.CodeCarrierUnavailable || calls.Load() != c.calls {
			t.Errorf("%s: %v after %d calls, want carrier_unavailable after %d", c.name, e, calls.Load(), c.calls)
		}
		// Five straight failures open the account's breaker (the default
		// threshold); reset it for the next case with a fresh executor.
		exec = resilience.NewExecutor(resilience.Options{Sleep: func(context.Context, time.Duration) error { return nil }})
	}
	if _, err := New(Config{Connectors: &fakeConnectors{}, Accounts: accts, Overrides: &resilience.Overrides{
		Connectors: map[string]resilience.ConnectorOverrides{"acme": {Policy: sdk.Policy{MaxAttempts: -1}}}}}); err == nil {
		t.Error("a bad override was accepted")
	}
}

func TestInvokeValidation(t *testing.T) {
	t.Parallel()
	accts := memAccounts(store.Account{ID: "a1", TenantID: "t1", ConnectorID: "acme", Environment: "sandbox"})
	called := false
	validate := func(op sdk.Operation, body []byte) error {
		if op != sdk.OpTrack {
			return errors.New("schema missing")
		}
		if !json.Valid(body) {
			return NewValidationError([]FieldError{{Pointer: "", Message: "malformed JSON"}})
		}
		return NewValidationError([]FieldError{{Pointer: "/tracking_numbers", Message: "is required"}, {Pointer: "/x", Message: "is not allowed"}})
	}
	r := newTestRouter(t, accts, func(context.Context, string, *sdk.Call) ([]byte, error) { called = true; return nil, nil }, validate)
	_, err := r.Invoke(t.Context(), Route{TenantID: "t1", ConnectorID: "acme", Operation: sdk.OpTrack}, []byte(`{"x":1}`))
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Fields) != 2 || ve.Err.Field != "/tracking_numbers" || !strings.Contains(ve.Err.Message, "and 1 more") {
		t.Fatalf("got %#v", err)
	}
	if e := sdktest.Error(t, err); e.Code != sdk.CodeInvalidRequest || e.Source != sdk.SourceHub {
		t.Fatalf("got %+v", e)
	}
	_, err = r.Invoke(t.Context(), Route{TenantID: "t1", ConnectorID: "acme", Operation: sdk.OpCreateShipment}, []byte(`{}`))
	if e := sdktest.Error(t, err); e.Code != sdk.CodeInternal || e.Source != sdk.SourceHub {
		t.Fatalf("validator failure: got %+v", e)
	}
	if called {
		t.Fatal("connector called despite invalid request")
	}
}

func TestAccountCache(t *testing.T) {
	t.Parallel()
	var gets, lists atomic.Int32
	base := memAccounts(store.Account{ID: "a1", TenantID: "t1", ConnectorID: "acme", Environment: "sandbox"})
	accts := &fakeAccounts{
		get: func(ctx context.Context, tenant, id string) (store.Account, error) {
			gets.Add(1)
			return base.get(ctx, tenant, id)
		},
		list: func(ctx context.Context, tenant, connector string) ([]store.Account, error) {
			lists.Add(1)
			return base.list(ctx, tenant, connector)
		},
	}
	now := time.Unix(1000, 0)
	r, err := New(Config{
		Connectors: &fakeConnectors{
			manifest: func(string) (*sdk.Manifest, bool) { return testManifest, true },
			invoke:   func(context.Context, string, *sdk.Call) ([]byte, error) { return []byte(`{}`), nil },
		},
		Accounts: accts,
		Now:      func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	call := func(account string) {
		t.Helper()
		if _, err := r.Invoke(t.Context(), Route{TenantID: "t1", ConnectorID: "acme", Operation: sdk.OpTrack, AccountID: account}, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	call("a1")
	call("a1")
	call("")
	call("")
	if gets.Load() != 1 || lists.Load() != 1 {
		t.Fatalf("within the TTL: %d gets, %d lists; want 1 and 1", gets.Load(), lists.Load())
	}
	now = now.Add(6 * time.Second)
	call("a1")
	if gets.Load() != 2 {
		t.Fatalf("after the TTL: %d gets, want 2", gets.Load())
	}
	r.Forget("t1")
	call("a1")
	if gets.Load() != 3 {
		t.Fatalf("after Forget: %d gets, want 3", gets.Load())
	}
	// Errors are not cached: another tenant's id stays not found and asks each time.
	for range 2 {
		_, err := r.Invoke(t.Context(), Route{TenantID: "t2", ConnectorID: "acme", Operation: sdk.OpTrack, AccountID: "a1"}, nil)
		if e := sdktest.Error(t, err); e.Code != sdk.CodeNotFound {
			t.Fatalf("got %+v", e)
		}
	}
	if gets.Load() != 5 {
		t.Fatalf("%d gets, want 5", gets.Load())
	}
}

func TestStoreFailureIsClassified(t *testing.T) {
	t.Parallel()
	accts := &fakeAccounts{
		get: func(context.Context, string, string) (store.Account, error) {
			return store.Account{}, errors.New("disk on fire at /var/lib/secret")
		},
		list: func(context.Context, string, string) ([]store.Account, error) { return nil, errors.New("nope") },
	}
	r := newTestRouter(t, accts, nil, nil)
	_, err := r.Invoke(t.Context(), Route{TenantID: "t1", ConnectorID: "acme", Operation: sdk.OpTrack, AccountID: "a1"}, nil)
	e := sdktest.Error(t, err)
	if e.Code != sdk.CodeInternal || e.Source != sdk.SourceHub || strings.Contains(e.Message, "/var/lib") {
		t.Fatalf("got %+v", e)
	}
}
