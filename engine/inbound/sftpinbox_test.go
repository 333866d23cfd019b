package inbound_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/carrierhub/hub/engine/events"
	"github.com/carrierhub/hub/engine/events/recorder"
	"github.com/carrierhub/hub/engine/inbound"
	"github.com/carrierhub/hub/engine/router"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/internal/syncbuf"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
	"github.com/carrierhub/hub/sdk/transport/egress"
	"github.com/carrierhub/hub/sdk/transport/sftp"
)

// csvConnector is a fake router serving receive_push for status files: it
// reads "tracking number,status,RFC 3339 time" lines and records the results
// through inbound.Recording, as the router's AfterCall does.
type csvConnector struct {
	after func(ctx context.Context, tenantID, connectorID, accountID string, op sdk.Operation, response []byte) error

	mu    sync.Mutex
	calls map[string]int // by file name
	reqs  []model.PushRequest
	fail  func(name string, call int) error
}

func (c *csvConnector) Invoke(ctx context.Context, rt router.Route, body []byte) ([]byte, error) {
	if rt.Operation != sdk.OpReceivePush || !strings.HasPrefix(rt.RequestID, "sftp_") {
		return nil, errors.New("unexpected call " + string(rt.Operation))
	}
	var req model.PushRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, err
	}
	name := req.Headers[inbound.HeaderFileName]
	c.mu.Lock()
	c.calls[name]++
	n := c.calls[name]
	c.reqs = append(c.reqs, req)
	fail := c.fail
	c.mu.Unlock()
	if fail != nil {
		if err := fail(name, n); err != nil {
			return nil, err
		}
	}
	var resp model.PushResponse
	resp.Results = []model.Tracking{}
	if req.ContentType == "text/csv" {
		rows, err := csv.NewReader(bytes.NewReader(req.Body)).ReadAll()
		if err != nil {
			return nil, &sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceConnector, Message: "not CSV: " + err.Error()}
		}
		for _, r := range rows {
			at, err := time.Parse(time.RFC3339, r[2])
			if err != nil {
				return nil, &sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceConnector, Message: "bad time"}
			}
			resp.Results = append(resp.Results, tracking(r[0], model.TrackingStatus(r[1]), at))
		}
	}
	out := mustJSON(resp)
	if err := c.after(ctx, rt.TenantID, rt.ConnectorID, rt.AccountID, rt.Operation, out); err != nil {
		return nil, err
	}
	return out, nil
}

func (c *csvConnector) count(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[name]
}

func (c *csvConnector) setFail(f func(name string, call int) error) {
	c.mu.Lock()
	c.fail = f
	c.mu.Unlock()
}

// inboxEnv is a store with a tenant, a real sshd and the fake connector.
type inboxEnv struct {
	st     store.Store
	tenant string
	srv    *sshd
	conn   *csvConnector
	rec    *eventRecorder
	logs   *syncbuf.Buffer
}

func newInboxEnv(t *testing.T) *inboxEnv {
	t.Helper()
	st, tenant := testStore(t)
	e := &inboxEnv{st: st, tenant: tenant, srv: startSSHD(t), logs: &syncbuf.Buffer{}}
	e.rec = &eventRecorder{rec: recorder.New(st, nil)}
	rec := &inbound.Recording{Recorder: e.rec}
	e.conn = &csvConnector{after: rec.AfterCall, calls: map[string]int{}}
	return e
}

// account creates an account of the fake connector whose inbox is dir.
func (e *inboxEnv) account(t *testing.T, name, dir string, edit func(*store.Account)) store.Account {
	t.Helper()
	a := store.Account{TenantID: e.tenant, ConnectorID: "csv_files", Name: name, Environment: "sandbox",
		Credentials: map[string]string{"sftp_private_key": string(e.srv.KeyPEM)}, Settings: e.srv.settings(dir)}
	if edit != nil {
		edit(&a)
	}
	acc, err := e.st.CreateAccount(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	return acc
}

func (e *inboxEnv) inbox(t *testing.T, owner string, edit func(*inbound.InboxConfig)) *inbound.Inbox {
	t.Helper()
	cfg := inbound.InboxConfig{Store: e.st, Router: e.conn, Owner: owner, DialTimeout: 10 * time.Second,
		Logger: slog.New(slog.NewJSONHandler(e.logs, nil)), Egress: egress.MustParse("127.0.0.0/8")} // sshd runs on loopback
	if edit != nil {
		edit(&cfg)
	}
	in, err := inbound.NewInbox(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func pass(t *testing.T, in *inbound.Inbox) inbound.InboxPass {
	t.Helper()
	p, err := in.PassOnce(t.Context())
	if err != nil {
		t.Fatalf("PassOnce: %v", err)
	}
	return p
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// files lists the regular files of dir (none when it is missing).
func files(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, en := range entries {
		if en.Type().IsRegular() {
			out = append(out, en.Name())
		}
	}
	return out
}

func eventTypes(evs []events.Type) map[events.Type]int {
	out := map[events.Type]int{}
	for _, e := range evs {
		out[e]++
	}
	return out
}

const statusCSV = "AWB100,in_transit,2026-05-01T10:00:00Z\nAWB200,delivered,2026-05-01T11:00:00Z\n"

func TestInboxProcessesEachFileOnceAndArchives(t *testing.T) {
	t.Parallel()
	e := newInboxEnv(t)
	dir := e.srv.inbox(t, "acme/status")
	acc := e.account(t, "status drop", dir, nil)
	in := e.inbox(t, "replica-a", nil)
	writeFile(t, dir, "status-0501.csv", statusCSV)
	writeFile(t, dir, "carrier.214", "ISA*00*...~")

	// A file is taken only once it is unchanged since the previous look.
	if p := pass(t, in); p.Polled != 1 || p.Waiting != 2 || p.Processed != 0 {
		t.Fatalf("first pass = %+v; want both files waiting", p)
	}
	p := pass(t, in)
	if p.Processed != 2 || p.Failed+p.Rejected+p.Errors != 0 {
		t.Fatalf("second pass = %+v; want 2 processed", p)
	}
	if got := files(t, dir); len(got) != 0 {
		t.Fatalf("inbox still holds %v", got)
	}
	archived := files(t, filepath.Join(dir, "archive"))
	slices.Sort(archived)
	if !slices.Equal(archived, []string{"carrier.214", "status-0501.csv"}) {
		t.Fatalf("archive = %v", archived)
	}
	if e.conn.count("status-0501.csv") != 1 || e.conn.count("carrier.214") != 1 {
		t.Fatalf("calls = %v; want one per file", e.conn.calls)
	}
	types := map[string]string{}
	for _, r := range e.conn.reqs {
		types[r.Headers[inbound.HeaderFileName]] = r.ContentType
		if r.Headers[inbound.HeaderFileName] == "status-0501.csv" && string(r.Body) != statusCSV {
			t.Fatalf("body = %q; want the whole file", r.Body)
		}
	}
	if types["status-0501.csv"] != "text/csv" || types["carrier.214"] != "application/edi-x12" {
		t.Fatalf("content types = %v", types)
	}
	got := eventTypes(e.rec.take())
	if got[events.TrackingUpdated] != 2 || got[events.ShipmentDelivered] != 1 {
		t.Fatalf("events = %v; want two tracking.updated and one shipment.delivered", got)
	}
	sh, err := e.st.GetShipment(t.Context(), e.tenant, "csv_files", "AWB200")
	if err != nil || sh.Status != model.StatusDelivered || sh.AccountID != acc.ID {
		t.Fatalf("shipment AWB200 = %+v, %v", sh, err)
	}
	if p := pass(t, in); p.Processed+p.Waiting+p.Duplicates != 0 {
		t.Fatalf("third pass = %+v; want nothing to do", p)
	}
	if st := in.Status(); len(st) != 1 || st[0].AccountID != acc.ID || !st[0].Polling || st[0].Problem != "" || st[0].Processed != 2 {
		t.Fatalf("Status = %+v", st)
	}
}

func TestInboxRestartDoesNotReprocess(t *testing.T) {
	t.Parallel()
	e := newInboxEnv(t)
	dir := e.srv.inbox(t, "inbox")
	e.account(t, "status drop", dir, nil)

	// The first hub processes a file in one pass (SettleDelay), then stops,
	// releasing its lease.
	first := e.inbox(t, "replica-a", func(c *inbound.InboxConfig) { c.SettleDelay = 20 * time.Millisecond; c.Interval = time.Hour })
	writeFile(t, dir, "a.csv", statusCSV)
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(filepath.Join(dir, "a.csv"), old, old); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- first.Run(ctx) }()
	for first.Totals().Processed == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if e.conn.count("a.csv") != 1 {
		t.Fatalf("a.csv handed %d times", e.conn.count("a.csv"))
	}
	e.rec.take()

	// The same file dropped again (same name, size and time) is not processed again.
	writeFile(t, dir, "a.csv", statusCSV)
	if err := os.Chtimes(filepath.Join(dir, "a.csv"), old, old); err != nil {
		t.Fatal(err)
	}
	// Claims left by a hub that stopped: b.csv after its results were committed
	// but before the journal write (its key is recorded), c.csv after the
	// journal write, d.csv before processing ended.
	proc := filepath.Join(dir, ".processing")
	writeFile(t, proc, "0123456789abcdef_b.csv", "AWB300,in_transit,2026-05-01T10:00:00Z\n")
	writeFile(t, proc, "0123456789abcdef_c.csv", "AWB400,in_transit,2026-05-01T10:00:00Z\n")
	writeFile(t, proc, "0123456789abcdef_d.csv", "AWB500,in_transit,2026-05-01T10:00:00Z\n")
	for _, n := range []string{"b", "c", "d"} {
		if err := os.Chtimes(filepath.Join(proc, "0123456789abcdef_"+n+".csv"), old, old); err != nil {
			t.Fatal(err)
		}
	}
	accs, _ := e.st.ListAccounts(t.Context(), e.tenant, "")
	acc := accs[0].ID
	if err := e.st.MarkSFTPFileDone(t.Context(), acc, "file/"+sftp.IdempotencyKey("b.csv", 39, old)); err != nil {
		t.Fatal(err)
	}
	if err := e.st.MarkSFTPFileDone(t.Context(), acc, "claim/0123456789abcdef_c.csv"); err != nil {
		t.Fatal(err)
	}

	second := e.inbox(t, "replica-b", nil)
	p1 := pass(t, second)
	p2 := pass(t, second)
	if p1.Polled != 1 || p1.Finished != 1 || p1.Duplicates != 1 || p1.Processed != 1 {
		t.Fatalf("first pass after restart = %+v; want c finished, b a duplicate, d processed", p1)
	}
	if p2.Duplicates != 1 || p2.Processed != 0 {
		t.Fatalf("second pass after restart = %+v; want a.csv archived as a duplicate", p2)
	}
	for name, want := range map[string]int{"a.csv": 1, "b.csv": 0, "c.csv": 0, "d.csv": 1} {
		if got := e.conn.count(name); got != want {
			t.Errorf("%s handed to receive_push %d times, want %d", name, got, want)
		}
	}
	if got := eventTypes(e.rec.take()); got[events.TrackingUpdated] != 1 {
		t.Fatalf("events after restart = %v; want only d.csv's tracking.updated", got)
	}
	if got := files(t, dir); len(got) != 0 {
		t.Fatalf("inbox holds %v", got)
	}
	if got := files(t, proc); len(got) != 0 {
		t.Fatalf(".processing holds %v", got)
	}
	if got := files(t, filepath.Join(dir, "archive")); len(got) != 5 {
		t.Fatalf("archive = %v; want a.csv twice (the second under its claim name), b, c, d", got)
	}
	// Claims are forgotten once archived; file keys stay.
	if done, _ := e.st.SFTPFileDone(t.Context(), acc, "claim/0123456789abcdef_c.csv"); done {
		t.Fatal("a finished claim is still in the journal")
	}
	if done, _ := e.st.SFTPFileDone(t.Context(), acc, "file/"+sftp.IdempotencyKey("d.csv", 39, old)); !done {
		t.Fatal("d.csv's key was not recorded")
	}
}

func TestInboxFailures(t *testing.T) {
	t.Parallel()
	e := newInboxEnv(t)
	dir := e.srv.inbox(t, "inbox")
	e.account(t, "status drop", dir, func(a *store.Account) { a.Settings["sftp_pattern"] = "*.csv" })
	in := e.inbox(t, "replica-a", nil)
	e.conn.setFail(func(name string, call int) error {
		switch {
		case name == "garbled.csv":
			return &sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceConnector, Message: "line 1: 2 fields, want 3"}
		case name == "flaky.csv" && call == 1:
			return &sdk.Error{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceConnector, Message: "connector busy"}
		}
		return nil
	})
	writeFile(t, dir, "garbled.csv", "AWB1,in_transit\n")
	writeFile(t, dir, "flaky.csv", statusCSV)
	writeFile(t, dir, "good.csv", statusCSV)
	writeFile(t, dir, "notes.txt", "ignored by the pattern")
	pass(t, in)
	p := pass(t, in)
	if p.Processed != 1 || p.Rejected != 1 || p.Failed != 1 {
		t.Fatalf("pass = %+v; want good processed, garbled rejected, flaky left", p)
	}
	if got := files(t, filepath.Join(dir, "failed")); !slices.Equal(got, []string{"garbled.csv"}) {
		t.Fatalf("failed/ = %v", got)
	}
	if got := files(t, filepath.Join(dir, ".processing")); len(got) != 1 || !strings.HasSuffix(got[0], "_flaky.csv") {
		t.Fatalf(".processing = %v; want the flaky file left claimed", got)
	}
	if got := files(t, dir); !slices.Equal(got, []string{"notes.txt"}) {
		t.Fatalf("inbox = %v; want only the file the pattern leaves", got)
	}
	// The next pass offers the flaky file again, and it goes through.
	p = pass(t, in)
	if p.Processed != 1 || p.Failed+p.Rejected != 0 {
		t.Fatalf("retry pass = %+v", p)
	}
	if e.conn.count("flaky.csv") != 2 || e.conn.count("garbled.csv") != 1 || e.conn.count("good.csv") != 1 {
		t.Fatalf("calls = %v", e.conn.calls)
	}
	if !strings.Contains(e.logs.String(), "line 1: 2 fields, want 3") {
		t.Fatal("the rejected file's reason is not logged")
	}
	if tot := in.Totals(); tot.Processed != 2 || tot.Rejected != 1 || tot.Failed != 1 {
		t.Fatalf("Totals = %+v", tot)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(inbound.NewInboxCollector(in))
	want := `
# HELP hub_sftp_inbox_accounts Accounts with an SFTP inbox, by state: ok, or broken (bad settings, unreachable server, refused credentials; see the log).
# TYPE hub_sftp_inbox_accounts gauge
hub_sftp_inbox_accounts{state="broken"} 0
hub_sftp_inbox_accounts{state="ok"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "hub_sftp_inbox_accounts"); err != nil {
		t.Fatal(err)
	}
	files := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "hub_sftp_inbox_files_total" {
			for _, m := range mf.GetMetric() {
				files[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	if files["processed"] != 2 || files["rejected"] != 1 || files["failed"] != 1 || files["duplicate"] != 0 {
		t.Fatalf("hub_sftp_inbox_files_total = %v", files)
	}
}

func TestInboxHubErrorStopsTheAccountAndKeepsTheFile(t *testing.T) {
	t.Parallel()
	e := newInboxEnv(t)
	dir := e.srv.inbox(t, "inbox")
	e.account(t, "status drop", dir, nil)
	in := e.inbox(t, "replica-a", nil)
	e.conn.setFail(func(string, int) error {
		return &sdk.Error{Code: sdk.CodeNotFound, Source: sdk.SourceHub, Message: "connector csv_files does not serve receive_push"}
	})
	writeFile(t, dir, "a.csv", statusCSV)
	writeFile(t, dir, "b.csv", statusCSV)
	pass(t, in)
	p := pass(t, in)
	if p.Errors != 1 || p.Processed+p.Rejected != 0 {
		t.Fatalf("pass = %+v; want the pass stopped with an error, nothing processed or rejected", p)
	}
	if got := files(t, filepath.Join(dir, "failed")); len(got) != 0 {
		t.Fatalf("a file was moved to failed/ for the hub's error: %v", got)
	}
	if calls := e.conn.count("a.csv") + e.conn.count("b.csv"); calls != 1 {
		t.Fatalf("%d calls; want the pass to stop after the first", calls)
	}
	st := in.Status()
	if len(st) != 1 || !strings.Contains(st[0].Problem, "does not serve receive_push") {
		t.Fatalf("Status = %+v; want the problem", st)
	}
	e.conn.setFail(nil)
	pass(t, in) // b.csv, still in the inbox, is seen again
	pass(t, in)
	if e.conn.count("a.csv") != 2 || e.conn.count("b.csv") != 1 {
		t.Fatalf("after the fix, calls = %v", e.conn.calls)
	}
	if got := files(t, filepath.Join(dir, "archive")); len(got) != 2 {
		t.Fatalf("archive = %v", got)
	}
	if st := in.Status(); st[0].Problem != "" {
		t.Fatalf("problem not cleared: %q", st[0].Problem)
	}
	if n := strings.Count(e.logs.String(), "sftp inbox working"); n != 1 {
		t.Fatalf("recovery logged %d times, want once", n)
	}
}

func TestInboxLeaseSharedByReplicas(t *testing.T) {
	t.Parallel()
	e := newInboxEnv(t)
	dir1, dir2 := e.srv.inbox(t, "one"), e.srv.inbox(t, "two")
	e.account(t, "one", dir1, nil)
	e.account(t, "two", dir2, nil)
	a := e.inbox(t, "replica-a", nil)
	b := e.inbox(t, "replica-b", nil)
	for i := range 5 {
		writeFile(t, dir1, "one-"+string(rune('a'+i))+".csv", statusCSV)
		writeFile(t, dir2, "two-"+string(rune('a'+i))+".csv", statusCSV)
	}
	// Both replicas pass at once, three times: each inbox is polled by one of
	// them per round, and every file is handed over once.
	for round := range 3 {
		var wg sync.WaitGroup
		var pa, pb inbound.InboxPass
		wg.Go(func() { pa = pass(t, a) })
		wg.Go(func() { pb = pass(t, b) })
		wg.Wait()
		if pa.Polled+pb.Polled != 2 || pa.LeaseHeld+pb.LeaseHeld != 2 {
			t.Fatalf("round %d: a %+v, b %+v; want each inbox polled by one replica", round, pa, pb)
		}
	}
	for name, n := range e.conn.calls {
		if n != 1 {
			t.Errorf("%s handed %d times", name, n)
		}
	}
	if len(e.conn.calls) != 10 {
		t.Fatalf("%d files handed over, want 10", len(e.conn.calls))
	}
	// A replica that stops releases its leases; another takes over at once.
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	polls := a.Totals().Polls
	go func() { done <- a.Run(ctx) }()
	for a.Totals().Polls < polls+2 {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if p := pass(t, b); p.Polled != 2 {
		t.Fatalf("after the holder stopped, the other replica's pass = %+v; want both inboxes", p)
	}
	// A lease not renewed runs out: a replica whose clock is past it takes over.
	late := e.inbox(t, "replica-c", func(c *inbound.InboxConfig) {
		c.Now = func() time.Time { return time.Now().Add(inbound.DefaultInboxLease + time.Minute) }
	})
	if p := pass(t, late); p.Polled != 2 {
		t.Fatalf("after the lease ran out, pass = %+v; want both inboxes", p)
	}
}

func TestInboxBadAccountsAreReportedOnceAndDoNotStopOthers(t *testing.T) {
	t.Parallel()
	e := newInboxEnv(t)
	good := e.srv.inbox(t, "good")
	e.account(t, "good", good, nil)
	e.account(t, "no known hosts", e.srv.inbox(t, "nokh"), func(a *store.Account) { delete(a.Settings, "sftp_known_hosts") })
	e.account(t, "no credentials", e.srv.inbox(t, "nocred"), func(a *store.Account) { a.Credentials = nil })
	e.account(t, "outside", e.srv.inbox(t, "out"), func(a *store.Account) { a.Settings["sftp_archive"] = "/elsewhere" })
	otherKey := strings.Replace(e.srv.KnownHosts, "127.0.0.1", "127.0.0.2", 1) // the key on file is for another host
	e.account(t, "wrong host key", e.srv.inbox(t, "wrongkh"), func(a *store.Account) {
		a.Settings["sftp_known_hosts"] = otherKey
		a.Credentials = map[string]string{"sftp_password": "hunter2-SECRET"}
	})
	e.account(t, "not an inbox", "", func(a *store.Account) { a.Settings = map[string]string{"label": "4x6"} })
	in := e.inbox(t, "replica-a", nil)
	writeFile(t, good, "a.csv", statusCSV)
	p1 := pass(t, in)
	p2 := pass(t, in)
	if p1.Accounts != 5 || p1.Invalid != 3 || p1.Errors != 1 || p1.Polled != 1 {
		t.Fatalf("first pass = %+v; want 5 inboxes, 3 invalid, 1 unreachable, 1 polled", p1)
	}
	if p2.Processed != 1 {
		t.Fatalf("second pass = %+v; want the good inbox's file processed", p2)
	}
	logs := e.logs.String()
	if n := strings.Count(logs, "sftp inbox not working"); n != 4 {
		t.Fatalf("%d problem lines over two passes, want 4 (one per bad account):\n%s", n, logs)
	}
	for _, want := range []string{"sftp_known_hosts: is required", "credentials: sftp_password or sftp_private_key is required",
		`sftp_archive: \"/elsewhere\" must be inside sftp_inbox`, "auth_failed"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q", want)
		}
	}
	if strings.Contains(logs, "hunter2") || strings.Contains(logs, "PRIVATE KEY") {
		t.Fatal("a credential reached the log")
	}
	broken := 0
	for _, s := range in.Status() {
		if s.Problem != "" {
			broken++
		}
	}
	if tot := in.Totals(); broken != 4 || tot.Broken != 4 || tot.Inboxes != 5 {
		t.Fatalf("Status has %d problems, Totals %+v; want 4 of 5", broken, tot)
	}
}
