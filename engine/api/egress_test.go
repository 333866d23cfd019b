package api

import (
	"strings"
	"testing"

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
