package nic_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carrierhub/hub/internal/testclock"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/sdktest"
	"github.com/carrierhub/hub/sdk/transport/nic"
	"github.com/carrierhub/hub/sdk/transport/nic/nicsim"
)

var creds = nic.Credentials{
	ClientID: "cid-123", ClientSecret: "csecret-456", GSTIN: "29AKLPM8755F1Z2",
	Username: "api_user", Password: "s3cret-Passw0rd",
}

type rig struct {
	sim  *nicsim.Server
	m    *nic.Manager
	clk  *testclock.Clock
	logs *bytes.Buffer
}

func newRig(t *testing.T, flavor nic.Flavor, simOpts nicsim.Options) *rig {
	t.Helper()
	clk := testclock.New(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))
	if simOpts.Now == nil {
		simOpts.Now = clk.Now
	}
	sim, err := nicsim.New(simOpts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	sim.AddUser(nicsim.User{ClientID: creds.ClientID, ClientSecret: creds.ClientSecret, GSTIN: creds.GSTIN, Username: creds.Username, Password: creds.Password})
	pub, err := nic.ParsePublicKey(sim.PublicKeyPEM())
	if err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	var mu sync.Mutex
	cfg := nic.Config{
		Flavor: flavor, PublicKey: pub, Now: clk.Now,
		Logger: slog.New(slog.NewJSONHandler(lockedWriter{&mu, logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if flavor == nic.EWayBill {
		cfg.BaseURL = sim.URL + nicsim.EWBBase
	} else {
		cfg.BaseURL, cfg.AuthPath = sim.URL, nicsim.IRPAuthPath
	}
	m, err := nic.NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &rig{sim: sim, m: m, clk: clk, logs: logs}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func ewbDoc(docNo string) map[string]any {
	return map[string]any{
		"supplyType": "O", "subSupplyType": "1", "docType": "INV", "docNo": docNo, "docDate": "02/03/2026",
		"fromGstin": creds.GSTIN, "fromPincode": 560090, "fromStateCode": 29, "actFromStateCode": 29,
		"toGstin": "02EHFPS5910D2Z0", "toPincode": 171001, "toStateCode": 2, "actToStateCode": 2,
		"transDistance": "100", "totInvValue": 68358, "transactionType": 1,
		"itemList": []map[string]any{{"hsnCode": 1001, "taxableAmount": 56099}},
	}
}

type genResp struct {
	EwayBillNo   int64  `json:"ewayBillNo"`
	EwayBillDate string `json:"ewayBillDate"`
	ValidUpto    string `json:"validUpto"`
}

func TestEWBGenerateAndGet(t *testing.T) {
	r := newRig(t, nic.EWayBill, nicsim.Options{})
	ctx := context.Background()
	var gen genResp
	if err := r.m.EWBAction(ctx, creds, "GENEWAYBILL", ewbDoc("INV/2026/1"), &gen); err != nil {
		t.Fatal(err)
	}
	if gen.EwayBillNo < 100000000000 || gen.EwayBillDate == "" || gen.ValidUpto == "" {
		t.Fatalf("generate response %+v", gen)
	}
	var got struct {
		EwbNo  int64  `json:"ewbNo"`
		DocNo  string `json:"docNo"`
		Status string `json:"status"`
	}
	q := url.Values{"ewbNo": {fmt.Sprint(gen.EwayBillNo)}}
	if err := r.m.EWBGet(ctx, creds, "GetEwayBill", q, &got); err != nil {
		t.Fatal(err)
	}
	if got.EwbNo != gen.EwayBillNo || got.DocNo != "INV/2026/1" || got.Status != "ACT" {
		t.Fatalf("GetEwayBill %+v", got)
	}
	if n := r.sim.Logins(creds.GSTIN); n != 1 {
		t.Fatalf("logins = %d, want 1 (token and SEK cached)", n)
	}

	// NIC's error shapes come back classified, with NIC's codes kept.
	err := r.m.EWBAction(ctx, creds, "GENEWAYBILL", ewbDoc("INV/2026/1"), nil)
	if e := sdktest.Error(t, err); e.Code != sdk.CodeConflict || e.Source != sdk.SourceCarrier || e.CarrierCode != "604" {
		t.Fatalf("duplicate: %+v", e)
	}
	err = r.m.EWBAction(ctx, creds, "GENEWAYBILL", ewbDoc("this doc number is far too long"), nil)
	if e := sdktest.Error(t, err); e.Code != sdk.CodeInvalidRequest || e.CarrierCode != "206" {
		t.Fatalf("bad docNo: %+v", e)
	}
	err = r.m.EWBGet(ctx, creds, "GetEwayBill", url.Values{"ewbNo": {"999999999999"}}, nil)
	if e := sdktest.Error(t, err); e.Code != sdk.CodeNotFound || e.CarrierCode != "325" {
		t.Fatalf("unknown ewb: %+v", e)
	}
	if n := r.sim.Logins(creds.GSTIN); n != 1 {
		t.Fatalf("logins = %d after carrier errors, want 1", n)
	}
}

// 100 concurrent calls for one GSTIN share one login: the simulator holds the
// login open until every caller has started.
func TestConcurrentCallsShareOneLogin(t *testing.T) {
	const n = 100
	var started atomic.Int32
	release := make(chan struct{})
	r := newRig(t, nic.EWayBill, nicsim.Options{OnLogin: func(string, string) { <-release }})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if started.Add(1) == n {
				close(release)
			}
			errs <- r.m.EWBAction(ctx, creds, "GENEWAYBILL", ewbDoc(fmt.Sprintf("C/%d", i)), nil)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := r.sim.Logins(creds.GSTIN); got != 1 {
		t.Fatalf("simulator saw %d logins for %d concurrent calls, want 1", got, n)
	}
}

// At most 5 logins per 15 minutes per GSTIN; the sixth is refused locally with
// rate_limited and RetryAfter, and NIC never sees it.
func TestLoginRateGuard(t *testing.T) {
	r := newRig(t, nic.EWayBill, nicsim.Options{})
	ctx := context.Background()
	for i := 1; i <= 5; i++ {
		if err := r.m.EWBAction(ctx, creds, "GENEWAYBILL", ewbDoc(fmt.Sprintf("R/%d", i)), nil); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if got := r.sim.Logins(creds.GSTIN); got != i {
			t.Fatalf("after call %d: %d logins", i, got)
		}
		r.sim.RevokeTokens() // NIC drops the session: the next call must re-login
		r.clk.Add(time.Minute)
	}
	err := r.m.EWBAction(ctx, creds, "GENEWAYBILL", ewbDoc("R/6"), nil)
	e := sdktest.Error(t, err)
	if e.Code != sdk.CodeRateLimited || !e.NotSent {
		t.Fatalf("sixth login: %+v", e)
	}
	// The oldest login was at 10:00; now is 10:05; it leaves the window at 10:15.
	if e.RetryAfter != 10*time.Minute {
		t.Fatalf("RetryAfter = %s, want 10m", e.RetryAfter)
	}
	if got := r.sim.Logins(creds.GSTIN); got != 5 {
		t.Fatalf("simulator saw %d logins, want 5 (the sixth must never be sent)", got)
	}
	if got := r.m.LoginsInWindow(creds.GSTIN); got != 5 {
		t.Fatalf("LoginsInWindow = %d", got)
	}
	// Still refused a moment before the window slides...
	r.clk.Add(10*time.Minute - time.Second)
	if err := r.m.EWBAction(ctx, creds, "GENEWAYBILL", ewbDoc("R/7"), nil); sdktest.Error(t, err).Code != sdk.CodeRateLimited {
		t.Fatalf("before the window slides: %v", err)
	}
	// ...and allowed once it has.
	r.clk.Add(time.Second)
	if err := r.m.EWBAction(ctx, creds, "GENEWAYBILL", ewbDoc("R/8"), nil); err != nil {
		t.Fatalf("after the window: %v", err)
	}
	if got := r.sim.Logins(creds.GSTIN); got != 6 {
		t.Fatalf("simulator saw %d logins, want 6", got)
	}
	if !strings.Contains(r.logs.String(), "rate guard") {
		t.Fatal("the refusal was not logged")
	}
}

func TestStaleTokenForcesOneRelogin(t *testing.T) {
	r := newRig(t, nic.EWayBill, nicsim.Options{})
	ctx := context.Background()
	s1, err := r.m.Session(ctx, creds)
	if err != nil {
		t.Fatal(err)
	}
	r.sim.RevokeTokens()
	if err := r.m.EWBAction(ctx, creds, "GENEWAYBILL", ewbDoc("S/1"), nil); err != nil {
		t.Fatal(err)
	}
	s2, _ := r.m.Session(ctx, creds)
	if s2 == s1 || s2.AuthToken() == s1.AuthToken() {
		t.Fatal("session was not replaced after NIC refused the token")
	}
	if got := r.sim.Logins(creds.GSTIN); got != 2 {
		t.Fatalf("logins = %d, want 2", got)
	}
	// A Refresh with an already-replaced session does not log in again.
	s3, err := r.m.Refresh(ctx, creds, s1)
	if err != nil || s3 != s2 {
		t.Fatalf("Refresh(old) = %v, %v; want the current session", s3, err)
	}
	if got := r.sim.Logins(creds.GSTIN); got != 2 {
		t.Fatalf("logins = %d after stale Refresh, want 2", got)
	}
}

func TestTokenExpiryRenews(t *testing.T) {
	r := newRig(t, nic.EWayBill, nicsim.Options{})
	ctx := context.Background()
	s1, err := r.m.Session(ctx, creds)
	if err != nil {
		t.Fatal(err)
	}
	if want := r.clk.Now().Add(360 * time.Minute); !s1.Expiry().Equal(want) {
		t.Fatalf("expiry %s, want %s", s1.Expiry(), want)
	}
	r.clk.Add(357 * time.Minute)
	if s, _ := r.m.Session(ctx, creds); s != s1 {
		t.Fatal("session renewed before RefreshBefore")
	}
	r.clk.Add(2 * time.Minute) // 359 min: inside the 2-minute refresh margin
	s2, err := r.m.Session(ctx, creds)
	if err != nil || s2 == s1 {
		t.Fatalf("session not renewed near expiry: %v", err)
	}
	if got := r.sim.Logins(creds.GSTIN); got != 2 {
		t.Fatalf("logins = %d, want 2", got)
	}
}

func TestBadCredentials(t *testing.T) {
	r := newRig(t, nic.EWayBill, nicsim.Options{})
	ctx := context.Background()
	// A good login is cached first; other credentials for the same GSTIN must not ride on it.
	if _, err := r.m.Session(ctx, creds); err != nil {
		t.Fatal(err)
	}
	bad := creds
	bad.Password = "wrong-Password-42"
	err := r.m.EWBAction(ctx, bad, "GENEWAYBILL", ewbDoc("B/1"), nil)
	e := sdktest.Error(t, err)
	if e.Code != sdk.CodeAuthFailed || e.CarrierCode != "108" || e.Source != sdk.SourceCarrier {
		t.Fatalf("bad password: %+v", e)
	}
	if got := r.sim.Logins(creds.GSTIN); got != 2 {
		t.Fatalf("logins = %d, want 2 (the bad credentials were tried, not served from cache)", got)
	}
	for _, secret := range []string{bad.Password, creds.Password, creds.ClientSecret} {
		if strings.Contains(err.Error(), secret) || strings.Contains(fmt.Sprintf("%+v %#v", e, bad), secret) {
			t.Fatal("a secret leaked into the error or the credentials' formatting")
		}
	}
	missing := creds
	missing.Password = ""
	if e := sdktest.Error(t, r.m.EWBAction(ctx, missing, "GENEWAYBILL", ewbDoc("B/2"), nil)); e.Code != sdk.CodeAuthFailed || !e.NotSent {
		t.Fatalf("missing password: %+v", e)
	}
}

func TestNoSecretsInLogs(t *testing.T) {
	r := newRig(t, nic.EWayBill, nicsim.Options{})
	ctx := context.Background()
	s, err := r.m.Session(ctx, creds)
	if err != nil {
		t.Fatal(err)
	}
	r.sim.RevokeTokens()
	if err := r.m.EWBAction(ctx, creds, "GENEWAYBILL", ewbDoc("L/1"), nil); err != nil {
		t.Fatal(err)
	}
	s2, _ := r.m.Session(ctx, creds)
	logs := r.logs.String()
	if !strings.Contains(logs, "nic login") {
		t.Fatalf("expected login events in the log, got %q", logs)
	}
	for _, secret := range []string{creds.Password, creds.ClientSecret, s.AuthToken(), s2.AuthToken()} {
		if strings.Contains(logs, secret) || strings.Contains(s.String(), secret) {
			t.Fatalf("secret %q... found in logs or Session.String", secret[:3])
		}
	}
}

func TestContextCancelDuringLogin(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := newRig(t, nic.EWayBill, nicsim.Options{OnLogin: func(string, string) { cancel() }})
	err := r.m.EWBAction(ctx, creds, "GENEWAYBILL", ewbDoc("D/1"), nil)
	if e := sdktest.Error(t, err); e.Code != sdk.CodeTimeout {
		t.Fatalf("cancelled login: %+v", e)
	}
}

func TestIRPLoginAndInvoice(t *testing.T) {
	r := newRig(t, nic.EInvoice, nicsim.Options{})
	ctx := context.Background()
	s, err := r.m.Session(ctx, creds)
	if err != nil {
		t.Fatal(err)
	}
	// TokenExpiry is 'yyyy-MM-dd HH:mm:ss' in IST; the simulator issues 360 minutes.
	if want := r.clk.Now().Add(360 * time.Minute); !s.Expiry().Equal(want) {
		t.Fatalf("expiry %s, want %s", s.Expiry(), want)
	}
	inv := map[string]any{
		"Version": "1.1", "TranDtls": map[string]string{"TaxSch": "GST", "SupTyp": "B2B"},
		"DocDtls":    map[string]string{"Typ": "INV", "No": "DOC/001", "Dt": "02/03/2026"},
		"SellerDtls": map[string]any{"Gstin": creds.GSTIN},
	}
	var out struct {
		Irn    string `json:"Irn"`
		Status string `json:"Status"`
	}
	if err := r.m.IRPPost(ctx, creds, nicsim.IRPInvoicePath, inv, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Irn) != 64 || out.Status != "ACT" {
		t.Fatalf("IRN response %+v", out)
	}
	r.sim.RevokeTokens()
	var raw json.RawMessage
	if err := r.m.IRPPost(ctx, creds, nicsim.IRPInvoicePath, inv, &raw); err != nil {
		t.Fatalf("after revoke: %v", err)
	}
	if got := r.sim.Logins(creds.GSTIN); got != 2 {
		t.Fatalf("logins = %d, want 2", got)
	}
	bad := creds
	bad.Password = "nope"
	_, err = r.m.Session(ctx, bad)
	if e := sdktest.Error(t, err); e.Code != sdk.CodeAuthFailed || e.CarrierCode != "1010" {
		t.Fatalf("IRP bad password: %+v", e)
	}
	// Wrong-flavor helpers are refused before anything is sent.
	if e := sdktest.Error(t, r.m.EWBAction(ctx, creds, "GENEWAYBILL", ewbDoc("X"), nil)); e.Code != sdk.CodeInternal {
		t.Fatalf("EWBAction on IRP manager: %+v", e)
	}
}

func TestNewManagerValidation(t *testing.T) {
	if _, err := nic.NewManager(nic.Config{Flavor: nic.EWayBill, BaseURL: "http://x"}); err == nil {
		t.Fatal("missing public key accepted")
	}
	if _, err := nic.NewManager(nic.Config{BaseURL: "http://x"}); err == nil {
		t.Fatal("missing flavor accepted")
	}
}

func TestCarrierOutageClassified(t *testing.T) {
	r := newRig(t, nic.EWayBill, nicsim.Options{})
	r.sim.Close() // nothing listens any more
	err := r.m.EWBAction(context.Background(), creds, "GENEWAYBILL", ewbDoc("O/1"), nil)
	e := sdktest.Error(t, err)
	if e.Code != sdk.CodeCarrierUnavailable || !e.NotSent {
		t.Fatalf("connection refused: %+v", e)
	}
}
