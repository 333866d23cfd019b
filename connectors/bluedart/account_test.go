package bluedart

import (
	"testing"

	"github.com/carrierhub/hub/sdk"
)

func TestTrackingBase(t *testing.T) {
	for _, c := range []struct {
		base, setting, want string
	}{
		{"https://netconnect.bluedart.com/Ver1.10", "", "https://api.bluedart.com"},
		{"https://netconnect.bluedart.com/Ver1.10/Demo", "", "https://api.bluedart.com"},
		{"http://127.0.0.1:8080/bd", "", "http://127.0.0.1:8080"},
		{"https://netconnect.bluedart.com/Ver1.10", "https://proxy.example.com/bd/servlet/RoutingServlet", "https://proxy.example.com/bd"},
		{"https://netconnect.bluedart.com/Ver1.10", "https://proxy.example.com/bd/", "https://proxy.example.com/bd"},
	} {
		a := &sdk.Account{BaseURL: c.base, Credentials: map[string]string{"login_id": "L", "licence_key": "K"},
			Settings: map[string]string{"tracking_url": c.setting}}
		acct, err := loadAccount(a)
		if err != nil {
			t.Fatal(err)
		}
		got, err := acct.trackingBase()
		if err != nil || got != c.want {
			t.Errorf("base %s, tracking_url %q: %q, %v; want %q", c.base, c.setting, got, err, c.want)
		}
	}
	a := &sdk.Account{BaseURL: "https://netconnect.bluedart.com/Ver1.10", Credentials: map[string]string{"login_id": "L", "licence_key": "K"},
		Settings: map[string]string{"tracking_url": "not a url"}}
	acct, err := loadAccount(a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := acct.trackingBase(); sdk.AsError(err).Field != "/account/settings/tracking_url" {
		t.Errorf("a bad tracking_url: %v", err)
	}
}
