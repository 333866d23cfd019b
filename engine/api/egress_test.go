package api

import (
	"strings"
	"testing"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/transport/egress"
)

// TestAccountBaseURLEgress: an account whose base_url is a literal address the
// egress allow-list does not admit is refused with a 422 at /base_url, naming
// the address's class; names pass (the guard checks them when dialled), and
// the allow-list admits its ranges.
func TestAccountBaseURLEgress(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.Egress = egress.MustParse("10.20.0.0/16") })
	account := func(name, base string) string {
		return `{"connector_id":"bolt","name":"` + name + `","environment":"sandbox","base_url":"` + base + `"}`
	}
	for base, class := range map[string]string{
		"http://127.0.0.1:8080":         "loopback",
		"http://169.254.169.254/latest": "link-local (the cloud metadata address)",
		"https://10.0.0.5":              "private (RFC 1918)",
		"http://[::1]:9000":             "loopback",
		"http://[::ffff:192.168.1.1]/":  "private (RFC 1918) in IPv4-mapped form",
		"http://[64:ff9b::a9fe:a9fe]/":  "link-local (the cloud metadata address) in NAT64 form",
		"http://100.64.0.1":             "shared CGNAT space (100.64.0.0/10)",
	} {
		r := h.do("POST", "/v1/accounts", h.keyA, account("x "+base, base))
		if r.status != 422 {
			t.Errorf("%s: got %d %s, want 422", base, r.status, r.body)
			continue
		}
		p := r.problem(t)
		if len(p.Errors) != 1 || p.Errors[0].Pointer == nil || *p.Errors[0].Pointer != "/base_url" ||
			!strings.Contains(p.Errors[0].Detail, class) || !strings.Contains(p.Errors[0].Detail, "egress") {
			t.Errorf("%s: errors %+v, want one at /base_url naming %q and the egress guard", base, p.Errors, class)
		}
	}
	for i, base := range []string{"https://api.carrier.example", "http://localhost:8080", "http://10.20.3.4:8443", "https://8.8.8.8"} {
		if r := h.do("POST", "/v1/accounts", h.keyA, account("ok "+string(rune('a'+i)), base)); r.status != 201 {
			t.Errorf("%s: got %d %s, want 201", base, r.status, r.body)
		}
	}
	// Without an allow-list, only public addresses.
	if errs := ValidateAccount(boltManifest, AccountInput{ConnectorID: "bolt", Name: "x", Environment: "sandbox", BaseURL: "http://10.20.3.4"}, nil); len(errs) != 1 || errs[0].Pointer != "/base_url" {
		t.Errorf("nil policy: %+v", errs)
	}
}

// A provider's other hosts may be pointed elsewhere per account (host_NAME),
// checked as base_url is; a host the manifest does not declare is no setting.
func TestAccountHostSettings(t *testing.T) {
	m := &sdk.Manifest{ID: "twohost", Name: "Two Hosts", Version: "0.1.0", Category: "carrier_parcel", Docs: "https://example.test/twohost",
		Operations: []sdk.OperationInfo{{Name: sdk.OpTrack, Idempotent: true}},
		Account: sdk.AccountSchema{Environments: map[string]string{"sandbox": "https://api.twohost.test"},
			Hosts: map[string]map[string]string{"track": {"sandbox": "https://track.twohost.test"}}}}
	in := func(settings map[string]string) AccountInput {
		return AccountInput{ConnectorID: "twohost", Name: "x", Environment: "sandbox", Settings: settings}
	}
	if errs := ValidateAccount(m, in(map[string]string{"host_track": "https://proxy.example.com/track"}), nil); len(errs) != 0 {
		t.Errorf("a public host_track: %+v", errs)
	}
	for setting, want := range map[string]string{"host_track": "egress guard", "host_auth": "declares no setting"} {
		errs := ValidateAccount(m, in(map[string]string{setting: "http://10.1.2.3"}), nil)
		if len(errs) != 1 || errs[0].Pointer != "/settings/"+setting || !strings.Contains(errs[0].Message, want) {
			t.Errorf("%s: %+v, want one error saying %q", setting, errs, want)
		}
	}
	if errs := ValidateAccount(m, in(map[string]string{"host_track": "track.example.com"}), nil); len(errs) != 1 || !strings.Contains(errs[0].Message, "absolute") {
		t.Errorf("a host that is no URL: %+v", errs)
	}
}
