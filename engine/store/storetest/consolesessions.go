package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/store"
)

// testConsoleSessions checks the console's sessions: one made from a tenant's
// key and one from an operator key act as those keys; signing out, revoking
// the key and the key's expiry each end a session; the session never outlives
// its key; malformed and unknown secrets are ErrNotFound.
func testConsoleSessions(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	tn := mustTenant(t, s, "Acme")
	keyExpiry := time.Now().Add(2 * time.Hour)
	k, _, err := s.CreateAPIKey(ctx, tn.ID, "ops", true, store.WithExpiry(keyExpiry))
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	sess, secret, err := s.CreateConsoleSession(ctx, k, 8*time.Hour)
	after := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "hub_cs_") || len(secret) < 7+40 || sess.KeyID != k.ID || sess.TenantID != tn.ID || sess.ID == "" {
		t.Fatalf("CreateConsoleSession = %+v, %q", sess, secret)
	}
	checkStamp(t, "console session", sess.CreatedAt, before, after)
	if !sess.ExpiresAt.Equal(k.ExpiresAt.Truncate(time.Millisecond)) {
		t.Errorf("session expires %v, want its key's expiry %v: a session never outlives its key", sess.ExpiresAt, *k.ExpiresAt)
	}
	got, key, err := s.AuthenticateConsoleSession(ctx, secret)
	if err != nil || got.ID != sess.ID || got.TenantID != tn.ID || !got.ExpiresAt.Equal(sess.ExpiresAt) || key.ID != k.ID || key.TenantID != tn.ID || !key.Admin {
		t.Fatalf("AuthenticateConsoleSession = %+v, %+v, %v", got, key, err)
	}

	// Signing out ends it, once and for all; ending it again succeeds.
	if err := s.EndConsoleSession(ctx, secret); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.AuthenticateConsoleSession(ctx, secret)
	wantErr(t, "AuthenticateConsoleSession after sign-out", err, store.ErrNotFound)
	if err := s.EndConsoleSession(ctx, secret); err != nil {
		t.Fatalf("ending an ended session: %v", err)
	}

	// Revoking the key ends its sessions.
	k2, _, err := s.CreateAPIKey(ctx, tn.ID, "viewer", false)
	if err != nil {
		t.Fatal(err)
	}
	sess2, secret2, err := s.CreateConsoleSession(ctx, k2, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if d := sess2.ExpiresAt.Sub(sess2.CreatedAt); d != time.Hour {
		t.Errorf("session of a key without expiry lasts %v, want the hour asked", d)
	}
	if err := s.RevokeAPIKey(ctx, tn.ID, k2.ID); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.AuthenticateConsoleSession(ctx, secret2)
	wantErr(t, "AuthenticateConsoleSession of a revoked key", err, store.ErrNotFound)

	// A key that has expired takes its session with it.
	k3, _, err := s.CreateAPIKey(ctx, tn.ID, "expired", false, store.WithExpiry(time.Now().Add(-time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	if _, secret3, err := s.CreateConsoleSession(ctx, k3, time.Hour); err == nil {
		_, _, err = s.AuthenticateConsoleSession(ctx, secret3)
		wantErr(t, "AuthenticateConsoleSession of an expired key", err, store.ErrNotFound)
	}

	// An operator key's session acts as the operator, with no tenant.
	op, _, err := s.CreateOperatorKey(ctx, "platform")
	if err != nil {
		t.Fatal(err)
	}
	opSess, opSecret, err := s.CreateConsoleSession(ctx, store.APIKey{ID: op.ID, Name: op.Name}, time.Hour)
	if err != nil || opSess.TenantID != "" {
		t.Fatalf("operator session = %+v, %v", opSess, err)
	}
	if _, key, err := s.AuthenticateConsoleSession(ctx, opSecret); err != nil || key.ID != op.ID || key.TenantID != "" || key.Name != "platform" {
		t.Fatalf("AuthenticateConsoleSession(operator) = %+v, %v", key, err)
	}
	if err := s.RevokeOperatorKey(ctx, op.ID); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.AuthenticateConsoleSession(ctx, opSecret)
	wantErr(t, "AuthenticateConsoleSession of a revoked operator key", err, store.ErrNotFound)

	// Secrets that are not sessions' are refused alike; so are bad inputs.
	for _, bad := range []string{"", "hub_cs_", "hub_cs_" + strings.Repeat("A", 43), secret[:len(secret)-1], "hub_sk_" + secret[7:]} {
		_, _, err := s.AuthenticateConsoleSession(ctx, bad)
		wantErr(t, "AuthenticateConsoleSession("+bad+")", err, store.ErrNotFound)
	}
	wantErr(t, "EndConsoleSession(unknown)", s.EndConsoleSession(ctx, "hub_cs_"+strings.Repeat("A", 43)), store.ErrNotFound)
	_, _, err = s.CreateConsoleSession(ctx, store.APIKey{ID: "key_nope", TenantID: tn.ID}, time.Hour)
	wantErr(t, "CreateConsoleSession with a made-up key", err, store.ErrInvalid)
	_, _, err = s.CreateConsoleSession(ctx, k, 0)
	wantErr(t, "CreateConsoleSession for no time", err, store.ErrInvalid)
}
