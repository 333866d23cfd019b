package nic_test

import (
	"context"
	"testing"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/transport/nic"
	"github.com/carrierhub/hub/sdk/transport/nic/nicsim"
)

// Accounts resolves an account to one manager per base URL and public key,
// refuses an account it cannot log in with before anything is sent, and
// Login logs a good one in once.
func TestAccounts(t *testing.T) {
	user := nicsim.User{ClientID: "cid", ClientSecret: "csecret", GSTIN: "29AKLPM8755F1ZJ", Username: "api_user", Password: "pw"}
	f, err := nicsim.NewFixture(nicsim.Options{}, user, nicsim.EWBBase, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	accounts := &nic.Accounts{Flavor: nic.EWayBill}

	m1, creds, err := accounts.Resolve(f.SDKAccount())
	if err != nil || creds.GSTIN != user.GSTIN || creds.Username != user.Username {
		t.Fatalf("resolve: %+v, %v", creds, err)
	}
	if m2, _, _ := accounts.Resolve(f.SDKAccount()); m2 != m1 {
		t.Error("the same base URL and key got a second manager")
	}
	other, err := nicsim.NewFixture(nicsim.Options{}, user, nicsim.EWBBase, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if m3, _, _ := accounts.Resolve(other.SDKAccount()); m3 == m1 {
		t.Error("another host and key share a manager")
	}

	for name, tc := range map[string]struct {
		mut  func(a *sdk.Account)
		code sdk.Code
	}{
		"no public key":  {func(a *sdk.Account) { delete(a.Settings, nic.SettingPublicKey) }, sdk.CodeAuthFailed},
		"bad public key": {func(a *sdk.Account) { a.Settings[nic.SettingPublicKey] = "not a key" }, sdk.CodeAuthFailed},
		"no gstin":       {func(a *sdk.Account) { delete(a.Settings, nic.SettingGSTIN) }, sdk.CodeAuthFailed},
		"no password":    {func(a *sdk.Account) { delete(a.Credentials, nic.CredPassword) }, sdk.CodeAuthFailed},
		"no base URL":    {func(a *sdk.Account) { a.BaseURL = "" }, sdk.CodeInvalidRequest},
	} {
		a := f.SDKAccount()
		tc.mut(a)
		_, _, err := accounts.Resolve(a)
		if e := sdk.AsError(err); e == nil || e.Code != tc.code || !e.NotSent {
			t.Errorf("%s: %+v, want %s before sending", name, e, tc.code)
		}
	}
	if _, _, err := accounts.Resolve(nil); err == nil {
		t.Error("a nil account resolved")
	}

	if err := accounts.Login(context.Background(), f.SDKAccount()); err != nil {
		t.Fatalf("login: %v", err)
	}
	if err := accounts.Login(context.Background(), f.SDKAccount()); err != nil || f.Server().Logins(user.GSTIN) != 1 {
		t.Fatalf("second login: %v, %d logins, want the cached session", err, f.Server().Logins(user.GSTIN))
	}
}
