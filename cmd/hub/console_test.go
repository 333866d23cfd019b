package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/carrierhub/hub/connectors/delhivery/simulator"
	"github.com/carrierhub/hub/engine/api"
)

// The console's browser tests drive Debian's Chromium, headless, through the
// console that `hub serve` serves, and run axe-core (the accessibility engine)
// in the same browser on every page they visit. .ci/browser.sh installs both
// and names them in HUB_CHROMIUM and HUB_AXE_JS; without them the tests skip,
// except under CI=true, where they fail. Screenshots go to
// HUB_CONSOLE_SCREENSHOTS when it is set (docs/console.md shows copies made
// that way: HUB_CONSOLE_SCREENSHOTS=$PWD/docs/console go test -run Console ./cmd/hub).

// browserTools returns Chromium's path and axe-core's script, or skips.
func browserTools(t *testing.T) (chromium, axe string) {
	t.Helper()
	missing := func(what string) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing: .ci/browser.sh installs it", what)
		}
		t.Skipf("%s is missing (.ci/browser.sh installs it)", what)
	}
	chromium = os.Getenv("HUB_CHROMIUM")
	if chromium == "" {
		chromium, _ = exec.LookPath("chromium")
	}
	if chromium == "" {
		missing("Chromium (HUB_CHROMIUM)")
	}
	path := os.Getenv("HUB_AXE_JS")
	if path == "" {
		missing("axe-core (HUB_AXE_JS)")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("axe-core: %v", err)
	}
	return chromium, string(b)
}

// browser is one headless Chromium tab on the console.
type browser struct {
	t     *testing.T
	ctx   context.Context
	axe   string
	shots string
}

func newBrowser(t *testing.T, chromium, axe string) *browser {
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 900))
	alloc, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first run starts the browser, which lives as long as that run's
	// context: so no deadline on it (later steps have theirs).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", chromium, err)
	}
	return &browser{t: t, ctx: ctx, axe: axe, shots: os.Getenv("HUB_CONSOLE_SCREENSHOTS")}
}

// failed ends the test with what the browser was doing and the page's text.
func (b *browser) failed(what string, err error) {
	b.t.Helper()
	body, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
	b.t.Fatalf("%s: %v\npage text:\n%s", what, err, body)
}

// do runs browser steps with a deadline.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.failed(what, err)
	}
}

// get runs one browser action with a deadline and returns its value.
func get[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.failed(what, err)
	}
	return v
}

// eval evaluates a script in the page, awaiting a promise, and returns its value.
func eval[T any](b *browser, what, script string) T {
	b.t.Helper()
	return get(b, what, chromedp.Evaluate[T](script, chromedp.EvalAwaitPromise))
}

// text returns an element's text.
func (b *browser) text(sel string) string {
	b.t.Helper()
	return get(b, "reading "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// waitText waits until sel's text contains want.
func (b *browser) waitText(sel, want string) {
	b.t.Helper()
	eval[bool](b, fmt.Sprintf("waiting for %q in %s", want, sel), fmt.Sprintf(`new Promise((ok) => { const f = () => {
		const e = document.querySelector(%q); if (e && e.textContent.includes(%q)) ok(true); else setTimeout(f, 50); }; f(); })`, sel, want))
}

// choose sets a field's value (a select's choice, or clears an input) and
// tells the page, as a user's change would.
func (b *browser) choose(sel, value string) {
	b.t.Helper()
	if !eval[bool](b, fmt.Sprintf("setting %s to %q", sel, value), fmt.Sprintf(`(() => { const e = document.querySelector(%q);
		e.value = %q; e.dispatchEvent(new Event('input', {bubbles: true})); e.dispatchEvent(new Event('change', {bubbles: true}));
		return e.value === %q; })()`, sel, value, value)) {
		b.t.Fatalf("%s has no choice %q", sel, value)
	}
}

// audit runs axe-core on the page and fails on any serious or critical
// violation, naming the rule and the elements.
func (b *browser) audit(page string) {
	b.t.Helper()
	eval[bool](b, "loading axe-core", b.axe+"\n;true")
	type violation struct {
		ID, Impact, Help string
		Nodes            []string
	}
	found := eval[[]violation](b, "running axe-core on "+page, `axe.run(document, {resultTypes: ['violations']}).then((r) =>
		r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
		  .map((v) => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' '))})))`)
	for _, v := range found {
		b.t.Errorf("accessibility on %s: %s (%s): %s, at %s", page, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, ", "))
	}
}

// waitAttempts refreshes the endpoint's attempt log until it shows want.
func (b *browser) waitAttempts(want string) {
	b.t.Helper()
	b.waitAttemptCount(want, 1)
}

// waitAttemptCount refreshes the endpoint's attempt log until want appears n times.
func (b *browser) waitAttemptCount(want string, n int) {
	b.t.Helper()
	eval[bool](b, fmt.Sprintf("waiting for %d × %q in the attempt log", n, want), fmt.Sprintf(`new Promise((ok) => { const f = () => {
		const log = document.querySelector('#attempts');
		if (log && log.textContent.split(%q).length - 1 >= %d) { ok(true); return; }
		const refresh = [...document.querySelectorAll('button')].find((x) => x.textContent === 'Refresh attempts');
		if (refresh) refresh.click();
		setTimeout(f, 300); }; f(); })`, want, n))
}

// noWiderThanWindow fails when the page scrolls sideways.
func (b *browser) noWiderThanWindow(page string) {
	b.t.Helper()
	if eval[bool](b, "measuring "+page, `document.documentElement.scrollWidth > window.innerWidth + 1`) {
		b.t.Errorf("%s is wider than the window", page)
	}
}

// probeAudit checks the audit can fail: axe-core must find a button with no
// name, put on the page for a moment, before its silence counts for anything.
func (b *browser) probeAudit() {
	b.t.Helper()
	eval[bool](b, "loading axe-core", b.axe+"\n;true")
	ids := eval[[]string](b, "auditing a nameless button", `(() => { const p = document.createElement('button'); p.id = 'axe-probe';
		document.body.append(p);
		return axe.run('#axe-probe', {resultTypes: ['violations']}).then((r) => { p.remove(); return r.violations.map((v) => v.id); }); })()`)
	if !slices.Contains(ids, "button-name") {
		b.t.Fatalf("axe-core did not flag a button without a name (found %v): the audits would prove nothing", ids)
	}
}

// shot saves a screenshot of the window when HUB_CONSOLE_SCREENSHOTS is set.
func (b *browser) shot(name string) {
	b.t.Helper()
	if b.shots == "" {
		return
	}
	png := get(b, "screenshot "+name, chromedp.CaptureScreenshot())
	if err := os.MkdirAll(b.shots, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// TestConsoleInBrowser signs in to the console in Chromium, searches the
// catalogue, creates an account from the form the manifest's schema makes,
// checks its connection against the Delhivery simulator, looks at the pages at
// phone width, signs out, and audits every page with axe-core.
func TestConsoleInBrowser(t *testing.T) {
	chromium, axe := browserTools(t)
	sim := simulator.New()
	defer sim.Close()
	dir := t.TempDir()
	r := hub(t, "", "tenants", "create", "acme", "--data-dir", dir, "-o", "json")
	var tc api.TenantCreated
	if err := json.Unmarshal([]byte(r.stdout), &tc); err != nil {
		t.Fatalf("tenants create: %v %s %s", err, r.stdout, r.err)
	}
	t.Setenv("HUB_EGRESS_ALLOW", "127.0.0.0/8") // the simulator listens on loopback
	// The webhook receiver listens on loopback too; a failed delivery is tried
	// again after a second.
	cfg := filepath.Join(dir, "hub.yaml")
	if err := os.WriteFile(cfg, []byte("webhooks:\n  allow_list: [127.0.0.1]\n  retry_schedule: [0s, 1s, 1s, 1s, 1s]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The receiver fails the first two deliveries, then takes them.
	var received atomic.Int32
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if received.Add(1) <= 2 {
			http.Error(w, "receiver down for maintenance", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()
	h := startHub(t, dir, "--config", cfg)
	b := newBrowser(t, chromium, axe)

	// Sign-in: a wrong key is refused on the page, the right one signs in.
	b.do("opening the console", chromedp.Navigate(h.url+"/console/"), chromedp.WaitVisible(chromedp.CSS("#api-key")))
	b.probeAudit()
	b.audit("sign-in")
	b.shot("sign-in")
	b.do("signing in with a wrong key", chromedp.SendKeys(chromedp.CSS("#api-key"), "hub_sk_"+strings.Repeat("x", 43)),
		chromedp.Click(chromedp.CSS("form button[type=submit]")))
	b.waitText("[role=alert]", "unknown, revoked or expired")
	b.choose("#api-key", "")
	b.do("signing in", chromedp.SendKeys(chromedp.CSS("#api-key"), tc.APIKey.Secret), chromedp.Click(chromedp.CSS("form button[type=submit]")))
	b.waitText("h1", "Overview")
	b.waitText("#who-name", "acme")
	if cookies := eval[string](b, "reading document.cookie", `document.cookie`); strings.Contains(cookies, "hub_session") {
		t.Error("the session cookie is readable by the page's scripts; it must be HttpOnly")
	}
	b.waitText("#overview-updated", "Live: updated")
	b.audit("overview")

	// The catalogue: searching narrows it, the filters combine.
	b.do("opening connectors", chromedp.Navigate(h.url+"/console/#/connectors"), chromedp.WaitVisible(chromedp.CSS("#q")))
	b.waitText("#count", "connectors")
	b.do("searching", chromedp.SendKeys(chromedp.CSS("#q"), "delhivery"))
	b.waitText("#count", "1 connector")
	b.waitText("tbody", "Delhivery")
	b.choose("#operation", "track")
	b.waitText("#count", "1 connector")
	b.choose("#category", "government")
	b.waitText("tbody", "No connector matches")
	if address := eval[string](b, "reading the address", `location.hash`); !strings.Contains(address, "q=delhivery") || !strings.Contains(address, "operation=track") {
		t.Errorf("the filters are not kept in the address: %s", address)
	}
	b.choose("#category", "")
	b.waitText("#count", "1 connector")
	b.audit("connectors")
	b.shot("connectors")

	// A connector's page, and an account made from its schema's form.
	b.do("opening Delhivery", chromedp.Click(chromedp.CSS(`a[href="#/connectors/delhivery_express"]`)))
	b.waitText("main", "Add an account")
	b.do("filling the account form",
		chromedp.SendKeys(chromedp.CSS("#account-name"), "main"),
		chromedp.SendKeys(chromedp.CSS("#account-base"), sim.URL()),
		chromedp.SendKeys(chromedp.CSS("#credentials-api_token"), sim.Token()),
		chromedp.SendKeys(chromedp.CSS("#settings-pickup_location"), "Gurugram WH"))
	b.choose("#account-env", "sandbox")
	if kind := get(b, "reading the credential field's type", chromedp.AttributeValue(chromedp.CSS("#credentials-api_token"), "type")).Value; kind != "password" {
		t.Errorf("a credential is entered in a %q field, want password", kind)
	}
	b.do("creating the account", chromedp.Click(chromedp.CSS(`form[aria-label^="Add a"] button[type=submit]`)))
	b.waitText("#status", "Account main created")
	b.do("waiting for the account in the list", chromedp.WaitVisible(chromedp.CSS(`button[aria-label="Check connection of main"]`)))
	if page := b.text("main"); strings.Contains(page, sim.Token()) {
		t.Error("the console shows the credential it was given")
	}
	accountID := eval[string](b, "reading the account's id", `document.querySelector('button[aria-label="Check connection of main"]').closest('tr').cells[2].textContent`)
	b.do("checking the connection", chromedp.Click(chromedp.CSS(`button[aria-label="Check connection of main"]`)))
	b.waitText("#health", accountID)
	if result := b.text("#health dd"); result != "healthy" {
		t.Errorf("the account's connection check says %q, want healthy", result)
	}
	b.audit("connector")
	b.shot("connector")
	b.noWiderThanWindow("the connector's page")

	// Webhooks: an endpoint added in the console gets the booking's events; its
	// failures show in the attempt log, then its recovery, then a replay.
	b.do("opening webhooks", chromedp.Navigate(h.url+"/console/#/webhooks"), chromedp.WaitVisible(chromedp.CSS("#hook-url")))
	b.do("adding an endpoint", chromedp.SendKeys(chromedp.CSS("#hook-url"), receiver.URL+"/hooks"),
		chromedp.SendKeys(chromedp.CSS("#hook-types"), "shipment.*"), chromedp.Click(chromedp.CSS(`form[aria-label="Add a webhook endpoint"] button[type=submit]`)))
	b.waitText("#new-secret", "whsec_")
	b.audit("webhooks")
	b.shot("webhooks")

	shipment := `{"reference": "CONSOLE-1",
		"ship_from": {"name": "Dock 3", "phone": "9810000001", "lines": ["Plot 7, Udyog Vihar"], "city": "Gurugram", "state": "Haryana", "postal_code": "122016", "country_code": "IN"},
		"ship_to": {"name": "R. Iyer", "phone": "9876500000", "lines": ["12 Residency Road"], "city": "Bengaluru", "state": "Karnataka", "postal_code": "560025", "country_code": "IN"},
		"parcels": [{"weight": {"value": 0.8, "unit": "kg"}, "items": [{"description": "Books", "quantity": 3}]}],
		"payment_mode": "prepaid"}`
	req, err := http.NewRequest("POST", h.url+"/v1/connectors/delhivery_express/create_shipment?account="+accountID, strings.NewReader(shipment))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tc.APIKey.Secret)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "CONSOLE-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var booked struct {
		TrackingNumber string `json:"tracking_number"`
	}
	err = json.NewDecoder(resp.Body).Decode(&booked)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err != nil || booked.TrackingNumber == "" {
		t.Fatalf("create_shipment: %d %v", resp.StatusCode, err)
	}

	b.do("opening the endpoint", chromedp.Click(chromedp.CSS(`a[href^="#/webhooks/whe_"], a[href^="#/webhooks/"]`)))
	b.waitAttempts("HTTP 500")
	b.waitAttempts("HTTP 204")
	b.waitText("#attempts", `"type":"shipment.created"`) // the request sent, beside each answer
	b.audit("webhook endpoint")
	b.shot("webhook-endpoint")
	b.do("asking for a replay of the last hour", chromedp.WaitVisible(chromedp.CSS("#replay-since")))
	eval[bool](b, "setting the replay's start", `(() => { const d = new Date(Date.now() - 3600e3); d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
		const e = document.querySelector('#replay-since'); e.value = d.toISOString().slice(0, 19); return e.value !== ''; })()`)
	before := received.Load()
	b.do("replaying", chromedp.Click(chromedp.CSS(`form[aria-label="Replay a time range"] button[type=submit]`)))
	b.waitText("#replay-result", "Replay queued")
	if got := b.text("#replay-result"); strings.Contains(got, "queued 0 ") {
		t.Fatalf("the replay queued nothing: %s", got)
	}
	b.waitAttemptCount("HTTP 204", 2)
	if received.Load() <= before {
		t.Errorf("the receiver got nothing after the replay (%d requests before, %d after)", before, received.Load())
	}
	var testEvent string
	b.do("sending a test event", chromedp.Click(chromedp.CSS(`.actions button:first-child`)))
	b.waitText("#test-queued", "queued")
	if f := strings.Fields(b.text("#test-queued")); len(f) > 2 && strings.HasPrefix(f[2], "evt_") {
		testEvent = f[2]
	} else {
		t.Fatalf("the test event's notice names no event: %q", b.text("#test-queued"))
	}
	b.waitAttempts(testEvent)

	// Shipments: found by the shipper's reference, tracked now, with the
	// carrier's own codes in the timeline.
	b.do("opening shipments", chromedp.Navigate(h.url+"/console/#/shipments"), chromedp.WaitVisible(chromedp.CSS("#ship-q")))
	b.do("finding the booking", chromedp.SendKeys(chromedp.CSS("#ship-q"), "CONSOLE-1"), chromedp.Click(chromedp.CSS(`form[role=search] button[type=submit]`)))
	b.waitText("main", booked.TrackingNumber)
	b.do("tracking it", chromedp.Click(chromedp.CSS(`button[aria-label="Track now `+booked.TrackingNumber+`"]`)))
	b.waitText("#timeline", "Provider code")
	if tl := b.text("#timeline"); !strings.Contains(tl, "UD/") {
		t.Errorf("the timeline shows no Delhivery status code (UD/...):\n%s", tl)
	}
	// The exchange behind it, from the connector's own record, without the token.
	b.do("showing the provider exchanges", chromedp.Click(chromedp.CSS(`#timeline button.secondary`)))
	b.waitText("#exchanges", "/api/v1/packages/json/")
	if ex := eval[string](b, "reading the exchanges", `document.querySelector('#exchanges').textContent`); strings.Contains(ex, sim.Token()) || !strings.Contains(ex, "[redacted]") {
		t.Errorf("the exchanges show the account's token, or redact nothing:\n%s", ex)
	}
	b.audit("shipments")
	b.shot("shipments")

	// The overview, live: the connector the console used is at work, and the
	// stream brings a fresh overview without a reload.
	b.do("opening the overview", chromedp.Navigate(h.url+"/console/#/overview"), chromedp.WaitVisible(chromedp.CSS("#overview-updated")))
	b.waitText("#overview-updated", "Live: updated")
	b.waitText("#overview", "delhivery_express")
	b.waitText("#overview", " ms") // the P95 of its latest calls
	first := b.text("#overview-updated")
	eval[bool](b, "waiting for a live update", fmt.Sprintf(`new Promise((ok) => { const f = () => {
		if (document.querySelector('#overview-updated').textContent !== %q) ok(true); else setTimeout(f, 100); }; f(); })`, first))
	b.audit("overview at work")
	b.shot("overview")

	// Phone width: nothing wider than the screen.
	b.do("narrowing to a phone", chromedp.EmulateViewport(390, 844), chromedp.Navigate(h.url+"/console/#/connectors"),
		chromedp.WaitVisible(chromedp.CSS("#q")))
	b.waitText("#count", "connector")
	b.noWiderThanWindow("the connectors page at phone width")
	b.audit("connectors at phone width")
	b.shot("connectors-phone")
	for _, page := range []struct{ name, hash, ready string }{
		{"the overview", "#/overview", "#overview-updated"},
		{"the shipments page", "#/shipments?q=CONSOLE-1", "#ship-q"},
		{"the webhooks page", "#/webhooks", "#hook-url"},
		{"Delhivery's page", "#/connectors/delhivery_express", "#health"},
	} {
		b.do("opening "+page.name+" at phone width", chromedp.Navigate(h.url+"/console/"+page.hash), chromedp.WaitVisible(chromedp.CSS(page.ready)))
		b.noWiderThanWindow(page.name + " at phone width")
		b.audit(page.name + " at phone width")
	}
	b.do("back to a laptop", chromedp.EmulateViewport(1280, 900))

	// The cookie: HttpOnly, SameSite=Strict. Signing out ends the session on
	// the server, not only in the page: the old cookie no longer works.
	cookies := get(b, "reading the cookies", func(ctx context.Context, tg *chromedp.Target) (network.GetCookiesResult, error) {
		return cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{h.url}})
	})
	var session *network.Cookie
	for _, c := range cookies.Cookies {
		if c.Name == "hub_session" {
			session = c
		}
	}
	if session == nil || !session.HTTPOnly || session.SameSite != network.CookieSameSiteStrict {
		t.Fatalf("session cookie = %+v, want HttpOnly and SameSite=Strict", session)
	}
	b.do("signing out", chromedp.Click(chromedp.CSS("#sign-out")))
	b.waitText("h1", "Sign in")
	req, err = http.NewRequest("GET", h.url+"/v1/connectors", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: session.Name, Value: session.Value})
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /v1/connectors with the signed-out cookie = %d, want 401", resp.StatusCode)
	}
	if strings.Contains(h.logs.String(), sim.Token()) || strings.Contains(h.logs.String(), tc.APIKey.Secret) {
		t.Error("a secret reached the hub's logs")
	}
}
