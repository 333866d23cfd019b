package inbound

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/carrierhub/hub/engine/router"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
	"github.com/carrierhub/hub/sdk/transport/egress"
	"github.com/carrierhub/hub/sdk/transport/sftp"
)

// Defaults of InboxConfig.
const (
	// DefaultInboxInterval is how often each inbox is polled.
	DefaultInboxInterval = time.Minute
	// DefaultInboxLease is how long a replica's claim on an inbox lasts without
	// renewal.
	DefaultInboxLease = 2 * time.Minute
	// DefaultInboxMaxFileSize is the largest status file taken: 16 MiB.
	DefaultInboxMaxFileSize = 16 << 20
	// DefaultInboxRetention is how long a processed file is remembered.
	DefaultInboxRetention = 30 * 24 * time.Hour
)

// HeaderFileName is the receive_push header that carries a file's base name.
const HeaderFileName = "x-hub-file-name"

// InboxStore is the part of the store the SFTP inbox reads and writes.
type InboxStore interface {
	AccountLister
	store.SFTPInboxStore
}

// InboxConfig configures an Inbox.
type InboxConfig struct {
	// Store lists accounts and keeps processed files and leases; required.
	Store InboxStore
	// Router runs receive_push; its AfterCall records the results. Required.
	Router Invoker
	// Interval is how often every inbox is polled, with up to a tenth more at
	// random so replicas drift apart; DefaultInboxInterval when zero.
	Interval time.Duration
	// Lease is how long a replica's claim on an inbox lasts; it is renewed at
	// every pass and every Lease/3 during one, so a Lease longer than Interval
	// keeps an inbox with one replica until that replica stops.
	// DefaultInboxLease when zero.
	Lease time.Duration
	// DialTimeout bounds connecting and the SSH handshake; sftp.DefaultDialTimeout
	// when zero.
	DialTimeout time.Duration
	// Egress is the egress guard's allow-list every inbox connection is
	// checked against after DNS, as connectors' own connections are; nil is
	// egress.Default() (HUB_EGRESS_ALLOW in the hub's environment).
	Egress *egress.Policy
	// MaxFileSize is the largest file taken; a larger one is moved to the failed
	// directory. DefaultInboxMaxFileSize when zero.
	MaxFileSize int64
	// Retention is how long a processed file's key is kept, so that the same
	// file dropped again (same name, size and modification time) is not
	// processed twice; DefaultInboxRetention when zero.
	Retention time.Duration
	// SettleDelay, when positive, lets a pass that sees a new file look again
	// after this delay and take it in the same pass; otherwise a file is taken
	// at the first pass that sees it unchanged since the previous one.
	SettleDelay time.Duration
	// Parallel is how many inboxes are polled at once; 4 when zero.
	Parallel int
	// Owner names this replica in the lease table; a random name when empty.
	Owner string
	// Logger receives the inbox's reports and warnings; slog.Default() when nil.
	Logger *slog.Logger
	// Now is the clock for leases; time.Now when nil.
	Now func() time.Time
}

// Inbox polls the SFTP inbox of every account that has one (the sftp_inbox
// setting) and hands each status file to the account's connector's
// receive_push, exactly once; see the package doc. Run it in one goroutine per
// hub process; several replicas may each run one, and a lease per inbox lets
// one poll it at a time.
type Inbox struct {
	cfg   InboxConfig
	log   *slog.Logger
	now   func() time.Time
	owner string

	pass sync.Mutex // one pass at a time

	mu       sync.Mutex
	accounts map[string]*inboxAccount // by account id
	counts   inboxCounters

	lastPurge time.Time // pass goroutine only
}

// inboxAccount is one account's inbox state across passes.
type inboxAccount struct {
	tenant, connector, id string
	settings              *inboxSettings // nil when the settings are invalid
	poller                *sftp.Poller   // kept across passes: it remembers the previous look
	held                  string         // lease key held by this replica, "" when none
	problem               string         // the last problem logged, "" when working
	status                InboxAccountStatus
}

// inboxCounters are the inbox's counters since start.
type inboxCounters struct {
	processed, duplicates, finished, failed, rejected atomic.Int64
	polls, pollErrors, leaseHeld                      atomic.Int64
}

// NewInbox returns an Inbox.
func NewInbox(cfg InboxConfig) (*Inbox, error) {
	if cfg.Store == nil || cfg.Router == nil {
		return nil, errors.New("inbound: Store and Router are required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInboxInterval
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultInboxLease
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = sftp.DefaultDialTimeout
	}
	if cfg.MaxFileSize <= 0 {
		cfg.MaxFileSize = DefaultInboxMaxFileSize
	}
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultInboxRetention
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 4
	}
	in := &Inbox{cfg: cfg, log: cfg.Logger, now: cfg.Now, owner: cfg.Owner, accounts: map[string]*inboxAccount{}}
	if in.log == nil {
		in.log = slog.Default()
	}
	if in.now == nil {
		in.now = time.Now
	}
	if in.owner == "" {
		in.owner = replicaName()
	}
	return in, nil
}

// replicaName is a lease owner unique to this process: the host name and a
// random suffix.
func replicaName() string {
	host, _ := os.Hostname()
	host = strings.Map(func(r rune) rune {
		if r < 0x21 || r > 0x7e {
			return -1
		}
		return r
	}, host)
	if len(host) > 60 {
		host = host[:60]
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "inbox-" + host + "-" + hex.EncodeToString(b[:])
}

// Run polls every inbox each Interval until ctx ends, then releases the leases
// it holds so another replica takes over at once; it returns nil when ctx ends.
func (in *Inbox) Run(ctx context.Context) error {
	for {
		if _, err := in.PassOnce(ctx); err != nil && ctx.Err() == nil {
			in.log.WarnContext(ctx, "sftp inbox pass", "error", err)
		}
		wait := in.cfg.Interval + mrand.N(in.cfg.Interval/10+1)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			in.releaseAll(ctx)
			return nil
		case <-t.C:
		}
	}
}

// releaseAll ends this replica's leases, with a few seconds of its own after
// ctx ended.
func (in *Inbox) releaseAll(ctx context.Context) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	in.mu.Lock()
	var held []*inboxAccount
	for _, a := range in.accounts {
		if a.held != "" {
			held = append(held, a)
		}
	}
	in.mu.Unlock()
	for _, a := range held {
		if err := in.cfg.Store.ReleaseSFTPInboxLease(rctx, a.id, a.held, in.owner); err != nil {
			in.log.WarnContext(rctx, "releasing an sftp inbox lease", "account", a.id, "error", err)
		}
		in.mu.Lock()
		a.held = ""
		in.mu.Unlock()
	}
}

// InboxPass counts what one PassOnce did.
type InboxPass struct {
	// Accounts is how many accounts have an inbox (sftp_inbox set).
	Accounts int
	// Invalid is how many of them have settings that cannot be used.
	Invalid int
	// Polled is how many inboxes this replica polled.
	Polled int
	// LeaseHeld is how many inboxes another replica was polling.
	LeaseHeld int
	// Errors is how many polls could not run or stopped early (the server was
	// unreachable, the credentials were refused, the store failed).
	Errors int
	// Processed is how many files were handed to receive_push and archived.
	Processed int
	// Duplicates is how many files were found already processed (the same name,
	// size and modification time) and archived without a call.
	Duplicates int
	// Finished is how many files claimed and processed before a stop were
	// archived now.
	Finished int
	// Failed is how many files failed and were left to be offered again.
	Failed int
	// Rejected is how many files were moved to the failed directory.
	Rejected int
	// Waiting is how many files were seen but not yet stable.
	Waiting int
}

func (p *InboxPass) add(o InboxPass) {
	p.Polled += o.Polled
	p.LeaseHeld += o.LeaseHeld
	p.Errors += o.Errors
	p.Processed += o.Processed
	p.Duplicates += o.Duplicates
	p.Finished += o.Finished
	p.Failed += o.Failed
	p.Rejected += o.Rejected
	p.Waiting += o.Waiting
}

// PassOnce polls every inbox once: it lists the accounts with an inbox, and
// for each one whose settings are usable and whose lease it gets, connects and
// runs one sftp.Poller pass. It returns an error only when the accounts could
// not be listed; each inbox's problems are logged (once per change) and shown
// by Status. Passes do not overlap: a call waits for one in progress.
func (in *Inbox) PassOnce(ctx context.Context) (InboxPass, error) {
	in.pass.Lock()
	defer in.pass.Unlock()
	var total InboxPass
	list, err := in.listAccounts(ctx)
	if err != nil {
		return total, err
	}
	var todo []*inboxAccount
	seen := map[string]bool{}
	for _, acc := range list {
		s, ok, perr := parseInboxSettings(acc)
		if !ok {
			continue
		}
		total.Accounts++
		seen[acc.ID] = true
		a := in.account(acc)
		if perr != nil {
			total.Invalid++
			in.mu.Lock()
			a.settings, a.poller = nil, nil
			in.mu.Unlock()
			in.report(ctx, a, "settings", perr)
			continue
		}
		in.mu.Lock()
		if a.settings == nil || a.settings.fingerprint != s.fingerprint {
			a.settings, a.poller = s, nil
			a.status.Inbox = s.inbox
		}
		in.mu.Unlock()
		todo = append(todo, a)
	}
	in.forgetGone(ctx, seen)

	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, in.cfg.Parallel)
	for _, a := range todo {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return total, ctx.Err()
		}
		wg.Go(func() {
			defer func() { <-sem }()
			p := in.poll(ctx, a)
			mu.Lock()
			total.add(p)
			mu.Unlock()
		})
	}
	wg.Wait()
	in.purge(ctx)
	return total, nil
}

// listAccounts lists every tenant's accounts. A tenant whose accounts cannot be
// read (a credential that no longer opens) is logged and skipped, so it does
// not stop the others.
func (in *Inbox) listAccounts(ctx context.Context) ([]store.Account, error) {
	tenants, err := in.cfg.Store.ListTenants(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing tenants: %w", err)
	}
	var out []store.Account
	for _, t := range tenants {
		list, err := in.cfg.Store.ListAccounts(ctx, t.ID, "")
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			in.log.WarnContext(ctx, "sftp inbox: listing a tenant's accounts", "tenant", t.ID, "error", err)
			continue
		}
		out = append(out, list...)
	}
	return out, nil
}

// account returns the state of an account, made on first sight.
func (in *Inbox) account(acc store.Account) *inboxAccount {
	in.mu.Lock()
	defer in.mu.Unlock()
	a, ok := in.accounts[acc.ID]
	if !ok {
		a = &inboxAccount{tenant: acc.TenantID, connector: acc.ConnectorID, id: acc.ID}
		a.status = InboxAccountStatus{TenantID: acc.TenantID, ConnectorID: acc.ConnectorID, AccountID: acc.ID}
		in.accounts[acc.ID] = a
	}
	return a
}

// forgetGone drops the state of accounts deleted or no longer with an inbox,
// releasing their leases.
func (in *Inbox) forgetGone(ctx context.Context, seen map[string]bool) {
	in.mu.Lock()
	var gone []*inboxAccount
	for id, a := range in.accounts {
		if !seen[id] {
			gone = append(gone, a)
			delete(in.accounts, id)
		}
	}
	in.mu.Unlock()
	for _, a := range gone {
		if a.held != "" {
			// The account may be deleted, with its lease: not an error.
			_ = in.cfg.Store.ReleaseSFTPInboxLease(ctx, a.id, a.held, in.owner)
		}
		in.log.InfoContext(ctx, "sftp inbox removed", "tenant", a.tenant, "connector", a.connector, "account", a.id)
	}
}

// report records an account's problem (nil when it works), logging it only
// when it differs from the last one, so a broken inbox does not log every pass.
func (in *Inbox) report(ctx context.Context, a *inboxAccount, what string, err error) {
	msg := ""
	if err != nil {
		msg = what + ": " + err.Error()
	}
	in.mu.Lock()
	prev := a.problem
	a.problem = msg
	a.status.Problem = msg
	in.mu.Unlock()
	switch {
	case msg == prev:
	case msg == "":
		in.log.InfoContext(ctx, "sftp inbox working", "tenant", a.tenant, "connector", a.connector, "account", a.id)
	default:
		attrs := []any{"tenant", a.tenant, "connector", a.connector, "account", a.id, "problem", what, "error", err.Error()}
		if se := (*sdk.Error)(nil); errors.As(err, &se) {
			attrs = append(attrs, "code", se.Code)
		}
		in.log.WarnContext(ctx, "sftp inbox not working", attrs...)
	}
}

// poll runs one pass over one account's inbox, under its lease.
func (in *Inbox) poll(ctx context.Context, a *inboxAccount) (p InboxPass) {
	in.counts.polls.Add(1)
	defer func() { in.counts.pollErrors.Add(int64(p.Errors)) }()
	in.mu.Lock()
	s := a.settings
	in.mu.Unlock()
	key := s.leaseKey()
	ok, err := in.cfg.Store.AcquireSFTPInboxLease(ctx, a.id, key, in.owner, in.now(), in.cfg.Lease)
	if err != nil {
		if ctx.Err() == nil {
			p.Errors++
			in.report(ctx, a, "lease", err)
		}
		return p
	}
	in.mu.Lock()
	if !ok {
		a.held = ""
		a.status.Polling = false
		in.mu.Unlock()
		p.LeaseHeld++
		in.counts.leaseHeld.Add(1)
		return p
	}
	a.held = key
	a.status.Polling = true
	in.mu.Unlock()

	// The pass stops when ctx ends, when the lease is lost, or when processing
	// finds a problem of the account rather than of a file.
	pctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		in.renew(pctx, a, key, stop)
	}()
	defer func() { stop(nil); <-renewed }()

	client, err := sftp.Dial(pctx, s.clientConfig(&in.cfg))
	if err != nil {
		if ctx.Err() == nil {
			p.Errors++
			in.report(ctx, a, "connecting", stopCause(pctx, err))
		}
		return p
	}
	defer client.Close()

	in.mu.Lock()
	if a.poller == nil {
		a.poller = &sftp.Poller{Dir: ".", Pattern: s.pattern, ProcessingDir: s.processing, ArchiveDir: s.archive,
			FailedDir: s.failed, MaxFileSize: in.cfg.MaxFileSize, SettleDelay: in.cfg.SettleDelay,
			Journal: &storeJournal{st: in.cfg.Store, account: a.id}}
	}
	poller := a.poller
	in.mu.Unlock()
	var dup atomic.Int64
	poller.Client = client
	poller.Process = in.processFunc(a, stop, &dup)
	rep, err := poller.Poll(pctx)
	poller.Client, poller.Process = nil, nil
	p.Polled++
	p.Duplicates = int(dup.Load())
	p.Processed = len(rep.Processed) - p.Duplicates
	p.Finished = len(rep.Finished)
	p.Waiting = len(rep.Waiting)
	for _, fe := range rep.Failed {
		if fe.Moved {
			p.Rejected++
		} else {
			p.Failed++
		}
	}
	in.count(p)
	in.logReport(ctx, a, rep, p)
	if err != nil && ctx.Err() == nil {
		p.Errors++
		in.report(ctx, a, "polling", stopCause(pctx, err))
	} else if err == nil {
		in.report(ctx, a, "", nil)
	}
	in.mu.Lock()
	a.status.LastPass = in.now()
	a.status.Processed += int64(p.Processed)
	a.status.Rejected += int64(p.Rejected)
	in.mu.Unlock()
	return p
}

// stopCause returns why a pass stopped: the cause given to its cancel (a lost
// lease, an account problem) rather than the cancellation it caused, else err.
func stopCause(pctx context.Context, err error) error {
	if c := context.Cause(pctx); c != nil && !errors.Is(c, context.Canceled) {
		return c
	}
	return err
}

// errLeaseLost stops a pass whose lease another replica took.
var errLeaseLost = errors.New("the inbox's lease was lost to another replica; it polls the inbox now")

// renew renews the lease every Lease/3 until pctx ends, and stops the pass when
// the lease is lost or cannot be renewed before it would run out.
func (in *Inbox) renew(pctx context.Context, a *inboxAccount, key string, stop context.CancelCauseFunc) {
	every := in.cfg.Lease / 3
	t := time.NewTicker(every)
	defer t.Stop()
	last := in.now()
	for {
		select {
		case <-pctx.Done():
			return
		case <-t.C:
		}
		ok, err := in.cfg.Store.AcquireSFTPInboxLease(pctx, a.id, key, in.owner, in.now(), in.cfg.Lease)
		switch {
		case err == nil && ok:
			last = in.now()
		case err == nil:
			in.mu.Lock()
			a.held = ""
			in.mu.Unlock()
			stop(errLeaseLost)
			return
		case in.now().Sub(last) >= in.cfg.Lease-every:
			stop(fmt.Errorf("renewing the inbox's lease: %w", err))
			return
		}
	}
}

// processFunc hands one file to the connector's receive_push. A file whose
// key is already recorded is not handed again. A failure of the account or
// the hub rather than the file (the connector, its receive_push or the
// account is gone, the store failed) stops the account's pass and leaves the
// file claimed, to be offered again; the connector's own refusals are returned
// as they are, so the Poller moves a non-retryable one to the failed directory.
func (in *Inbox) processFunc(a *inboxAccount, stop context.CancelCauseFunc, dup *atomic.Int64) sftp.ProcessFunc {
	return func(ctx context.Context, f sftp.File) error {
		fileKey := journalKey("file/", f.Key)
		done, err := in.cfg.Store.SFTPFileDone(ctx, a.id, fileKey)
		if err != nil {
			return stopAccount(stop, &sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceHub,
				Message: fmt.Sprintf("reading the inbox journal: %v", err)})
		}
		if done {
			dup.Add(1)
			in.log.InfoContext(ctx, "sftp inbox file already processed; archived without a call", "tenant", a.tenant,
				"connector", a.connector, "account", a.id, "file", f.Name)
			return nil
		}
		body, err := json.Marshal(model.PushRequest{ContentType: ContentTypeOf(f.Name),
			Headers: map[string]string{HeaderFileName: f.Name}, Body: f.Data})
		if err != nil {
			return &sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceHub, Message: fmt.Sprintf("encoding receive_push request: %v", err)}
		}
		_, err = in.cfg.Router.Invoke(ctx, router.Route{TenantID: a.tenant, ConnectorID: a.connector,
			Operation: sdk.OpReceivePush, AccountID: a.id, RequestID: fileRequestID(), MustRecord: true}, body)
		if err != nil {
			se := sdk.AsError(err)
			if se.Source == sdk.SourceHub && !se.Code.Retryable() {
				return stopAccount(stop, se)
			}
			return se
		}
		if err := in.cfg.Store.MarkSFTPFileDone(ctx, a.id, fileKey); err != nil {
			// The results are recorded; offering the file again repeats them,
			// which ApplyTracking makes harmless.
			return stopAccount(stop, &sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceHub,
				Message: fmt.Sprintf("recording the processed file: %v", err)})
		}
		return nil
	}
}

// stopAccount stops the account's pass because of se, leaving the file that
// met it claimed (the Poller moves nothing once the pass's context has ended).
func stopAccount(stop context.CancelCauseFunc, se *sdk.Error) error {
	stop(se)
	return se
}

// logReport logs a pass's files: one line per refused or failed file, and a
// summary when anything happened.
func (in *Inbox) logReport(ctx context.Context, a *inboxAccount, rep sftp.Report, p InboxPass) {
	for _, fe := range rep.Failed {
		attrs := []any{"tenant", a.tenant, "connector", a.connector, "account", a.id, "file", fe.Name,
			"moved_to_failed", fe.Moved}
		if fe.Err != nil {
			attrs = append(attrs, "code", fe.Err.Code, "source", fe.Err.Source, "error", fe.Err.Message)
		}
		in.log.WarnContext(ctx, "sftp inbox file not processed", attrs...)
	}
	if p.Processed+p.Duplicates+p.Finished+p.Failed+p.Rejected > 0 {
		in.log.InfoContext(ctx, "sftp inbox pass", "tenant", a.tenant, "connector", a.connector, "account", a.id,
			"processed", p.Processed, "duplicates", p.Duplicates, "finished", p.Finished, "failed", p.Failed,
			"rejected", p.Rejected, "waiting", p.Waiting)
	}
}

func (in *Inbox) count(p InboxPass) {
	in.counts.processed.Add(int64(p.Processed))
	in.counts.duplicates.Add(int64(p.Duplicates))
	in.counts.finished.Add(int64(p.Finished))
	in.counts.failed.Add(int64(p.Failed))
	in.counts.rejected.Add(int64(p.Rejected))
}

// purge forgets processed files older than Retention, at most once an hour.
func (in *Inbox) purge(ctx context.Context) {
	now := in.now()
	if now.Sub(in.lastPurge) < time.Hour {
		return
	}
	in.lastPurge = now
	n, err := in.cfg.Store.PurgeSFTPFiles(ctx, now.Add(-in.cfg.Retention))
	switch {
	case err != nil && ctx.Err() == nil:
		in.log.WarnContext(ctx, "purging the sftp inbox journal", "error", err)
	case n > 0:
		in.log.InfoContext(ctx, "purged the sftp inbox journal", "records", n)
	}
}

// InboxAccountStatus is one account's inbox as this replica sees it.
type InboxAccountStatus struct {
	// TenantID, ConnectorID and AccountID name the account.
	TenantID    string `json:"tenant_id"`
	ConnectorID string `json:"connector"`
	AccountID   string `json:"account"`
	// Inbox is the inbox directory, when the settings are usable.
	Inbox string `json:"inbox,omitempty"`
	// Polling is true while this replica holds the inbox's lease.
	Polling bool `json:"polling"`
	// Problem is why the inbox is not working ("" when it is): its settings,
	// the connection, the lease or the last pass.
	Problem string `json:"problem,omitempty"`
	// LastPass is when this replica last polled the inbox.
	LastPass time.Time `json:"last_pass,omitzero"`
	// Processed and Rejected count files since this replica started.
	Processed int64 `json:"processed"`
	Rejected  int64 `json:"rejected"`
}

// Status returns every inbox's status, by account id.
func (in *Inbox) Status() []InboxAccountStatus {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]InboxAccountStatus, 0, len(in.accounts))
	for _, a := range in.accounts {
		out = append(out, a.status)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].AccountID < out[j].AccountID })
	return out
}

// InboxTotals counts what the inbox did since it started.
type InboxTotals struct {
	// Files by outcome: processed, duplicate, finished, failed (left to be
	// offered again) and rejected (moved to the failed directory).
	Processed, Duplicates, Finished, Failed, Rejected int64
	// Polls is how many times an inbox was due; PollErrors how many of those
	// polls failed, and LeaseHeld how many were left to another replica that
	// held the inbox's lease.
	Polls, PollErrors, LeaseHeld int64
	// Inboxes is how many accounts have an inbox, and Broken how many of them
	// have a problem now.
	Inboxes, Broken int
}

// Totals returns the counters, for metrics.
func (in *Inbox) Totals() InboxTotals {
	t := InboxTotals{Processed: in.counts.processed.Load(), Duplicates: in.counts.duplicates.Load(),
		Finished: in.counts.finished.Load(), Failed: in.counts.failed.Load(), Rejected: in.counts.rejected.Load(),
		Polls: in.counts.polls.Load(), PollErrors: in.counts.pollErrors.Load(), LeaseHeld: in.counts.leaseHeld.Load()}
	in.mu.Lock()
	defer in.mu.Unlock()
	t.Inboxes = len(in.accounts)
	for _, a := range in.accounts {
		if a.problem != "" {
			t.Broken++
		}
	}
	return t
}

// ContentTypeOf returns the receive_push content type of a status file from
// its extension: EDI X12 (.edi, .x12, .214), CSV (.csv), or
// application/octet-stream.
func ContentTypeOf(name string) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".edi", ".x12", ".214":
		return "application/edi-x12"
	case ".csv":
		return "text/csv"
	}
	return "application/octet-stream"
}

// storeJournal is the sftp.Journal of one account's inbox, kept in the store
// so that it survives restarts and is shared by every replica.
type storeJournal struct {
	st      store.SFTPInboxStore
	account string
}

var _ sftp.Journal = (*storeJournal)(nil)

// Done reports whether a claim is recorded as processed.
func (j *storeJournal) Done(ctx context.Context, key string) (bool, error) {
	return j.st.SFTPFileDone(ctx, j.account, journalKey("claim/", key))
}

// MarkDone records a claim as processed; the store's commit makes it durable.
func (j *storeJournal) MarkDone(ctx context.Context, key string) error {
	return j.st.MarkSFTPFileDone(ctx, j.account, journalKey("claim/", key))
}

// Forget removes a claim once its file is archived.
func (j *storeJournal) Forget(ctx context.Context, key string) error {
	return j.st.ForgetSFTPFile(ctx, j.account, journalKey("claim/", key))
}

// journalKey makes a store key of kind from a key of any bytes: the key itself
// when the store can hold it (printable UTF-8, short enough), else its SHA-256.
func journalKey(kind, key string) string {
	if utf8.ValidString(key) && !strings.ContainsFunc(key, isControlOrC1) && len(kind)+len(key) <= store.MaxSFTPKeyLen {
		return kind + key
	}
	sum := sha256.Sum256([]byte(key))
	return kind + "sha256:" + hex.EncodeToString(sum[:])
}

func isControlOrC1(r rune) bool { return r < 0x20 || (r >= 0x7f && r < 0xa0) }

// fileRequestID names a file's receive_push call in logs and traces.
func fileRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "sftp_" + hex.EncodeToString(b[:])
}
