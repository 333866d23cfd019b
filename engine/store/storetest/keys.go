package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/store"
)

// Expiry times in these tests are an hour or more from now, either way, so no
// test depends on how fast it runs.

func testAPIKeyExpiry(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	tn := mustTenant(t, s, "Acme")
	future := time.Now().Add(time.Hour)
	live, liveSecret, err := s.CreateAPIKey(ctx, tn.ID, "contractor", false, store.WithExpiry(future))
	if err != nil {
		t.Fatal(err)
	}
	if live.ExpiresAt == nil || !live.ExpiresAt.Equal(future.Truncate(time.Millisecond)) || live.ExpiresAt.Location() != time.UTC {
		t.Fatalf("CreateAPIKey ExpiresAt = %v, want %v at millisecond precision in UTC", live.ExpiresAt, future)
	}
	expired, expiredSecret, err := s.CreateAPIKey(ctx, tn.ID, "old contractor", true, store.WithExpiry(time.Now().Add(-time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	forever, foreverSecret, err := s.CreateAPIKey(ctx, tn.ID, "ci", false, store.WithExpiry(time.Time{}))
	if err != nil || forever.ExpiresAt != nil {
		t.Fatalf("CreateAPIKey with the zero expiry = %+v, %v; want no expiry", forever, err)
	}

	if got, err := s.Authenticate(ctx, liveSecret); err != nil || got.ID != live.ID || got.ExpiresAt == nil || !got.ExpiresAt.Equal(*live.ExpiresAt) {
		t.Fatalf("Authenticate(expiring later) = %+v, %v", got, err)
	}
	if got, err := s.Authenticate(ctx, foreverSecret); err != nil || got.ID != forever.ID || got.ExpiresAt != nil {
		t.Fatalf("Authenticate(no expiry) = %+v, %v", got, err)
	}
	_, err = s.Authenticate(ctx, expiredSecret)
	wantErr(t, "Authenticate expired key", err, store.ErrNotFound)

	list, err := s.ListAPIKeys(ctx, tn.ID)
	if err != nil || len(list) != 3 {
		t.Fatalf("ListAPIKeys = %d keys, %v; want 3, the expired one included", len(list), err)
	}
	for _, k := range list {
		switch k.ID {
		case live.ID:
			if k.ExpiresAt == nil || !k.ExpiresAt.Equal(*live.ExpiresAt) || !k.Live(time.Now()) {
				t.Errorf("listed expiring key = %+v", k)
			}
		case expired.ID:
			if k.ExpiresAt == nil || k.Live(time.Now()) || k.RevokedAt != nil {
				t.Errorf("listed expired key = %+v: want its expiry shown, not live, not revoked", k)
			}
		case forever.ID:
			if k.ExpiresAt != nil {
				t.Errorf("listed key without expiry = %+v", k)
			}
		}
	}
	got, err := s.GetAPIKey(ctx, tn.ID, expired.ID)
	if err != nil || got.ID != expired.ID || !got.Admin || got.ExpiresAt == nil {
		t.Fatalf("GetAPIKey(expired) = %+v, %v", got, err)
	}
}

func testGetAPIKey(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	a := mustTenant(t, s, "A")
	b := mustTenant(t, s, "B")
	k, secret, err := s.CreateAPIKey(ctx, a.ID, "ops", true)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.GetAPIKey(ctx, a.ID, k.ID)
	if err != nil || got.ID != k.ID || got.TenantID != a.ID || got.Name != "ops" || !got.Admin || !got.CreatedAt.Equal(k.CreatedAt) {
		t.Fatalf("GetAPIKey = %+v, %v; want %+v", got, err, k)
	}
	if strings.Contains(fmt.Sprintf("%+v", got), secret) {
		t.Fatal("GetAPIKey exposes the secret")
	}
	_, err = s.GetAPIKey(ctx, b.ID, k.ID)
	wantErr(t, "GetAPIKey of another tenant's key", err, store.ErrNotFound)
	for _, id := range []string{"", "key_", "key_" + strings.Repeat("a", 26), k.ID + "x", "'; --"} {
		_, err := s.GetAPIKey(ctx, a.ID, id)
		wantErr(t, fmt.Sprintf("GetAPIKey(%q)", id), err, store.ErrNotFound)
	}
}

func testLastAdminKey(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	tn := mustTenant(t, s, "Acme")
	first, firstSecret, err := s.CreateAPIKey(ctx, tn.ID, "first admin", true)
	if err != nil {
		t.Fatal(err)
	}
	plain, _, err := s.CreateAPIKey(ctx, tn.ID, "plain", false)
	if err != nil {
		t.Fatal(err)
	}
	// An expired admin key does not count as one left.
	stale, _, err := s.CreateAPIKey(ctx, tn.ID, "stale admin", true, store.WithExpiry(time.Now().Add(-time.Hour)))
	if err != nil {
		t.Fatal(err)
	}

	err = s.RevokeAPIKey(ctx, tn.ID, first.ID)
	wantErr(t, "revoking the last live admin key", err, store.ErrLastAdminKey)
	wantErr(t, "ErrLastAdminKey is a conflict", err, store.ErrConflict)
	if got, err := s.Authenticate(ctx, firstSecret); err != nil || got.ID != first.ID || got.RevokedAt != nil {
		t.Fatalf("the refused revocation revoked the key: %+v, %v", got, err)
	}
	if err := s.RevokeAPIKey(ctx, tn.ID, stale.ID); err != nil {
		t.Fatalf("revoking an expired admin key: %v, want success", err)
	}
	if err := s.RevokeAPIKey(ctx, tn.ID, plain.ID); err != nil {
		t.Fatalf("revoking a plain key: %v", err)
	}

	second, _, err := s.CreateAPIKey(ctx, tn.ID, "second admin", true)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeAPIKey(ctx, tn.ID, first.ID); err != nil {
		t.Fatalf("revoking an admin key with another left: %v", err)
	}
	if err := s.RevokeAPIKey(ctx, tn.ID, first.ID); err != nil {
		t.Fatalf("revoking a revoked admin key again: %v, want success", err)
	}
	wantErr(t, "revoking the new last admin key", s.RevokeAPIKey(ctx, tn.ID, second.ID), store.ErrLastAdminKey)

	// Another tenant's admin keys do not count.
	other := mustTenant(t, s, "Other")
	if _, _, err := s.CreateAPIKey(ctx, other.ID, "admin", true); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "another tenant's admin does not count", s.RevokeAPIKey(ctx, tn.ID, second.ID), store.ErrLastAdminKey)
}

// testLastAdminKeyRace revokes a tenant's two admin keys at once, many times
// over: exactly one revocation may win each round.
func testLastAdminKeyRace(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	for round := range 8 {
		tn := mustTenant(t, s, fmt.Sprintf("race %d", round))
		var ids [2]string
		for i := range ids {
			k, _, err := s.CreateAPIKey(ctx, tn.ID, fmt.Sprintf("admin %d", i), true)
			if err != nil {
				t.Fatal(err)
			}
			ids[i] = k.ID
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		start := make(chan struct{})
		for i, id := range ids {
			wg.Go(func() {
				<-start
				errs[i] = s.RevokeAPIKey(ctx, tn.ID, id)
			})
		}
		close(start)
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case errors.Is(err, store.ErrLastAdminKey):
			default:
				t.Fatalf("round %d: racing revocation: %v", round, err)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d of two racing revocations of the last two admin keys won, want 1 (%v)", round, wins, errs)
		}
		keys, err := s.ListAPIKeys(ctx, tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		liveAdmins := 0
		for _, k := range keys {
			if k.Admin && k.Live(time.Now()) {
				liveAdmins++
			}
		}
		if liveAdmins != 1 {
			t.Fatalf("round %d: %d live admin keys left, want 1", round, liveAdmins)
		}
	}
}

func testOperatorKeys(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	before := time.Now()
	k, secret, err := s.CreateOperatorKey(ctx, "platform team")
	after := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(k.ID, "opk_") || !store.IsOperatorKeyID(k.ID) || k.Name != "platform team" || k.ExpiresAt != nil || k.RevokedAt != nil {
		t.Fatalf("CreateOperatorKey = %+v", k)
	}
	checkStamp(t, "operator key", k.CreatedAt, before, after)
	if !strings.HasPrefix(secret, "hub_op_") || len(secret) < 7+40 || !store.IsOperatorSecret(secret) {
		t.Fatalf("operator secret %q: want hub_op_ and at least 40 random characters", secret)
	}
	if !strings.HasPrefix(secret, k.Prefix) || len(k.Prefix) <= len("hub_op_") || len(k.Prefix) >= len(secret)/2 {
		t.Fatalf("prefix %q must be a short start of the secret", k.Prefix)
	}
	got, err := s.AuthenticateOperator(ctx, secret)
	if err != nil || got.ID != k.ID || got.Name != k.Name || !got.CreatedAt.Equal(k.CreatedAt) {
		t.Fatalf("AuthenticateOperator = %+v, %v", got, err)
	}

	// The two kinds of key never stand in for each other.
	tn := mustTenant(t, s, "Acme")
	tk, tenantSecret, err := s.CreateAPIKey(ctx, tn.ID, "admin", true)
	if err != nil {
		t.Fatal(err)
	}
	if store.IsOperatorSecret(tenantSecret) || store.IsOperatorKeyID(tk.ID) {
		t.Fatal("a tenant key looks like an operator key")
	}
	_, err = s.Authenticate(ctx, secret)
	wantErr(t, "Authenticate(operator secret)", err, store.ErrNotFound)
	_, err = s.AuthenticateOperator(ctx, tenantSecret)
	wantErr(t, "AuthenticateOperator(tenant secret)", err, store.ErrNotFound)
	_, err = s.AuthenticateOperator(ctx, "hub_op_"+strings.TrimPrefix(tenantSecret, "hub_sk_"))
	wantErr(t, "AuthenticateOperator(tenant secret relabelled)", err, store.ErrNotFound)
	for name, in := range map[string]string{
		"empty": "", "prefix only": "hub_op_", "display prefix": secret[:12], "truncated": secret[:len(secret)-1],
		"extra char": secret + "A", "binary": "hub_op_\x00\xff", "huge": strings.Repeat("o", 1<<20),
	} {
		_, err := s.AuthenticateOperator(ctx, in)
		wantErr(t, "AuthenticateOperator "+name, err, store.ErrNotFound)
		if err != nil && len(in) > 8 && strings.Contains(err.Error(), in) {
			t.Errorf("AuthenticateOperator %s: error echoes the secret", name)
		}
	}

	future := time.Now().Add(time.Hour)
	temp, tempSecret, err := s.CreateOperatorKey(ctx, "on call", store.WithExpiry(future))
	if err != nil || temp.ExpiresAt == nil || !temp.ExpiresAt.Equal(future.Truncate(time.Millisecond)) {
		t.Fatalf("CreateOperatorKey with expiry = %+v, %v", temp, err)
	}
	if got, err := s.AuthenticateOperator(ctx, tempSecret); err != nil || got.ExpiresAt == nil {
		t.Fatalf("AuthenticateOperator(expiring later) = %+v, %v", got, err)
	}
	old, oldSecret, err := s.CreateOperatorKey(ctx, "last quarter", store.WithExpiry(time.Now().Add(-time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.AuthenticateOperator(ctx, oldSecret)
	wantErr(t, "AuthenticateOperator expired", err, store.ErrNotFound)

	if err := s.RevokeOperatorKey(ctx, temp.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.AuthenticateOperator(ctx, tempSecret)
	wantErr(t, "AuthenticateOperator revoked", err, store.ErrNotFound)
	if _, err := s.AuthenticateOperator(ctx, secret); err != nil {
		t.Fatalf("revoking one operator key affected another: %v", err)
	}
	list, err := s.ListOperatorKeys(ctx)
	if err != nil || len(list) != 3 {
		t.Fatalf("ListOperatorKeys = %d, %v; want 3", len(list), err)
	}
	var firstRevoked *time.Time
	for _, l := range list {
		if strings.Contains(fmt.Sprintf("%+v", l), secret) || strings.Contains(fmt.Sprintf("%+v", l), tempSecret) {
			t.Fatal("ListOperatorKeys exposes a secret")
		}
		switch l.ID {
		case temp.ID:
			if l.RevokedAt == nil || l.Live(time.Now()) {
				t.Fatalf("listed revoked operator key = %+v", l)
			}
			firstRevoked = l.RevokedAt
		case old.ID:
			if l.ExpiresAt == nil || l.RevokedAt != nil || l.Live(time.Now()) {
				t.Fatalf("listed expired operator key = %+v", l)
			}
		case k.ID:
			if !l.Live(time.Now()) {
				t.Fatalf("listed live operator key = %+v", l)
			}
		}
	}
	if err := s.RevokeOperatorKey(ctx, temp.ID); err != nil {
		t.Fatalf("revoking twice: %v", err)
	}
	list, _ = s.ListOperatorKeys(ctx)
	for _, l := range list {
		if l.ID == temp.ID && (l.RevokedAt == nil || !l.RevokedAt.Equal(*firstRevoked)) {
			t.Fatalf("second revoke changed RevokedAt from %v to %v", firstRevoked, l.RevokedAt)
		}
	}
	wantErr(t, "RevokeOperatorKey unknown", s.RevokeOperatorKey(ctx, "opk_"+strings.Repeat("c", 26)), store.ErrNotFound)
	wantErr(t, "RevokeOperatorKey of a tenant key id", s.RevokeOperatorKey(ctx, tk.ID), store.ErrNotFound)
	wantErr(t, "RevokeOperatorKey empty", s.RevokeOperatorKey(ctx, ""), store.ErrNotFound)
	for _, name := range []string{"", " ", strings.Repeat("k", 201), "a\x7f"} {
		_, _, err := s.CreateOperatorKey(ctx, name)
		wantErr(t, fmt.Sprintf("CreateOperatorKey name %.20q", name), err, store.ErrInvalid)
	}
	// Tenants' keys are untouched by operator keys coming and going.
	if got, err := s.Authenticate(ctx, tenantSecret); err != nil || got.ID != tk.ID {
		t.Fatalf("tenant key after operator key changes: %+v, %v", got, err)
	}
}
