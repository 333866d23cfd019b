// Package storetest is the conformance suite every store.Store backend passes. A
// backend's test calls Run with a function that opens a fresh, empty store; the suite
// checks every method, tenant isolation, credentials sealed at rest, revocation,
// key expiry, the tenant's last admin key, operator keys, conflicts, validation and
// concurrent use, and the idempotency keys of
// store.IdempotencyStore (claim, complete, replay, release, lease expiry and abandonment, purge)
// and the shared rate limits of store.RateStore, which every backend must implement.
//
// It imports the store package and the standard library's testing, and nothing of the
// hub's engine beyond secretbox's error values.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/secretbox"
	"github.com/carrierhub/hub/engine/store"
)

// RawAccess is what the suite needs to see rows at rest, below the Store API. Open
// functions return a value implementing both store.Store and RawAccess, ideally through
// a second connection to the same database, so the suite sees what a person with a
// copy of the database would see.
type RawAccess interface {
	// SealedCredentials returns the accounts.credentials column of a row as stored.
	SealedCredentials(ctx context.Context, accountID string) (string, error)
	// SetSealedCredentials overwrites that column, as someone copying rows would.
	SetSealedCredentials(ctx context.Context, accountID, sealed string) error
}

// Run runs the suite. open must return a new, empty store each time it is called and
// arrange (with t.Cleanup) for it to be closed; it is called once per subtest, from
// parallel subtests.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"Tenants", testTenants},
		{"TenantValidation", testTenantValidation},
		{"APIKeys", testAPIKeys},
		{"APIKeyRevocation", testAPIKeyRevocation},
		{"AuthenticateRejects", testAuthenticateRejects},
		{"APIKeyExpiry", testAPIKeyExpiry},
		{"GetAPIKey", testGetAPIKey},
		{"LastAdminKey", testLastAdminKey},
		{"LastAdminKeyRace", testLastAdminKeyRace},
		{"OperatorKeys", testOperatorKeys},
		{"ConsoleSessions", testConsoleSessions},
		{"Accounts", testAccounts},
		{"AccountConflicts", testAccountConflicts},
		{"AccountValidation", testAccountValidation},
		{"TenantIsolation", testTenantIsolation},
		{"CredentialsSealedAtRest", testSealedAtRest},
		{"ConcurrentCreates", testConcurrentCreates},
		{"ConcurrentTenantNameRace", testConcurrentTenantNames},
		{"PingAndCancel", testPingAndCancel},
		{"IdempotencyClaimComplete", testIdempotencyClaimComplete},
		{"IdempotencyScopes", testIdempotencyScopes},
		{"IdempotencyRelease", testIdempotencyRelease},
		{"IdempotencyExpiry", testIdempotencyExpiry},
		{"IdempotencyPurge", testIdempotencyPurge},
		{"IdempotencyConcurrentClaims", testIdempotencyConcurrentClaims},
		{"IdempotencyValidation", testIdempotencyValidation},
		{"IdempotencyUnknown", testIdempotencyUnknown},
		{"IdempotencyAnswerWithBooking", testIdempotencyAnswerWithBooking},
		{"Unconfirmed", testUnconfirmed},
		{"EWayBills", testEWayBills},
		{"SFTPInbox", testSFTPInbox},
		{"RateReserve", testRateReserve},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

func ctxFor(t *testing.T) context.Context { return t.Context() }

func mustTenant(t *testing.T, s store.Store, name string) store.Tenant {
	t.Helper()
	tn, err := s.CreateTenant(ctxFor(t), name)
	if err != nil {
		t.Fatalf("CreateTenant(%q): %v", name, err)
	}
	return tn
}

func mustAccount(t *testing.T, s store.Store, a store.Account) store.Account {
	t.Helper()
	got, err := s.CreateAccount(ctxFor(t), a)
	if err != nil {
		t.Fatalf("CreateAccount(%s/%s): %v", a.ConnectorID, a.Name, err)
	}
	return got
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error = %v, want %v", what, err, want)
	}
}

// checkStamp asserts a creation time is UTC, at millisecond precision and taken during
// the call (between before and after, compared at the stored precision).
func checkStamp(t *testing.T, what string, got, before, after time.Time) {
	t.Helper()
	if got.Location() != time.UTC {
		t.Errorf("%s: CreatedAt location %v, want UTC", what, got.Location())
	}
	if got.Nanosecond()%int(time.Millisecond) != 0 {
		t.Errorf("%s: CreatedAt %v has sub-millisecond digits, which the store cannot keep", what, got)
	}
	if got.Before(before.Truncate(time.Millisecond)) || got.After(after) {
		t.Errorf("%s: CreatedAt %v is outside the call [%v, %v]", what, got, before, after)
	}
}

func testTenants(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	before := time.Now()
	a := mustTenant(t, s, "Acme Logistics")
	b := mustTenant(t, s, "Bharat Freight – ಬೆಂಗಳೂರು")
	after := time.Now()
	if !strings.HasPrefix(a.ID, "ten_") || a.ID == b.ID {
		t.Fatalf("tenant ids %q, %q: want distinct ten_ ids", a.ID, b.ID)
	}
	checkStamp(t, "tenant", a.CreatedAt, before, after)

	got, err := s.GetTenant(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != a.ID || got.Name != a.Name || !got.CreatedAt.Equal(a.CreatedAt) {
		t.Fatalf("GetTenant = %+v, want %+v", got, a)
	}
	got, err = s.GetTenant(ctx, b.ID)
	if err != nil || got.Name != b.Name {
		t.Fatalf("GetTenant(b) = %+v, %v; want the unicode name back", got, err)
	}

	list, err := s.ListTenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, tn := range list {
		ids = append(ids, tn.ID)
	}
	if len(list) != 2 || !slices.Contains(ids, a.ID) || !slices.Contains(ids, b.ID) {
		t.Fatalf("ListTenants ids = %v, want %s and %s", ids, a.ID, b.ID)
	}

	_, err = s.CreateTenant(ctx, "Acme Logistics")
	wantErr(t, "duplicate tenant name", err, store.ErrConflict)
	if _, err := s.CreateTenant(ctx, "acme logistics"); err != nil {
		t.Fatalf("names differing in case are distinct tenants: %v", err)
	}

	for _, id := range []string{"", "ten_", "ten_aaaaaaaaaaaaaaaaaaaaaaaaaa", "acc_" + a.ID[4:], a.ID + "x",
		strings.ToUpper(a.ID), "'; DROP TABLE tenants; --", strings.Repeat("x", 10000)} {
		_, err := s.GetTenant(ctx, id)
		wantErr(t, fmt.Sprintf("GetTenant(%.30q)", id), err, store.ErrNotFound)
	}
}

func testTenantValidation(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	for name, in := range map[string]string{
		"empty":          "",
		"blank":          "   ",
		"leading space":  " Acme",
		"trailing space": "Acme\t",
		"newline":        "Acme\nCorp",
		"nul":            "Acme\x00",
		"invalid utf-8":  "Acme\xff",
		"overlong":       strings.Repeat("a", 201),
	} {
		_, err := s.CreateTenant(ctx, in)
		wantErr(t, "CreateTenant "+name, err, store.ErrInvalid)
		var ve *store.ValidationError
		if !errors.As(err, &ve) || ve.Field != "name" {
			t.Errorf("CreateTenant %s: error %v does not name the field", name, err)
		}
	}
	if _, err := s.CreateTenant(ctx, strings.Repeat("a", 200)); err != nil {
		t.Fatalf("a 200-byte name is allowed: %v", err)
	}
	list, err := s.ListTenants(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("after rejected creates, ListTenants = %d tenants, %v; want 1", len(list), err)
	}
}

func testAPIKeys(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	tn := mustTenant(t, s, "Acme")
	before := time.Now()
	k, secret, err := s.CreateAPIKey(ctx, tn.ID, "ci deploys", false)
	after := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(k.ID, "key_") || k.TenantID != tn.ID || k.Name != "ci deploys" || k.Admin || k.RevokedAt != nil {
		t.Fatalf("CreateAPIKey = %+v", k)
	}
	checkStamp(t, "api key", k.CreatedAt, before, after)
	if !strings.HasPrefix(secret, "hub_sk_") || len(secret) < 7+40 {
		t.Fatalf("secret %q: want hub_sk_ and at least 40 random characters", secret)
	}
	if !strings.HasPrefix(secret, k.Prefix) || len(k.Prefix) >= len(secret)/2 || len(k.Prefix) <= len("hub_sk_") {
		t.Fatalf("prefix %q must be a short start of the secret", k.Prefix)
	}
	admin, adminSecret, err := s.CreateAPIKey(ctx, tn.ID, "ops", true)
	if err != nil || !admin.Admin {
		t.Fatalf("CreateAPIKey admin = %+v, %v", admin, err)
	}
	if adminSecret == secret || admin.ID == k.ID {
		t.Fatal("two keys share a secret or an id")
	}

	got, err := s.Authenticate(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != k.ID || got.TenantID != tn.ID || got.Name != k.Name || got.Prefix != k.Prefix ||
		got.Admin || !got.CreatedAt.Equal(k.CreatedAt) || got.RevokedAt != nil {
		t.Fatalf("Authenticate = %+v, want %+v", got, k)
	}
	got, err = s.Authenticate(ctx, adminSecret)
	if err != nil || got.ID != admin.ID || !got.Admin {
		t.Fatalf("Authenticate(admin) = %+v, %v", got, err)
	}

	list, err := s.ListAPIKeys(ctx, tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("ListAPIKeys = %d keys, want 2", len(list))
	}
	for _, l := range list {
		if strings.Contains(fmt.Sprintf("%+v", l), secret) || strings.Contains(fmt.Sprintf("%+v", l), adminSecret) {
			t.Fatal("ListAPIKeys exposes a secret")
		}
	}

	_, _, err = s.CreateAPIKey(ctx, "ten_"+strings.Repeat("a", 26), "x", false)
	wantErr(t, "CreateAPIKey for unknown tenant", err, store.ErrNotFound)
	_, _, err = s.CreateAPIKey(ctx, "nonsense", "x", false)
	wantErr(t, "CreateAPIKey for malformed tenant id", err, store.ErrNotFound)
	for _, name := range []string{"", " ", strings.Repeat("k", 201), "a\x7f"} {
		_, _, err = s.CreateAPIKey(ctx, tn.ID, name, false)
		wantErr(t, fmt.Sprintf("CreateAPIKey name %.20q", name), err, store.ErrInvalid)
	}
	empty, err := s.ListAPIKeys(ctx, "ten_"+strings.Repeat("b", 26))
	if err != nil || len(empty) != 0 {
		t.Fatalf("ListAPIKeys(unknown tenant) = %v, %v; want none", empty, err)
	}
}

func testAPIKeyRevocation(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	tn := mustTenant(t, s, "Acme")
	k, secret, err := s.CreateAPIKey(ctx, tn.ID, "old", false)
	if err != nil {
		t.Fatal(err)
	}
	keep, keepSecret, err := s.CreateAPIKey(ctx, tn.ID, "new", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeAPIKey(ctx, tn.ID, k.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.Authenticate(ctx, secret)
	wantErr(t, "Authenticate revoked key", err, store.ErrNotFound)
	if got, err := s.Authenticate(ctx, keepSecret); err != nil || got.ID != keep.ID {
		t.Fatalf("revoking one key affected another: %+v, %v", got, err)
	}

	list, err := s.ListAPIKeys(ctx, tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	var first *time.Time
	for _, l := range list {
		switch l.ID {
		case k.ID:
			if l.RevokedAt == nil {
				t.Fatal("ListAPIKeys: revoked key has no RevokedAt")
			}
			if l.RevokedAt.Before(l.CreatedAt) {
				t.Fatalf("RevokedAt %v before CreatedAt %v", l.RevokedAt, l.CreatedAt)
			}
			first = l.RevokedAt
		case keep.ID:
			if l.RevokedAt != nil {
				t.Fatal("ListAPIKeys: live key has a RevokedAt")
			}
		}
	}
	if first == nil {
		t.Fatal("ListAPIKeys lost the revoked key")
	}

	if err := s.RevokeAPIKey(ctx, tn.ID, k.ID); err != nil {
		t.Fatalf("revoking twice: %v, want success", err)
	}
	list, _ = s.ListAPIKeys(ctx, tn.ID)
	for _, l := range list {
		if l.ID == k.ID && (l.RevokedAt == nil || !l.RevokedAt.Equal(*first)) {
			t.Fatalf("second revoke changed RevokedAt from %v to %v", first, l.RevokedAt)
		}
	}
	err = s.RevokeAPIKey(ctx, tn.ID, "key_"+strings.Repeat("c", 26))
	wantErr(t, "RevokeAPIKey unknown", err, store.ErrNotFound)
	err = s.RevokeAPIKey(ctx, tn.ID, "")
	wantErr(t, "RevokeAPIKey empty id", err, store.ErrNotFound)
}

func testAuthenticateRejects(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	tn := mustTenant(t, s, "Acme")
	_, secret, err := s.CreateAPIKey(ctx, tn.ID, "k", false)
	if err != nil {
		t.Fatal(err)
	}
	last := secret[len(secret)-1]
	flip := byte('A')
	if last == 'A' {
		flip = 'B'
	}
	for name, in := range map[string]string{
		"empty":          "",
		"prefix only":    "hub_sk_",
		"display prefix": secret[:12],
		"one char off":   secret[:len(secret)-1] + string(flip),
		"extra char":     secret + "A",
		"truncated":      secret[:len(secret)-1],
		"no prefix":      strings.TrimPrefix(secret, "hub_sk_"),
		"bearer":         "Bearer " + secret,
		"spaces":         " " + secret,
		"huge":           strings.Repeat("h", 1<<20),
		"binary":         "hub_sk_\x00\xff",
	} {
		_, err := s.Authenticate(ctx, in)
		wantErr(t, "Authenticate "+name, err, store.ErrNotFound)
		if err != nil && len(in) > 8 && strings.Contains(err.Error(), in) {
			t.Errorf("Authenticate %s: error echoes the secret", name)
		}
	}
}

func sampleAccount(tenantID string) store.Account {
	return store.Account{
		TenantID:    tenantID,
		ConnectorID: "delhivery_express",
		Name:        "north warehouse",
		Environment: "sandbox",
		BaseURL:     "http://127.0.0.1:8080/api",
		Credentials: map[string]string{"api_token": "tok-SECRET-7d1f", "client": "ACME SURFACE"},
		Settings:    map[string]string{"pickup_location": "BLR-1", "label_size": "4x6"},
	}
}

func sameAccount(t *testing.T, what string, got, want store.Account) {
	t.Helper()
	if got.ID != want.ID || got.TenantID != want.TenantID || got.ConnectorID != want.ConnectorID ||
		got.Name != want.Name || got.Environment != want.Environment || got.BaseURL != want.BaseURL ||
		!got.CreatedAt.Equal(want.CreatedAt) || !maps.Equal(got.Credentials, want.Credentials) ||
		!maps.Equal(got.Settings, want.Settings) {
		t.Fatalf("%s:\n got %+v %v\nwant %+v %v", what, got, got.Credentials, want, want.Credentials)
	}
}

func testAccounts(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	tn := mustTenant(t, s, "Acme")
	in := sampleAccount(tn.ID)
	in.ID = "acc_chosen_by_caller"
	in.CreatedAt = time.Unix(1, 0)
	before := time.Now()
	a := mustAccount(t, s, in)
	after := time.Now()
	if !strings.HasPrefix(a.ID, "acc_") || a.ID == in.ID {
		t.Fatalf("CreateAccount id = %q: want a fresh acc_ id", a.ID)
	}
	checkStamp(t, "account", a.CreatedAt, before, after)
	// The caller's maps are not shared with the stored account.
	in.Credentials["api_token"] = "changed"
	in.Settings["label_size"] = "changed"
	if a.Credentials["api_token"] != "tok-SECRET-7d1f" || a.Settings["label_size"] != "4x6" {
		t.Fatal("CreateAccount returned maps aliased to the caller's")
	}

	got, err := s.GetAccount(ctx, tn.ID, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameAccount(t, "GetAccount", got, a)

	prod := sampleAccount(tn.ID)
	prod.Name, prod.Environment, prod.BaseURL = "prod", "production", ""
	prod.Credentials, prod.Settings = nil, nil
	p := mustAccount(t, s, prod)
	got, err = s.GetAccount(ctx, tn.ID, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.BaseURL != "" || len(got.Credentials) != 0 || len(got.Settings) != 0 || got.Environment != "production" {
		t.Fatalf("GetAccount(no maps) = %+v", got)
	}

	other := sampleAccount(tn.ID)
	other.ConnectorID = "bluedart"
	o := mustAccount(t, s, other)

	all, err := s.ListAccounts(ctx, tn.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 {
		t.Fatalf("ListAccounts = %d accounts, want 3", len(all))
	}
	for _, l := range all {
		if l.ID == a.ID {
			sameAccount(t, "ListAccounts entry", l, a)
		}
	}
	one, err := s.ListAccounts(ctx, tn.ID, "bluedart")
	if err != nil || len(one) != 1 || one[0].ID != o.ID {
		t.Fatalf("ListAccounts(bluedart) = %v, %v; want only %s", one, err, o.ID)
	}
	for _, c := range []string{"no_such_connector", "Not An ID", "bad\xff\x00"} {
		none, err := s.ListAccounts(ctx, tn.ID, c)
		if err != nil || none == nil || len(none) != 0 {
			t.Fatalf("ListAccounts(%q) = %#v, %v; want an empty list", c, none, err)
		}
	}
	for _, tid := range []string{"", "ten_\xff", "ten_" + strings.Repeat("z", 26)} {
		none, err := s.ListAccounts(ctx, tid, "")
		if err != nil || none == nil || len(none) != 0 {
			t.Fatalf("ListAccounts(tenant %q) = %#v, %v; want an empty list", tid, none, err)
		}
	}

	if err := s.DeleteAccount(ctx, tn.ID, a.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetAccount(ctx, tn.ID, a.ID)
	wantErr(t, "GetAccount after delete", err, store.ErrNotFound)
	wantErr(t, "DeleteAccount twice", s.DeleteAccount(ctx, tn.ID, a.ID), store.ErrNotFound)
	wantErr(t, "DeleteAccount malformed", s.DeleteAccount(ctx, tn.ID, "acc_?"), store.ErrNotFound)
	all, _ = s.ListAccounts(ctx, tn.ID, "")
	if len(all) != 2 {
		t.Fatalf("after delete ListAccounts = %d, want 2", len(all))
	}
	// The name is free again once the account is deleted.
	mustAccount(t, s, sampleAccount(tn.ID))

	missing := sampleAccount("ten_" + strings.Repeat("d", 26))
	_, err = s.CreateAccount(ctx, missing)
	wantErr(t, "CreateAccount for unknown tenant", err, store.ErrNotFound)
	missing.TenantID = ""
	_, err = s.CreateAccount(ctx, missing)
	wantErr(t, "CreateAccount without tenant", err, store.ErrNotFound)
	_, err = s.GetAccount(ctx, tn.ID, "acc_"+strings.Repeat("e", 26))
	wantErr(t, "GetAccount unknown", err, store.ErrNotFound)
}

func testAccountConflicts(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	a := mustTenant(t, s, "A")
	b := mustTenant(t, s, "B")
	mustAccount(t, s, sampleAccount(a.ID))
	dup := sampleAccount(a.ID)
	dup.Environment = "production" // environment is not part of the identity
	_, err := s.CreateAccount(ctx, dup)
	wantErr(t, "same tenant, connector and name", err, store.ErrConflict)
	if strings.Contains(err.Error(), "tok-SECRET") {
		t.Fatalf("conflict error leaks credentials: %v", err)
	}
	mustAccount(t, s, sampleAccount(b.ID)) // another tenant may use the name
	c := sampleAccount(a.ID)
	c.ConnectorID = "ecom_express" // and another connector
	mustAccount(t, s, c)
	d := sampleAccount(a.ID)
	d.Name = "North warehouse" // names are case-sensitive
	mustAccount(t, s, d)
}

func testAccountValidation(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	tn := mustTenant(t, s, "Acme")
	many := map[string]string{}
	for i := range 65 {
		many[fmt.Sprintf("k%d", i)] = "v"
	}
	cases := []struct {
		name, field string
		edit        func(*store.Account)
	}{
		{"empty name", "name", func(a *store.Account) { a.Name = "" }},
		{"overlong name", "name", func(a *store.Account) { a.Name = strings.Repeat("n", 201) }},
		{"control in name", "name", func(a *store.Account) { a.Name = "a\rb" }},
		{"empty connector", "connector_id", func(a *store.Account) { a.ConnectorID = "" }},
		{"bad connector", "connector_id", func(a *store.Account) { a.ConnectorID = "Delhivery Express" }},
		{"overlong connector", "connector_id", func(a *store.Account) { a.ConnectorID = "x" + strings.Repeat("y", 63) }},
		{"empty environment", "environment", func(a *store.Account) { a.Environment = "" }},
		{"bad environment", "environment", func(a *store.Account) { a.Environment = "staging" }},
		{"environment case", "environment", func(a *store.Account) { a.Environment = "Production" }},
		{"relative base url", "base_url", func(a *store.Account) { a.BaseURL = "/api" }},
		{"ftp base url", "base_url", func(a *store.Account) { a.BaseURL = "ftp://example.com" }},
		{"base url without host", "base_url", func(a *store.Account) { a.BaseURL = "https://" }},
		{"base url with password", "base_url", func(a *store.Account) { a.BaseURL = "https://u:tok-SECRET-7d1f@example.com" }},
		{"overlong base url", "base_url", func(a *store.Account) { a.BaseURL = "https://e.com/" + strings.Repeat("p", 2048) }},
		{"empty credential key", "credentials", func(a *store.Account) { a.Credentials = map[string]string{"": "x"} }},
		{"too many credentials", "credentials", func(a *store.Account) { a.Credentials = many }},
		{"huge credential", "credentials.pem", func(a *store.Account) {
			a.Credentials = map[string]string{"pem": strings.Repeat("p", 16<<10+1)}
		}},
		{"invalid utf-8 credential", "credentials.api_token", func(a *store.Account) {
			a.Credentials = map[string]string{"api_token": "tok-SECRET-7d1f\xfe"}
		}},
		{"too many settings", "settings", func(a *store.Account) { a.Settings = many }},
	}
	for _, c := range cases {
		a := sampleAccount(tn.ID)
		c.edit(&a)
		_, err := s.CreateAccount(ctx, a)
		wantErr(t, "CreateAccount "+c.name, err, store.ErrInvalid)
		var ve *store.ValidationError
		if !errors.As(err, &ve) || ve.Field != c.field {
			t.Errorf("CreateAccount %s: error %v, want field %q", c.name, err, c.field)
		}
		if strings.Contains(err.Error(), "tok-SECRET") {
			t.Errorf("CreateAccount %s: error leaks a secret: %v", c.name, err)
		}
	}
	list, err := s.ListAccounts(ctx, tn.ID, "")
	if err != nil || len(list) != 0 {
		t.Fatalf("rejected accounts were stored: %d, %v", len(list), err)
	}
	ok := sampleAccount(tn.ID)
	ok.Credentials = map[string]string{"pem": "-----BEGIN KEY-----\nabc\n-----END KEY-----\n", "nul": "a\x00b"}
	created := mustAccount(t, s, ok)
	got, err := s.GetAccount(ctx, tn.ID, created.ID)
	if err != nil || !maps.Equal(got.Credentials, ok.Credentials) {
		t.Fatalf("multi-line and binary-safe credentials did not round-trip: %v", err)
	}
}

func testTenantIsolation(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	a := mustTenant(t, s, "A")
	b := mustTenant(t, s, "B")
	accA := mustAccount(t, s, sampleAccount(a.ID))
	keyA, secretA, err := s.CreateAPIKey(ctx, a.ID, "a key", true)
	if err != nil {
		t.Fatal(err)
	}
	accB := sampleAccount(b.ID)
	accB.Name = "b account"
	mustAccount(t, s, accB)
	if _, _, err := s.CreateAPIKey(ctx, b.ID, "b key", false); err != nil {
		t.Fatal(err)
	}

	_, err = s.GetAccount(ctx, b.ID, accA.ID)
	wantErr(t, "B gets A's account", err, store.ErrNotFound)
	wantErr(t, "B deletes A's account", s.DeleteAccount(ctx, b.ID, accA.ID), store.ErrNotFound)
	wantErr(t, "B revokes A's key", s.RevokeAPIKey(ctx, b.ID, keyA.ID), store.ErrNotFound)
	wantErr(t, "empty tenant gets A's account", func() error { _, err := s.GetAccount(ctx, "", accA.ID); return err }(), store.ErrNotFound)

	listB, err := s.ListAccounts(ctx, b.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range listB {
		if l.TenantID != b.ID || l.ID == accA.ID {
			t.Fatalf("ListAccounts(B) returned %+v", l)
		}
	}
	if len(listB) != 1 {
		t.Fatalf("ListAccounts(B) = %d accounts, want 1", len(listB))
	}
	listB, _ = s.ListAccounts(ctx, b.ID, "delhivery_express")
	if len(listB) != 1 || listB[0].TenantID != b.ID {
		t.Fatalf("ListAccounts(B, connector) = %+v", listB)
	}
	keysB, err := s.ListAPIKeys(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(keysB) != 1 || keysB[0].TenantID != b.ID {
		t.Fatalf("ListAPIKeys(B) = %+v", keysB)
	}

	// A's rows are untouched by B's attempts.
	got, err := s.GetAccount(ctx, a.ID, accA.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameAccount(t, "A's account after B's attempts", got, accA)
	if k, err := s.Authenticate(ctx, secretA); err != nil || k.TenantID != a.ID {
		t.Fatalf("A's key after B's revoke attempt: %+v, %v", k, err)
	}
}

func testSealedAtRest(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	raw, ok := s.(RawAccess)
	if !ok {
		t.Fatalf("open returned %T, which does not implement storetest.RawAccess", s)
	}
	a := mustTenant(t, s, "A")
	b := mustTenant(t, s, "B")
	acc1 := mustAccount(t, s, sampleAccount(a.ID))
	second := sampleAccount(a.ID)
	second.Name = "south warehouse"
	second.Credentials = map[string]string{"api_token": "tok-OTHER-91ab"}
	acc2 := mustAccount(t, s, second)
	third := sampleAccount(b.ID)
	third.Credentials = map[string]string{"api_token": "tok-THIRD-55cc"}
	acc3 := mustAccount(t, s, third)

	sealed1, err := raw.SealedCredentials(ctx, acc1.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, plain := range []string{"tok-SECRET-7d1f", "ACME SURFACE", "api_token"} {
		if strings.Contains(sealed1, plain) {
			t.Fatalf("stored credentials contain %q in the clear: %q", plain, sealed1)
		}
	}
	if !strings.HasPrefix(sealed1, "v1:") {
		t.Fatalf("stored credentials %q lack the secretbox version prefix", sealed1)
	}
	sealed2, err := raw.SealedCredentials(ctx, acc2.ID)
	if err != nil {
		t.Fatal(err)
	}
	if sealed1 == sealed2 {
		t.Fatal("two accounts share a ciphertext")
	}

	// A ciphertext copied to another account of the same tenant, or of another tenant,
	// must not open there.
	for _, target := range []store.Account{acc2, acc3} {
		if err := raw.SetSealedCredentials(ctx, target.ID, sealed1); err != nil {
			t.Fatal(err)
		}
		_, err = s.GetAccount(ctx, target.TenantID, target.ID)
		if !errors.Is(err, secretbox.ErrOpen) {
			t.Fatalf("GetAccount with credentials copied from another row: error = %v, want secretbox.ErrOpen", err)
		}
		if errors.Is(err, store.ErrNotFound) || strings.Contains(err.Error(), "tok-") {
			t.Fatalf("copied-row error is misclassified or leaks: %v", err)
		}
		_, err = s.ListAccounts(ctx, target.TenantID, "")
		if !errors.Is(err, secretbox.ErrOpen) {
			t.Fatalf("ListAccounts over a copied row: error = %v, want secretbox.ErrOpen", err)
		}
	}
	// Corrupt text in the column is reported, not panicked on.
	if err := raw.SetSealedCredentials(ctx, acc2.ID, "not sealed"); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetAccount(ctx, a.ID, acc2.ID)
	wantErr(t, "GetAccount with corrupt column", err, secretbox.ErrMalformed)
	// The untouched row still opens.
	got, err := s.GetAccount(ctx, a.ID, acc1.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameAccount(t, "original row", got, acc1)
}

func testConcurrentCreates(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	tn := mustTenant(t, s, "Acme")
	const n = 24
	var wg sync.WaitGroup
	secrets := make([]string, n)
	ids := make([]string, n)
	for i := range n {
		wg.Go(func() {
			a := sampleAccount(tn.ID)
			a.Name = fmt.Sprintf("warehouse %02d", i)
			a.Credentials = map[string]string{"api_token": fmt.Sprintf("tok-%02d", i)}
			got, err := s.CreateAccount(ctx, a)
			if err != nil {
				t.Errorf("parallel CreateAccount %d: %v", i, err)
				return
			}
			ids[i] = got.ID
			k, secret, err := s.CreateAPIKey(ctx, tn.ID, fmt.Sprintf("key %d", i), false)
			if err != nil {
				t.Errorf("parallel CreateAPIKey %d: %v", i, err)
				return
			}
			secrets[i] = secret
			if got, err := s.Authenticate(ctx, secret); err != nil || got.ID != k.ID {
				t.Errorf("parallel Authenticate %d: %+v, %v", i, got, err)
			}
			if got, err := s.GetAccount(ctx, tn.ID, ids[i]); err != nil || got.Credentials["api_token"] != fmt.Sprintf("tok-%02d", i) {
				t.Errorf("parallel GetAccount %d: %+v, %v", i, got, err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	list, err := s.ListAccounts(ctx, tn.ID, "")
	if err != nil || len(list) != n {
		t.Fatalf("ListAccounts after parallel creates = %d, %v; want %d", len(list), err, n)
	}
	keys, err := s.ListAPIKeys(ctx, tn.ID)
	if err != nil || len(keys) != n {
		t.Fatalf("ListAPIKeys after parallel creates = %d, %v; want %d", len(keys), err, n)
	}
	seen := map[string]bool{}
	for _, l := range list {
		if seen[l.ID] {
			t.Fatalf("duplicate id %s", l.ID)
		}
		seen[l.ID] = true
	}

	// Racing creates of one account name: exactly one wins, the rest conflict.
	var mu sync.Mutex
	wins, conflicts := 0, 0
	for range 12 {
		wg.Go(func() {
			_, err := s.CreateAccount(ctx, sampleAccount(tn.ID))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, store.ErrConflict):
				conflicts++
			default:
				t.Errorf("racing CreateAccount: %v", err)
			}
		})
	}
	wg.Wait()
	if wins != 1 || conflicts != 11 {
		t.Fatalf("racing CreateAccount: %d won, %d conflicted; want 1 and 11", wins, conflicts)
	}
}

func testConcurrentTenantNames(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := map[string]int{}
	for i := range 16 {
		wg.Go(func() {
			name := fmt.Sprintf("tenant %d", i%4)
			_, err := s.CreateTenant(ctx, name)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins[name]++
			case errors.Is(err, store.ErrConflict):
			default:
				t.Errorf("racing CreateTenant: %v", err)
			}
		})
	}
	wg.Wait()
	for i := range 4 {
		if n := wins[fmt.Sprintf("tenant %d", i)]; n != 1 {
			t.Errorf("tenant %d created %d times, want once", i, n)
		}
	}
	list, err := s.ListTenants(ctx)
	if err != nil || len(list) != 4 {
		t.Fatalf("ListTenants = %d, %v; want 4", len(list), err)
	}
}

func testPingAndCancel(t *testing.T, s store.Store) {
	if err := s.Ping(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctxFor(t))
	cancel()
	if _, err := s.CreateTenant(ctx, "never"); !errors.Is(err, context.Canceled) {
		t.Fatalf("CreateTenant with a cancelled context: error = %v, want context.Canceled", err)
	}
	if _, err := s.ListTenants(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("ListTenants with a cancelled context: error = %v, want context.Canceled", err)
	}
	list, err := s.ListTenants(ctxFor(t))
	if err != nil || len(list) != 0 {
		t.Fatalf("a cancelled create was stored: %v, %v", list, err)
	}
}
