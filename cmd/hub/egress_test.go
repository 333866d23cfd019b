package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestEgressGuardRefusesSSRF replays issue 13's SSRF through `hub serve` and a
// real connector process, with the default egress policy (nothing internal
// allowed): an account at a literal internal address is refused at creation,
// and one at a name that resolves to loopback is created but its calls never
// reach the local service, whose words never come back as carrier_message.
// It is not parallel: it narrows HUB_EGRESS_ALLOW, which TestMain widens.
func TestEgressGuardRefusesSSRF(t *testing.T) {
	var hits atomic.Int32
	local := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, `{"detail":"internal admin: token `+r.Header.Get("Authorization")+` accepted"}`, http.StatusForbidden)
	}))
	defer local.Close()
	_, port, _ := net.SplitHostPort(local.Listener.Addr().String())

	t.Setenv("HUB_EGRESS_ALLOW", "")
	dir := t.TempDir()
	tc := newTenant(t, dir)
	h := startHub(t, dir)
	key := tc.APIKey.Secret
	account := func(name, base string) string {
		return `{"connector_id":"delhivery_express","name":"` + name + `","environment":"sandbox","base_url":"` + base +
			`","credentials":{"api_token":"tok-0123456789abcdef"},"settings":{"pickup_location":"WH"}}`
	}
	for _, base := range []string{"http://127.0.0.1:" + port, "http://169.254.169.254/", "http://[::ffff:10.0.0.1]/"} {
		code, body := post(t, h.url+"/v1/accounts", key, account("at "+base, base))
		if code != http.StatusUnprocessableEntity || !strings.Contains(string(body), `"/base_url"`) || !strings.Contains(string(body), "egress guard") {
			t.Errorf("account at %s: %d %s, want 422 at /base_url naming the egress guard", base, code, body)
		}
	}
	if code, body := post(t, h.url+"/v1/accounts", key, account("by name", "http://localhost:"+port)); code != http.StatusCreated {
		t.Fatalf("account at a name: %d %s", code, body)
	}
	code, body := post(t, h.url+"/v1/connectors/delhivery_express/track", key, `{"tracking_numbers":["AWB1"]}`)
	var problem struct {
		Code, Source, Detail string
		CarrierMessage       string `json:"carrier_message"`
	}
	if err := json.Unmarshal(body, &problem); err != nil || code < 400 || code >= 500 || problem.Code != "invalid_request" ||
		problem.Source != "connector" || !strings.Contains(problem.Detail, "egress guard") || !strings.Contains(problem.Detail, "loopback") {
		t.Fatalf("track through an account at localhost: %d %s, want an invalid_request problem naming the egress guard", code, body)
	}
	if hits.Load() != 0 || problem.CarrierMessage != "" || strings.Contains(string(body), "internal admin") {
		t.Fatalf("the local service was reached (%d requests) or quoted: %s", hits.Load(), body)
	}
}

// TestSmallerAttacksThroughServe replays issue 13's smaller findings through
// `hub serve`: a base_url with credentials in it is a 422 at /base_url (it was
// a 503 "store did not answer", which clients retry forever), and headers over
// the API's limit get a problem+json 431 (it was net/http's text/plain one).
func TestSmallerAttacksThroughServe(t *testing.T) {
	dir := t.TempDir()
	tc := newTenant(t, dir)
	h := startHub(t, dir)
	code, body := post(t, h.url+"/v1/accounts", tc.APIKey.Secret, `{"connector_id":"delhivery_express","name":"userinfo","environment":"sandbox",`+
		`"base_url":"https://user:pw@track.delhivery.com","credentials":{"api_token":"tok-0123456789abcdef"},"settings":{"pickup_location":"WH"}}`)
	if code != http.StatusUnprocessableEntity || !strings.Contains(string(body), `"/base_url"`) || strings.Contains(string(body), "user:pw") {
		t.Errorf("a base_url with user:pw@: %d %s, want 422 at /base_url that does not echo the password", code, body)
	}
	req, err := http.NewRequest(http.MethodGet, h.url+"/v1/connectors", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tc.APIKey.Secret)
	req.Header.Set("X-Padding", strings.Repeat("a", 80<<10))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var problem struct{ Code string }
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge || res.Header.Get("Content-Type") != "application/problem+json" ||
		json.NewDecoder(res.Body).Decode(&problem) != nil || problem.Code != "request_header_fields_too_large" {
		t.Errorf("80 KiB of headers: %d %s %q, want a problem+json 431", res.StatusCode, res.Header.Get("Content-Type"), problem.Code)
	}
}
