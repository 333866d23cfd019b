package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Limits on webhook rows.
const (
	// MaxWebhookURLLen is the longest endpoint URL, in bytes.
	MaxWebhookURLLen = 2048
	// MaxWebhookDescriptionLen is the longest endpoint description, in bytes.
	MaxWebhookDescriptionLen = 1000
	// MaxWebhookEventTypes is the most event type patterns an endpoint may list.
	MaxWebhookEventTypes = 64
	// MaxWebhookFilters is the most data filter entries an endpoint may hold.
	MaxWebhookFilters = 32
	// MaxWebhookRateLimit is the highest per-endpoint rate limit, deliveries per second.
	MaxWebhookRateLimit = 100000
	// MaxWebhookAttemptResponse is how much of a receiver's answer the attempt log keeps.
	MaxWebhookAttemptResponse = 4 << 10
	// maxWebhookErrorLen bounds a stored delivery error.
	maxWebhookErrorLen = 1000
	// maxWebhookBatch bounds one claim or bulk write.
	maxWebhookBatch = 1000
)

// endpointPrefix is the kind prefix of webhook endpoint ids.
const endpointPrefix = "whe_"

// WebhookSecretPrefix starts every Standard Webhooks secret: "whsec_" and the
// base64 of the HMAC key.
const WebhookSecretPrefix = "whsec_"

// WebhookEndpoint is a tenant's webhook subscription: where to POST which events.
type WebhookEndpoint struct {
	// ID is "whe_" and 26 base32 characters.
	ID string `json:"id"`
	// TenantID owns the endpoint.
	TenantID string `json:"tenant_id"`
	// URL receives the deliveries: http or https, a host, no user info.
	URL string `json:"url"`
	// Description is free text for people.
	Description string `json:"description,omitempty"`
	// EventTypes are the types delivered: exact ("shipment.created"), a family
	// ("shipment.*") or "*". Empty means every type.
	EventTypes []string `json:"event_types"`
	// Filter narrows deliveries to events whose JSON has these values: each key is a
	// JSON pointer into the event ("/data/status") or a top-level field name
	// ("connector"); every entry must equal.
	Filter map[string]json.RawMessage `json:"filter,omitempty"`
	// Enabled endpoints receive fan-out and have their deliveries sent.
	Enabled bool `json:"enabled"`
	// DisabledReason says why a disabled endpoint is off.
	DisabledReason string `json:"disabled_reason,omitempty"`
	// Ordered endpoints get each subject's events one at a time, in outbox order.
	Ordered bool `json:"ordered"`
	// RateLimit is the most deliveries per second; 0 is unlimited.
	RateLimit int `json:"rate_limit"`
	// Secret is the current whsec_ signing secret; sealed at rest, never listed.
	Secret string `json:"-"`
	// PreviousSecret also signs until PreviousExpiresAt (rotation overlap).
	PreviousSecret string `json:"-"`
	// PreviousExpiresAt ends the rotation overlap; nil when there is no previous secret.
	PreviousExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty"`
	// FailingSince is when the current run of failed attempts began; nil while healthy.
	FailingSince *time.Time `json:"failing_since,omitempty"`
	// CreatedAt and UpdatedAt are set by the store.
	CreatedAt time.Time `json:"created_at"`
	// UpdatedAt is the last change.
	UpdatedAt time.Time `json:"updated_at"`
}

// Secrets returns the secrets that sign a delivery at now: the current one and,
// during a rotation overlap, the previous one.
func (e WebhookEndpoint) Secrets(now time.Time) []string {
	out := []string{e.Secret}
	if e.PreviousSecret != "" && e.PreviousExpiresAt != nil && now.Before(*e.PreviousExpiresAt) {
		out = append(out, e.PreviousSecret)
	}
	return out
}

// DeliveryState is where a webhook delivery is.
type DeliveryState string

// Delivery states.
const (
	// DeliveryPending: not yet delivered; due at NextAttemptAt.
	DeliveryPending DeliveryState = "pending"
	// DeliverySucceeded: a 2xx answer was received.
	DeliverySucceeded DeliveryState = "succeeded"
	// DeliveryDead: every attempt of the schedule failed; replay re-queues it.
	DeliveryDead DeliveryState = "dead"
)

// WebhookDelivery is one event for one endpoint.
type WebhookDelivery struct {
	// EventID and EndpointID identify the delivery.
	EventID string `json:"event_id"`
	// EndpointID is the receiving endpoint.
	EndpointID string `json:"endpoint_id"`
	// TenantID owns the endpoint and event.
	TenantID string `json:"tenant_id"`
	// EventType is the event's type.
	EventType string `json:"event_type"`
	// Subject orders ordered endpoints' deliveries.
	Subject string `json:"subject"`
	// Seq is the event's outbox position.
	Seq int64 `json:"seq"`
	// Ordered deliveries of one endpoint and subject go out one at a time, in Seq
	// order. Fan-out copies it from the endpoint, so turning an endpoint's Ordered
	// on or off applies to events fanned out from then on.
	Ordered bool `json:"ordered"`
	// EventTime is when the event happened; replay windows select by it.
	EventTime time.Time `json:"event_time"`
	// Body is the exact bytes POSTed and signed.
	Body []byte `json:"-"`
	// State is pending, succeeded or dead.
	State DeliveryState `json:"state"`
	// Attempts counts attempts of the current schedule (replay restarts it).
	Attempts int `json:"attempts"`
	// NextAttemptAt is when a pending delivery is due.
	NextAttemptAt time.Time `json:"next_attempt_at"`
	// LeaseOwner is the token of the claim holding the delivery, "" when none.
	LeaseOwner string `json:"-"`
	// LeaseUntil is when that claim's lease ends.
	LeaseUntil time.Time `json:"-"`
	// LastStatus is the last attempt's HTTP status, 0 when it got none.
	LastStatus int `json:"last_status,omitempty"`
	// LastError is the last attempt's failure.
	LastError string `json:"last_error,omitempty"`
	// TraceParent and TraceState are the event's W3C trace context (see
	// events.Event), copied at fan-out: every attempt's span and traceparent
	// header continue the trace of the call that caused the event.
	TraceParent string `json:"-"`
	// TraceState is the W3C tracestate that came with TraceParent.
	TraceState string `json:"-"`
}

// WebhookAttempt is one entry of the attempt log.
type WebhookAttempt struct {
	// EventID and EndpointID name the delivery.
	EventID string `json:"event_id"`
	// EndpointID is the receiving endpoint.
	EndpointID string `json:"endpoint_id"`
	// TenantID owns the delivery.
	TenantID string `json:"tenant_id"`
	// Attempt is the attempt's number in its schedule, from 1.
	Attempt int `json:"attempt"`
	// At is when the request was sent.
	At time.Time `json:"at"`
	// Status is the HTTP status, 0 when no answer came.
	Status int `json:"status"`
	// Duration is how long the attempt took.
	Duration time.Duration `json:"duration_ms"`
	// Error says why the attempt failed; "" on success.
	Error string `json:"error,omitempty"`
	// Response is the start of the answer's body, at most MaxWebhookAttemptResponse bytes.
	Response []byte `json:"response,omitempty"`
	// Request is the start of the body sent (the event as signed), at most
	// MaxWebhookAttemptResponse bytes, read from the delivery when the log is
	// listed; absent once the delivery is purged.
	Request []byte `json:"request,omitempty"`
}

// MarshalJSON writes Duration in milliseconds and Response and Request as text.
func (a WebhookAttempt) MarshalJSON() ([]byte, error) {
	type plain WebhookAttempt
	text := func(b []byte) string { return string(bytes.ToValidUTF8(b, []byte("\uFFFD"))) }
	return json.Marshal(struct {
		plain
		Duration int64  `json:"duration_ms"`
		Response string `json:"response,omitempty"`
		Request  string `json:"request,omitempty"`
	}{plain(a), a.Duration.Milliseconds(), text(a.Response), text(a.Request)})
}

// DeliveryOutcome is what a dispatcher reports for a claimed delivery.
type DeliveryOutcome struct {
	// EventID and EndpointID name the delivery.
	EventID string
	// EndpointID is the receiving endpoint.
	EndpointID string
	// LeaseOwner is the claim's token; a delivery claimed again since is left alone.
	LeaseOwner string
	// State is the new state.
	State DeliveryState
	// NextAttemptAt is when a pending delivery is due again.
	NextAttemptAt time.Time
	// Attempt is the attempt made, logged and counted; nil when the delivery was only
	// put back (rate limit, ordering), which does not count as an attempt.
	Attempt *WebhookAttempt
}

// ReplayWindow selects an endpoint's deliveries to re-queue, in (event time, event
// id) order, one page at a time.
type ReplayWindow struct {
	// Since and Until bound the event time: Since <= time < Until; a zero Until is open.
	Since time.Time
	// Until is the exclusive end.
	Until time.Time
	// After is the cursor of the previous page (ReplayResult.Next); "" starts at Since.
	After string
	// Limit is the most deliveries re-queued by this call, 1 to 1000.
	Limit int
}

// ReplayResult reports one page of a replay.
type ReplayResult struct {
	// Queued is how many deliveries this call re-queued.
	Queued int64 `json:"queued"`
	// Remaining is how many more the window holds after this page.
	Remaining int64 `json:"remaining"`
	// Next is the cursor for the next page; "" when nothing remains.
	Next string `json:"next,omitempty"`
}

// WebhookStore keeps webhook endpoints, deliveries and the attempt log. Methods
// taking a tenantID never touch another tenant's rows (ErrNotFound instead); the
// dispatcher's methods (claims, outcomes, endpoint by id) are tenant-blind. Times
// are passed in so callers own the clock.
type WebhookStore interface {
	// CreateWebhookEndpoint stores a new endpoint; e.Secret must be a whsec_ secret.
	// ID, CreatedAt and UpdatedAt are chosen here.
	CreateWebhookEndpoint(ctx context.Context, e WebhookEndpoint) (WebhookEndpoint, error)
	// GetWebhookEndpoint returns a tenant's endpoint with its secrets opened.
	GetWebhookEndpoint(ctx context.Context, tenantID, id string) (WebhookEndpoint, error)
	// WebhookEndpointByID returns any tenant's endpoint, for the dispatcher.
	WebhookEndpointByID(ctx context.Context, id string) (WebhookEndpoint, error)
	// ListWebhookEndpoints returns a tenant's endpoints, oldest first; enabledOnly
	// leaves out disabled ones.
	ListWebhookEndpoints(ctx context.Context, tenantID string, enabledOnly bool) ([]WebhookEndpoint, error)
	// UpdateWebhookEndpoint replaces the settable fields (URL, description, event
	// types, filter, enabled, disabled reason, ordered, rate limit); secrets are kept.
	// Enabling an endpoint clears its failure run.
	UpdateWebhookEndpoint(ctx context.Context, e WebhookEndpoint) (WebhookEndpoint, error)
	// RotateWebhookSecret makes secret current; the old one keeps signing until
	// previousUntil (no overlap when it is not after now).
	RotateWebhookSecret(ctx context.Context, tenantID, id, secret string, previousUntil time.Time) (WebhookEndpoint, error)
	// DeleteWebhookEndpoint removes an endpoint with its deliveries and attempt log.
	DeleteWebhookEndpoint(ctx context.Context, tenantID, id string) error
	// DisableWebhookEndpoint turns an enabled endpoint off with a reason. With
	// failingBefore set it does so only when the endpoint has been failing since at
	// or before then. disabled reports whether this call disabled it.
	DisableWebhookEndpoint(ctx context.Context, id, reason string, failingBefore *time.Time, now time.Time) (e WebhookEndpoint, disabled bool, err error)

	// InsertWebhookDeliveries adds pending deliveries in one transaction; a delivery
	// that exists already (same event and endpoint) is left as it is. It returns how
	// many were new.
	InsertWebhookDeliveries(ctx context.Context, ds []WebhookDelivery, now time.Time) (int64, error)
	// ClaimWebhookDeliveries leases up to limit due deliveries of enabled endpoints
	// until leaseUntil, oldest due first. A delivery of an ordered endpoint is due only
	// when no earlier pending delivery of its subject exists. Each claim gets a fresh
	// token (owner and a random suffix) in LeaseOwner. Concurrent claims never return
	// the same delivery while its lease lives.
	ClaimWebhookDeliveries(ctx context.Context, owner string, limit int, now, leaseUntil time.Time) ([]WebhookDelivery, error)
	// CompleteWebhookDeliveries records outcomes in one transaction: delivery states,
	// the attempt log, and each endpoint's failure run (a success ends it, a failure
	// starts it). An outcome whose lease was lost changes nothing but the log.
	CompleteWebhookDeliveries(ctx context.Context, outs []DeliveryOutcome, now time.Time) error
	// GetWebhookDelivery returns one delivery, of any tenant.
	GetWebhookDelivery(ctx context.Context, eventID, endpointID string) (WebhookDelivery, error)
	// CountWebhookDeliveries counts deliveries in a state, of one endpoint when
	// endpointID is set.
	CountWebhookDeliveries(ctx context.Context, endpointID string, state DeliveryState) (int64, error)
	// ReplayWebhookDeliveries re-queues a page of a tenant endpoint's succeeded and
	// dead deliveries of events in the window: pending, due now, attempts from zero.
	ReplayWebhookDeliveries(ctx context.Context, tenantID, endpointID string, w ReplayWindow, now time.Time) (ReplayResult, error)
	// ListWebhookAttempts returns a tenant's attempt log, newest first, of one
	// endpoint, one event or both (at least one must be set), at most limit entries.
	ListWebhookAttempts(ctx context.Context, tenantID, endpointID, eventID string, limit int) ([]WebhookAttempt, error)
	// PurgeWebhookHistory deletes the attempt log written before the given time and
	// the finished (succeeded or dead) deliveries last changed before it, which
	// bounds the tables and ends those deliveries' replay window. Pending
	// deliveries are never purged. It returns how many rows of each went.
	PurgeWebhookHistory(ctx context.Context, before time.Time) (deliveries, attempts int64, err error)
}

var _ WebhookStore = (*sqlStore)(nil)

var (
	eventTypePattern = regexp.MustCompile(`^(\*|[a-z][a-z0-9_]{0,62}\.(\*|[a-z][a-z0-9_]{0,62}))$`)
	eventIDPattern   = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,128}$`)
)

// CheckWebhookURL reports whether raw can be an endpoint URL: absolute http or https,
// a host, no user info or fragment, at most MaxWebhookURLLen bytes. Whether the host
// may be reached is decided at dial time (engine/webhooks' guard), not here.
func CheckWebhookURL(raw string) error {
	if len(raw) > MaxWebhookURLLen {
		return invalid("url", "is %d bytes, longer than %d", len(raw), MaxWebhookURLLen)
	}
	if err := checkText("url", raw); err != nil {
		return err
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return invalid("url", "is not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return invalid("url", "must be http or https")
	case u.User != nil:
		return invalid("url", "must not carry user info; put credentials in the receiver's own check of the signature")
	case u.Hostname() == "":
		return invalid("url", "must name a host")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return invalid("url", "must not have a fragment")
	}
	if p := u.Port(); p != "" {
		var n int
		if _, err := fmt.Sscanf(p, "%d", &n); err != nil || n < 1 || n > 65535 {
			return invalid("url", "has an invalid port")
		}
	}
	return nil
}

// CheckWebhookSecret reports whether s is a usable Standard Webhooks secret:
// "whsec_" and the standard base64 of 24 to 64 bytes. The error never quotes s.
func CheckWebhookSecret(s string) error {
	if !strings.HasPrefix(s, WebhookSecretPrefix) {
		return invalid("secret", "must start with %s", WebhookSecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(s[len(WebhookSecretPrefix):])
	if err != nil {
		return invalid("secret", "must be %s followed by standard base64", WebhookSecretPrefix)
	}
	if len(key) < 24 || len(key) > 64 {
		return invalid("secret", "must hold 24 to 64 bytes of key, not %d", len(key))
	}
	return nil
}

func checkEndpoint(e WebhookEndpoint) error {
	if err := CheckWebhookURL(e.URL); err != nil {
		return err
	}
	if len(e.Description) > MaxWebhookDescriptionLen {
		return invalid("description", "is %d bytes, longer than %d", len(e.Description), MaxWebhookDescriptionLen)
	}
	if err := checkText("description", e.Description); err != nil {
		return err
	}
	if len(e.DisabledReason) > MaxWebhookDescriptionLen {
		return invalid("disabled_reason", "is longer than %d bytes", MaxWebhookDescriptionLen)
	}
	if err := checkText("disabled_reason", e.DisabledReason); err != nil {
		return err
	}
	if len(e.EventTypes) > MaxWebhookEventTypes {
		return invalid("event_types", "has %d entries, more than %d", len(e.EventTypes), MaxWebhookEventTypes)
	}
	for i, t := range e.EventTypes {
		if !eventTypePattern.MatchString(t) {
			return invalid(fmt.Sprintf("event_types/%d", i), "must be a type (shipment.created), a family (shipment.*) or *")
		}
	}
	if len(e.Filter) > MaxWebhookFilters {
		return invalid("filter", "has %d entries, more than %d", len(e.Filter), MaxWebhookFilters)
	}
	for k, v := range e.Filter {
		if k == "" || len(k) > 256 || checkText("filter", k) != nil {
			return invalid("filter", "keys must be JSON pointers or field names of 1 to 256 printable characters")
		}
		if !json.Valid(v) {
			return invalid("filter/"+k, "must be a JSON value")
		}
	}
	if e.RateLimit < 0 || e.RateLimit > MaxWebhookRateLimit {
		return invalid("rate_limit", "must be 0 (unlimited) to %d per second", MaxWebhookRateLimit)
	}
	return nil
}

// endpointAAD binds a sealed secret to its endpoint and slot.
func endpointAAD(tenantID, id, slot string) []byte {
	return []byte(tenantID + "/" + id + "/" + slot)
}

func (s *sqlStore) sealSecret(tenantID, id, slot, secret string) (string, error) {
	if secret == "" {
		return "", nil
	}
	sealed, err := s.box.Seal([]byte(secret), endpointAAD(tenantID, id, slot))
	if err != nil {
		return "", fmt.Errorf("sealing webhook secret: %w", err)
	}
	return sealed, nil
}

func (s *sqlStore) openSecret(tenantID, id, slot, sealed string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	b, err := s.box.Open(sealed, endpointAAD(tenantID, id, slot))
	if err != nil {
		return "", fmt.Errorf("webhook endpoint %s %s secret: %w", id, slot, err)
	}
	return string(b), nil
}

func encodeEndpointJSON(e WebhookEndpoint) (types, filter string, err error) {
	ts := e.EventTypes
	if ts == nil {
		ts = []string{}
	}
	f := e.Filter
	if f == nil {
		f = map[string]json.RawMessage{}
	}
	tb, err := json.Marshal(ts)
	if err != nil {
		return "", "", fmt.Errorf("encoding event types: %w", err)
	}
	fb, err := json.Marshal(f)
	if err != nil {
		return "", "", fmt.Errorf("encoding filter: %w", err)
	}
	return string(tb), string(fb), nil
}

// CreateWebhookEndpoint stores a new endpoint; see WebhookStore.
func (s *sqlStore) CreateWebhookEndpoint(ctx context.Context, e WebhookEndpoint) (WebhookEndpoint, error) {
	if !validID(tenantPrefix, e.TenantID) {
		return WebhookEndpoint{}, notFound("tenant", e.TenantID)
	}
	if err := checkEndpoint(e); err != nil {
		return WebhookEndpoint{}, err
	}
	if err := CheckWebhookSecret(e.Secret); err != nil {
		return WebhookEndpoint{}, err
	}
	e.ID = newID(endpointPrefix)
	var ms int64
	e.CreatedAt, ms = s.stamp()
	e.UpdatedAt = e.CreatedAt
	e.PreviousSecret, e.PreviousExpiresAt, e.FailingSince = "", nil, nil
	if e.Enabled {
		e.DisabledReason = ""
	}
	types, filter, err := encodeEndpointJSON(e)
	if err != nil {
		return WebhookEndpoint{}, err
	}
	sealed, err := s.sealSecret(e.TenantID, e.ID, "current", e.Secret)
	if err != nil {
		return WebhookEndpoint{}, err
	}
	_, err = s.db.exec(ctx, `INSERT INTO webhook_endpoints (id, tenant_id, url, description, event_types,
		filter, enabled, disabled_reason, ordered, rate_limit, secret, previous_secret, previous_expires_at,
		failing_since, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, '', NULL, NULL, $12, $12)`,
		e.ID, e.TenantID, e.URL, e.Description, types, filter, e.Enabled, e.DisabledReason, e.Ordered,
		int64(e.RateLimit), sealed, ms)
	if err != nil {
		if s.db.kind(err) == kindForeignKey {
			return WebhookEndpoint{}, notFound("tenant", e.TenantID)
		}
		return WebhookEndpoint{}, s.dbErr("creating webhook endpoint", err)
	}
	if e.EventTypes == nil {
		e.EventTypes = []string{}
	}
	return e, nil
}

const endpointColumns = `id, tenant_id, url, description, event_types, filter, enabled, disabled_reason,
	ordered, rate_limit, secret, previous_secret, previous_expires_at, failing_since, created_at, updated_at`

func (s *sqlStore) scanEndpoint(scan func(...any) error) (WebhookEndpoint, error) {
	var e WebhookEndpoint
	var types, filter, sealed, prevSealed string
	var rate, created, updated int64
	var prevExp, failing nullMillis
	if err := scan(&e.ID, &e.TenantID, &e.URL, &e.Description, &types, &filter, &e.Enabled, &e.DisabledReason,
		&e.Ordered, &rate, &sealed, &prevSealed, &prevExp, &failing, &created, &updated); err != nil {
		return WebhookEndpoint{}, err
	}
	e.RateLimit = int(rate)
	e.CreatedAt, e.UpdatedAt = fromMillis(created), fromMillis(updated)
	if prevExp.Valid {
		t := fromMillis(prevExp.Int64)
		e.PreviousExpiresAt = &t
	}
	if failing.Valid {
		t := fromMillis(failing.Int64)
		e.FailingSince = &t
	}
	if err := json.Unmarshal([]byte(types), &e.EventTypes); err != nil {
		return WebhookEndpoint{}, fmt.Errorf("webhook endpoint %s event types: %w", e.ID, err)
	}
	if err := json.Unmarshal([]byte(filter), &e.Filter); err != nil {
		return WebhookEndpoint{}, fmt.Errorf("webhook endpoint %s filter: %w", e.ID, err)
	}
	if len(e.Filter) == 0 {
		e.Filter = nil
	}
	var err error
	if e.Secret, err = s.openSecret(e.TenantID, e.ID, "current", sealed); err != nil {
		return WebhookEndpoint{}, errScanned{err}
	}
	if e.PreviousSecret, err = s.openSecret(e.TenantID, e.ID, "previous", prevSealed); err != nil {
		return WebhookEndpoint{}, errScanned{err}
	}
	return e, nil
}

// errScanned marks an error found after the row was read (not a database error).
type errScanned struct{ error }

func (e errScanned) Unwrap() error { return e.error }

func (s *sqlStore) getEndpoint(ctx context.Context, where string, args ...any) (WebhookEndpoint, error) {
	e, err := s.scanEndpoint(func(dest ...any) error {
		return s.db.queryRow(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE `+where, args, dest...)
	})
	var scanned errScanned
	switch {
	case err == nil:
		return e, nil
	case errors.Is(err, errNoRows):
		return WebhookEndpoint{}, notFound("webhook endpoint", fmt.Sprint(args[len(args)-1]))
	case errors.As(err, &scanned):
		return WebhookEndpoint{}, scanned.error
	}
	return WebhookEndpoint{}, s.dbErr("getting webhook endpoint", err)
}

// GetWebhookEndpoint returns a tenant's endpoint; see WebhookStore.
func (s *sqlStore) GetWebhookEndpoint(ctx context.Context, tenantID, id string) (WebhookEndpoint, error) {
	if !validID(tenantPrefix, tenantID) || !validID(endpointPrefix, id) {
		return WebhookEndpoint{}, notFound("webhook endpoint", id)
	}
	return s.getEndpoint(ctx, `tenant_id = $1 AND id = $2`, tenantID, id)
}

// WebhookEndpointByID returns an endpoint of any tenant; see WebhookStore.
func (s *sqlStore) WebhookEndpointByID(ctx context.Context, id string) (WebhookEndpoint, error) {
	if !validID(endpointPrefix, id) {
		return WebhookEndpoint{}, notFound("webhook endpoint", id)
	}
	return s.getEndpoint(ctx, `id = $1`, id)
}

// ListWebhookEndpoints returns a tenant's endpoints; see WebhookStore.
func (s *sqlStore) ListWebhookEndpoints(ctx context.Context, tenantID string, enabledOnly bool) ([]WebhookEndpoint, error) {
	out := []WebhookEndpoint{}
	if !validID(tenantPrefix, tenantID) {
		return out, nil
	}
	q := `SELECT ` + endpointColumns + ` FROM webhook_endpoints WHERE tenant_id = $1`
	if enabledOnly {
		q += ` AND enabled`
	}
	q += ` ORDER BY created_at, id`
	var openErr error
	err := s.db.query(ctx, q, []any{tenantID}, func(scan func(...any) error) error {
		e, err := s.scanEndpoint(scan)
		var scanned errScanned
		if errors.As(err, &scanned) {
			openErr = scanned.error
			return err
		}
		if err != nil {
			return err
		}
		out = append(out, e)
		return nil
	})
	if openErr != nil {
		return nil, openErr
	}
	if err != nil {
		return nil, s.dbErr("listing webhook endpoints", err)
	}
	return out, nil
}

// UpdateWebhookEndpoint replaces an endpoint's settable fields; see WebhookStore.
func (s *sqlStore) UpdateWebhookEndpoint(ctx context.Context, e WebhookEndpoint) (WebhookEndpoint, error) {
	if !validID(tenantPrefix, e.TenantID) || !validID(endpointPrefix, e.ID) {
		return WebhookEndpoint{}, notFound("webhook endpoint", e.ID)
	}
	if err := checkEndpoint(e); err != nil {
		return WebhookEndpoint{}, err
	}
	if e.Enabled {
		e.DisabledReason = ""
	}
	types, filter, err := encodeEndpointJSON(e)
	if err != nil {
		return WebhookEndpoint{}, err
	}
	_, ms := s.stamp()
	n, err := s.db.exec(ctx, `UPDATE webhook_endpoints SET url = $1, description = $2, event_types = $3,
		filter = $4, enabled = $5, disabled_reason = $6, ordered = $7, rate_limit = $8, updated_at = $9,
		failing_since = CASE WHEN $5 THEN NULL ELSE failing_since END
		WHERE tenant_id = $10 AND id = $11`,
		e.URL, e.Description, types, filter, e.Enabled, e.DisabledReason, e.Ordered, int64(e.RateLimit), ms,
		e.TenantID, e.ID)
	if err != nil {
		return WebhookEndpoint{}, s.dbErr("updating webhook endpoint", err)
	}
	if n == 0 {
		return WebhookEndpoint{}, notFound("webhook endpoint", e.ID)
	}
	return s.GetWebhookEndpoint(ctx, e.TenantID, e.ID)
}

// RotateWebhookSecret installs a new current secret; see WebhookStore.
func (s *sqlStore) RotateWebhookSecret(ctx context.Context, tenantID, id, secret string, previousUntil time.Time) (WebhookEndpoint, error) {
	if !validID(tenantPrefix, tenantID) || !validID(endpointPrefix, id) {
		return WebhookEndpoint{}, notFound("webhook endpoint", id)
	}
	if err := CheckWebhookSecret(secret); err != nil {
		return WebhookEndpoint{}, err
	}
	old, err := s.GetWebhookEndpoint(ctx, tenantID, id)
	if err != nil {
		return WebhookEndpoint{}, err
	}
	now, ms := s.stamp()
	sealed, err := s.sealSecret(tenantID, id, "current", secret)
	if err != nil {
		return WebhookEndpoint{}, err
	}
	prev, prevUntil := "", any(nil)
	if previousUntil.After(now) {
		if prev, err = s.sealSecret(tenantID, id, "previous", old.Secret); err != nil {
			return WebhookEndpoint{}, err
		}
		prevUntil = millis(previousUntil)
	}
	// The old sealed value must still be current: two rotations racing do not both win.
	oldSealed, err := s.sealedCurrent(ctx, id)
	if err != nil {
		return WebhookEndpoint{}, err
	}
	n, err := s.db.exec(ctx, `UPDATE webhook_endpoints SET secret = $1, previous_secret = $2,
		previous_expires_at = $3, updated_at = $4 WHERE tenant_id = $5 AND id = $6 AND secret = $7`,
		sealed, prev, prevUntil, ms, tenantID, id, oldSealed)
	if err != nil {
		return WebhookEndpoint{}, s.dbErr("rotating webhook secret", err)
	}
	if n == 0 {
		return WebhookEndpoint{}, fmt.Errorf("webhook endpoint %s: rotated concurrently: %w", id, ErrConflict)
	}
	return s.GetWebhookEndpoint(ctx, tenantID, id)
}

func (s *sqlStore) sealedCurrent(ctx context.Context, id string) (string, error) {
	var v string
	err := s.db.queryRow(ctx, `SELECT secret FROM webhook_endpoints WHERE id = $1`, []any{id}, &v)
	if errors.Is(err, errNoRows) {
		return "", notFound("webhook endpoint", id)
	}
	if err != nil {
		return "", s.dbErr("reading webhook secret", err)
	}
	return v, nil
}

// DeleteWebhookEndpoint removes an endpoint; see WebhookStore.
func (s *sqlStore) DeleteWebhookEndpoint(ctx context.Context, tenantID, id string) error {
	if !validID(tenantPrefix, tenantID) || !validID(endpointPrefix, id) {
		return notFound("webhook endpoint", id)
	}
	n, err := s.db.exec(ctx, `DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	if err != nil {
		return s.dbErr("deleting webhook endpoint", err)
	}
	if n == 0 {
		return notFound("webhook endpoint", id)
	}
	return nil
}

// DisableWebhookEndpoint turns an endpoint off; see WebhookStore.
func (s *sqlStore) DisableWebhookEndpoint(ctx context.Context, id, reason string, failingBefore *time.Time, now time.Time) (WebhookEndpoint, bool, error) {
	if !validID(endpointPrefix, id) {
		return WebhookEndpoint{}, false, notFound("webhook endpoint", id)
	}
	reason = truncate(reason, MaxWebhookDescriptionLen)
	if err := checkText("reason", reason); err != nil {
		return WebhookEndpoint{}, false, err
	}
	q := `UPDATE webhook_endpoints SET enabled = FALSE, disabled_reason = $1, updated_at = $2
		WHERE id = $3 AND enabled`
	args := []any{reason, millis(now), id}
	if failingBefore != nil {
		q += ` AND failing_since IS NOT NULL AND failing_since <= $4`
		args = append(args, millis(*failingBefore))
	}
	n, err := s.db.exec(ctx, q, args...)
	if err != nil {
		return WebhookEndpoint{}, false, s.dbErr("disabling webhook endpoint", err)
	}
	e, err := s.WebhookEndpointByID(ctx, id)
	if err != nil {
		return WebhookEndpoint{}, false, err
	}
	return e, n == 1, nil
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && (s[n]&0xc0) == 0x80 {
		n--
	}
	return s[:n]
}

// sqliteWriteLock serialises this process's webhook writes to a SQLite database and
// returns the unlock. SQLite admits one writer at a time anyway; queueing here
// instead of in SQLite's busy handler keeps dispatcher loops from timing out on
// each other's transactions. Other processes still queue through busy_timeout.
// On Postgres it does nothing.
func (s *sqlStore) sqliteWriteLock() func() {
	b, ok := s.db.(*sqliteBackend)
	if !ok {
		return func() {}
	}
	b.webhookWrites.Lock()
	return b.webhookWrites.Unlock
}

// dbStmt is one statement of a bulk write.
type dbStmt struct {
	query string
	args  []any
}

// bulk runs statements in one transaction and returns each one's row count: a pgx
// batch (one round trip) on Postgres, prepared statements on SQLite.
func (s *sqlStore) bulk(ctx context.Context, stmts []dbStmt) ([]int64, error) {
	counts := make([]int64, len(stmts))
	if len(stmts) == 0 {
		return counts, nil
	}
	switch db := s.db.(type) {
	case *postgresBackend:
		tx, err := db.pool.Begin(ctx)
		if err != nil {
			return nil, err
		}
		defer tx.Rollback(context.WithoutCancel(ctx))
		var b pgx.Batch
		for _, st := range stmts {
			b.Queue(st.query, st.args...)
		}
		br := tx.SendBatch(ctx, &b)
		for i := range stmts {
			tag, err := br.Exec()
			if err != nil {
				br.Close()
				return nil, err
			}
			counts[i] = tag.RowsAffected()
		}
		if err := br.Close(); err != nil {
			return nil, err
		}
		return counts, tx.Commit(ctx)
	case *sqliteBackend:
		// Prepare before taking the write lock: preparing may wait for a pooled
		// connection, which must never happen while holding the lock.
		prepared := make([]*sql.Stmt, len(stmts))
		for i, st := range stmts {
			ps, err := db.stmt(ctx, st.query)
			if err != nil {
				return nil, err
			}
			prepared[i] = ps
		}
		defer s.sqliteWriteLock()()
		tx, err := db.db.BeginTx(ctx, nil)
		if err != nil {
			return nil, err
		}
		defer tx.Rollback()
		for i, st := range stmts {
			res, err := tx.StmtContext(ctx, prepared[i]).ExecContext(ctx, st.args...)
			if err != nil {
				return nil, err
			}
			counts[i], _ = res.RowsAffected()
		}
		return counts, tx.Commit()
	default:
		for i, st := range stmts {
			n, err := s.db.exec(ctx, st.query, st.args...)
			if err != nil {
				return nil, err
			}
			counts[i] = n
		}
		return counts, nil
	}
}

func checkDelivery(d WebhookDelivery) error {
	switch {
	case !eventIDPattern.MatchString(d.EventID):
		return invalid("event_id", "must be 1 to 128 letters, digits or _.:-")
	case !validID(endpointPrefix, d.EndpointID):
		return notFound("webhook endpoint", d.EndpointID)
	case !validID(tenantPrefix, d.TenantID):
		return notFound("tenant", d.TenantID)
	case len(d.Subject) > 512 || len(d.EventType) > 128:
		return invalid("subject", "is too long")
	case !json.Valid(d.Body):
		return invalid("body", "must be the event's JSON")
	}
	if err := checkText("subject", d.Subject); err != nil {
		return err
	}
	if err := checkTraceContext(func(f string) string { return f }, d.TraceParent, d.TraceState); err != nil {
		return err
	}
	return checkText("event_type", d.EventType)
}

// InsertWebhookDeliveries adds deliveries idempotently; see WebhookStore.
func (s *sqlStore) InsertWebhookDeliveries(ctx context.Context, ds []WebhookDelivery, now time.Time) (int64, error) {
	nowMS := millis(now)
	var total int64
	for start := 0; start < len(ds); start += maxWebhookBatch {
		chunk := ds[start:min(len(ds), start+maxWebhookBatch)]
		for _, d := range chunk {
			if err := checkDelivery(d); err != nil {
				return total, err
			}
		}
		counts, err := s.bulk(ctx, s.insertDeliveryStmts(chunk, nowMS))
		if err != nil {
			if s.db.kind(err) == kindForeignKey {
				return total, fmt.Errorf("inserting webhook deliveries: an endpoint was deleted: %w", ErrNotFound)
			}
			return total, s.dbErr("inserting webhook deliveries", err)
		}
		for _, n := range counts {
			total += n
		}
	}
	return total, nil
}

const insertDeliveryColumns = `INSERT INTO webhook_deliveries (event_id, endpoint_id, tenant_id,
	event_type, subject, seq, ordered, event_time, body, state, attempts, next_attempt_at, lease_owner,
	lease_until, last_status, last_error, created_at, updated_at, trace_parent, trace_state) `

// insertDeliveryStmts writes deliveries: on Postgres one statement over arrays (one
// round trip, one plan), elsewhere a prepared statement per row.
func (s *sqlStore) insertDeliveryStmts(ds []WebhookDelivery, nowMS int64) []dbStmt {
	if s.db.name() != "postgres" {
		stmts := make([]dbStmt, 0, len(ds))
		for _, d := range ds {
			stmts = append(stmts, dbStmt{insertDeliveryColumns + `
				VALUES ($1, $2, $3, $4, $5, $6, $10, $7, $8, 'pending', 0, $9, '', 0, 0, '', $9, $9, $11, $12)
				ON CONFLICT (event_id, endpoint_id) DO NOTHING`,
				[]any{d.EventID, d.EndpointID, d.TenantID, d.EventType, d.Subject, d.Seq, millis(d.EventTime),
					d.Body, nowMS, d.Ordered, d.TraceParent, d.TraceState}})
		}
		return stmts
	}
	n := len(ds)
	ev, ep, tn, ty, sub := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	sq, tm, body, ord := make([]int64, n), make([]int64, n), make([][]byte, n), make([]bool, n)
	tp, ts := make([]string, n), make([]string, n)
	for i, d := range ds {
		ev[i], ep[i], tn[i], ty[i], sub[i] = d.EventID, d.EndpointID, d.TenantID, d.EventType, d.Subject
		sq[i], tm[i], body[i], ord[i] = d.Seq, millis(d.EventTime), d.Body, d.Ordered
		tp[i], ts[i] = d.TraceParent, d.TraceState
	}
	return []dbStmt{{insertDeliveryColumns + `
		SELECT u.e, u.p, u.t, u.y, u.s, u.q, u.o, u.m, u.b, 'pending', 0, $9, '', 0, 0, '', $9, $9, u.tp, u.ts
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::bytea[],
			$10::boolean[], $11::text[], $12::text[]) AS u(e, p, t, y, s, q, m, b, o, tp, ts)
		ON CONFLICT (event_id, endpoint_id) DO NOTHING`,
		[]any{ev, ep, tn, ty, sub, sq, tm, body, nowMS, ord, tp, ts}}}
}

const deliveryColumns = `event_id, endpoint_id, tenant_id, event_type, subject, seq, ordered, event_time, body, state,
	attempts, next_attempt_at, lease_owner, lease_until, last_status, last_error, trace_parent, trace_state`

func scanDelivery(scan func(...any) error) (WebhookDelivery, error) {
	var d WebhookDelivery
	var state string
	var evTime, attempts, next, lease, status int64
	if err := scan(&d.EventID, &d.EndpointID, &d.TenantID, &d.EventType, &d.Subject, &d.Seq, &d.Ordered, &evTime, &d.Body,
		&state, &attempts, &next, &d.LeaseOwner, &lease, &status, &d.LastError, &d.TraceParent, &d.TraceState); err != nil {
		return WebhookDelivery{}, err
	}
	d.State = DeliveryState(state)
	d.EventTime, d.NextAttemptAt, d.LeaseUntil = fromMillis(evTime), fromMillis(next), fromMillis(lease)
	d.Attempts, d.LastStatus = int(attempts), int(status)
	return d, nil
}

// claimCandidates selects due deliveries of enabled endpoints; an ordered endpoint's
// delivery waits while an earlier one of its subject is pending. A claim also moves
// next_attempt_at to the lease's end, so leased rows leave the head of the due
// index (claims do not step over every delivery in flight) and come due again by
// themselves if the holder dies.
const claimCandidates = `SELECT d.event_id, d.endpoint_id FROM webhook_deliveries d
	JOIN webhook_endpoints e ON e.id = d.endpoint_id
	WHERE d.state = 'pending' AND d.next_attempt_at <= $1 AND d.lease_until <= $1 AND e.enabled
	AND (NOT d.ordered OR NOT EXISTS (SELECT 1 FROM webhook_deliveries p
		WHERE p.endpoint_id = d.endpoint_id AND p.subject = d.subject AND p.state = 'pending' AND p.ordered
		AND p.seq < d.seq))
	ORDER BY d.next_attempt_at
	LIMIT $2`

// claimPostgres locks candidates with SKIP LOCKED so concurrent claimers take
// disjoint rows without waiting on each other; the lease condition is re-checked on
// the locked row version, so a row another claimer just leased is not taken.
const claimPostgres = `WITH c AS (` + claimCandidates + ` FOR UPDATE OF d SKIP LOCKED)
	UPDATE webhook_deliveries w SET lease_owner = $3, lease_until = $4, next_attempt_at = $4
	FROM c WHERE w.event_id = c.event_id AND w.endpoint_id = c.endpoint_id
	RETURNING ` + `w.event_id, w.endpoint_id, w.tenant_id, w.event_type, w.subject, w.seq, w.ordered, w.event_time, w.body,
	w.state, w.attempts, w.next_attempt_at, w.lease_owner, w.lease_until, w.last_status, w.last_error, w.trace_parent,
	w.trace_state`

// claimSQLite is one UPDATE over a LIMIT subquery; SQLite runs writers one at a time,
// so the selection and the lease are atomic.
const claimSQLite = `UPDATE webhook_deliveries SET lease_owner = $3, lease_until = $4, next_attempt_at = $4
	WHERE (event_id, endpoint_id) IN (` + claimCandidates + `)
	RETURNING ` + deliveryColumns

// ClaimWebhookDeliveries leases due deliveries; see WebhookStore.
func (s *sqlStore) ClaimWebhookDeliveries(ctx context.Context, owner string, limit int, now, leaseUntil time.Time) ([]WebhookDelivery, error) {
	if limit < 1 || limit > maxWebhookBatch {
		return nil, invalid("limit", "must be 1 to %d", maxWebhookBatch)
	}
	if !leaseUntil.After(now) {
		return nil, invalid("lease", "must end after now")
	}
	if err := checkText("owner", owner); err != nil || len(owner) > 200 {
		return nil, invalid("owner", "must be at most 200 printable characters")
	}
	token := owner + "#" + newID("")
	q := claimSQLite
	if s.db.name() == "postgres" {
		q = claimPostgres
	}
	out := []WebhookDelivery{}
	unlock := s.sqliteWriteLock()
	defer unlock()
	err := s.db.query(ctx, q, []any{millis(now), int64(limit), token, millis(leaseUntil)},
		func(scan func(...any) error) error {
			d, err := scanDelivery(scan)
			if err != nil {
				return err
			}
			out = append(out, d)
			return nil
		})
	if err != nil {
		return nil, s.dbErr("claiming webhook deliveries", err)
	}
	return out, nil
}

// CompleteWebhookDeliveries records outcomes; see WebhookStore.
func (s *sqlStore) CompleteWebhookDeliveries(ctx context.Context, outs []DeliveryOutcome, now time.Time) error {
	if len(outs) > maxWebhookBatch {
		return invalid("outcomes", "at most %d per call", maxWebhookBatch)
	}
	nowMS := millis(now)
	var (
		attempts []WebhookAttempt
		counted  []DeliveryOutcome
		putBack  []DeliveryOutcome
	)
	type health struct {
		ok       bool
		failedAt int64
	}
	endpoints := map[string]*health{}
	var order []string
	for _, o := range outs {
		switch o.State {
		case DeliveryPending, DeliverySucceeded, DeliveryDead:
		default:
			return invalid("state", "must be pending, succeeded or dead")
		}
		if !validID(endpointPrefix, o.EndpointID) {
			return notFound("webhook endpoint", o.EndpointID)
		}
		if o.Attempt == nil {
			putBack = append(putBack, o)
			continue
		}
		a := *o.Attempt
		a.EventID, a.EndpointID = o.EventID, o.EndpointID
		if len(a.Response) > MaxWebhookAttemptResponse {
			a.Response = a.Response[:MaxWebhookAttemptResponse]
		}
		if a.Response == nil {
			a.Response = []byte{}
		}
		a.Error = strings.ToValidUTF8(truncate(a.Error, maxWebhookErrorLen), "?")
		attempts = append(attempts, a)
		o.Attempt = &attempts[len(attempts)-1]
		counted = append(counted, o)
		h := endpoints[o.EndpointID]
		if h == nil {
			h = &health{}
			endpoints[o.EndpointID] = h
			order = append(order, o.EndpointID)
		}
		if a.Error == "" {
			h.ok = true
		} else if h.failedAt == 0 || millis(a.At) < h.failedAt {
			h.failedAt = millis(a.At)
		}
	}
	stmts := s.outcomeStmts(attempts, counted, putBack, nowMS)
	for _, id := range order {
		h := endpoints[id]
		if h.ok {
			stmts = append(stmts, dbStmt{`UPDATE webhook_endpoints SET failing_since = NULL
				WHERE id = $1 AND failing_since IS NOT NULL`, []any{id}})
		} else {
			stmts = append(stmts, dbStmt{`UPDATE webhook_endpoints SET failing_since = $1
				WHERE id = $2 AND failing_since IS NULL`, []any{h.failedAt, id}})
		}
	}
	if _, err := s.bulk(ctx, stmts); err != nil {
		return s.dbErr("completing webhook deliveries", err)
	}
	return nil
}

const (
	insertAttempt = `INSERT INTO webhook_attempts (event_id, endpoint_id, tenant_id, attempt, at, status,
		duration_ms, error, response) `
	updateCounted = `UPDATE webhook_deliveries SET state = $1, attempts = attempts + 1, next_attempt_at = $2,
		lease_owner = '', lease_until = 0, last_status = $3, last_error = $4, updated_at = $5
		WHERE event_id = $6 AND endpoint_id = $7 AND lease_owner = $8 AND state = 'pending'`
	updatePutBack = `UPDATE webhook_deliveries SET next_attempt_at = $1, lease_owner = '', lease_until = 0,
		updated_at = $2 WHERE event_id = $3 AND endpoint_id = $4 AND lease_owner = $5 AND state = 'pending'`
)

// outcomeStmts writes the attempt log and the deliveries' new states: three
// statements over arrays on Postgres, a prepared statement per row elsewhere.
func (s *sqlStore) outcomeStmts(attempts []WebhookAttempt, counted, putBack []DeliveryOutcome, nowMS int64) []dbStmt {
	var stmts []dbStmt
	if s.db.name() != "postgres" {
		for _, a := range attempts {
			stmts = append(stmts, dbStmt{insertAttempt + `VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
				[]any{a.EventID, a.EndpointID, a.TenantID, int64(a.Attempt), millis(a.At), int64(a.Status),
					a.Duration.Milliseconds(), a.Error, a.Response}})
		}
		for _, o := range counted {
			stmts = append(stmts, dbStmt{updateCounted, []any{string(o.State), millis(o.NextAttemptAt),
				int64(o.Attempt.Status), o.Attempt.Error, nowMS, o.EventID, o.EndpointID, o.LeaseOwner}})
		}
		for _, o := range putBack {
			stmts = append(stmts, dbStmt{updatePutBack, []any{millis(o.NextAttemptAt), nowMS, o.EventID, o.EndpointID, o.LeaseOwner}})
		}
		return stmts
	}
	if n := len(attempts); n > 0 {
		ev, ep, tn, er := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		no, at, st, du := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		resp := make([][]byte, n)
		for i, a := range attempts {
			ev[i], ep[i], tn[i], er[i] = a.EventID, a.EndpointID, a.TenantID, a.Error
			no[i], at[i], st[i], du[i], resp[i] = int64(a.Attempt), millis(a.At), int64(a.Status), a.Duration.Milliseconds(), a.Response
		}
		stmts = append(stmts, dbStmt{insertAttempt + `SELECT * FROM unnest($1::text[], $2::text[], $3::text[],
			$4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::text[], $9::bytea[])`,
			[]any{ev, ep, tn, no, at, st, du, er, resp}})
	}
	if n := len(counted); n > 0 {
		ev, ep, ow, state, er := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		next, st := make([]int64, n), make([]int64, n)
		for i, o := range counted {
			ev[i], ep[i], ow[i], state[i], er[i] = o.EventID, o.EndpointID, o.LeaseOwner, string(o.State), o.Attempt.Error
			next[i], st[i] = millis(o.NextAttemptAt), int64(o.Attempt.Status)
		}
		stmts = append(stmts, dbStmt{`UPDATE webhook_deliveries d SET state = u.state, attempts = d.attempts + 1,
			next_attempt_at = u.next, lease_owner = '', lease_until = 0, last_status = u.status, last_error = u.err,
			updated_at = $1
			FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::text[])
				AS u(event_id, endpoint_id, owner, state, next, status, err)
			WHERE d.event_id = u.event_id AND d.endpoint_id = u.endpoint_id AND d.lease_owner = u.owner
			AND d.state = 'pending'`,
			[]any{nowMS, ev, ep, ow, state, next, st, er}})
	}
	if n := len(putBack); n > 0 {
		ev, ep, ow, next := make([]string, n), make([]string, n), make([]string, n), make([]int64, n)
		for i, o := range putBack {
			ev[i], ep[i], ow[i], next[i] = o.EventID, o.EndpointID, o.LeaseOwner, millis(o.NextAttemptAt)
		}
		stmts = append(stmts, dbStmt{`UPDATE webhook_deliveries d SET next_attempt_at = u.next, lease_owner = '',
			lease_until = 0, updated_at = $1
			FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[]) AS u(event_id, endpoint_id, owner, next)
			WHERE d.event_id = u.event_id AND d.endpoint_id = u.endpoint_id AND d.lease_owner = u.owner
			AND d.state = 'pending'`,
			[]any{nowMS, ev, ep, ow, next}})
	}
	return stmts
}

// GetWebhookDelivery returns one delivery; see WebhookStore.
func (s *sqlStore) GetWebhookDelivery(ctx context.Context, eventID, endpointID string) (WebhookDelivery, error) {
	d, err := scanDelivery(func(dest ...any) error {
		return s.db.queryRow(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries
			WHERE event_id = $1 AND endpoint_id = $2`, []any{eventID, endpointID}, dest...)
	})
	if errors.Is(err, errNoRows) {
		return WebhookDelivery{}, notFound("webhook delivery", eventID)
	}
	if err != nil {
		return WebhookDelivery{}, s.dbErr("getting webhook delivery", err)
	}
	return d, nil
}

// CountWebhookDeliveries counts deliveries in a state; see WebhookStore.
func (s *sqlStore) CountWebhookDeliveries(ctx context.Context, endpointID string, state DeliveryState) (int64, error) {
	q, args := `SELECT COUNT(*) FROM webhook_deliveries WHERE state = $1`, []any{string(state)}
	if endpointID != "" {
		q += ` AND endpoint_id = $2`
		args = append(args, endpointID)
	}
	var n int64
	if err := s.db.queryRow(ctx, q, args, &n); err != nil {
		return 0, s.dbErr("counting webhook deliveries", err)
	}
	return n, nil
}

// replayCursor encodes a (event time, event id) position.
func replayCursor(ms int64, eventID string) string { return fmt.Sprintf("%d/%s", ms, eventID) }

func parseReplayCursor(c string) (int64, string, error) {
	msText, id, ok := strings.Cut(c, "/")
	var ms int64
	if _, err := fmt.Sscanf(msText, "%d", &ms); !ok || err != nil || !eventIDPattern.MatchString(id) {
		return 0, "", invalid("after", "is not a cursor this API returned")
	}
	return ms, id, nil
}

// ReplayWebhookDeliveries re-queues a page of an endpoint's deliveries; see WebhookStore.
func (s *sqlStore) ReplayWebhookDeliveries(ctx context.Context, tenantID, endpointID string, w ReplayWindow, now time.Time) (ReplayResult, error) {
	if _, err := s.GetWebhookEndpoint(ctx, tenantID, endpointID); err != nil {
		return ReplayResult{}, err
	}
	if w.Limit < 1 || w.Limit > maxWebhookBatch {
		return ReplayResult{}, invalid("limit", "must be 1 to %d", maxWebhookBatch)
	}
	until := int64(1<<62 - 1)
	if !w.Until.IsZero() {
		until = millis(w.Until)
	}
	if until <= millis(w.Since) {
		return ReplayResult{}, invalid("until", "must be after since")
	}
	afterMS, afterID := millis(w.Since), ""
	if w.After != "" {
		var err error
		if afterMS, afterID, err = parseReplayCursor(w.After); err != nil {
			return ReplayResult{}, err
		}
	}
	// Rows from the cursor on: (event_time, event_id) > (afterMS, afterID), with an
	// empty afterID admitting every event at afterMS itself.
	sel := `endpoint_id = $1 AND tenant_id = $2 AND state IN ('succeeded', 'dead')
		AND event_time < $3 AND (event_time > $4 OR (event_time = $4 AND event_id > $5))`
	var res ReplayResult
	var lastMS int64
	var lastID string
	unlock := s.sqliteWriteLock()
	err := s.db.query(ctx, `UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_at = $6,
		lease_owner = '', lease_until = 0, updated_at = $6
		WHERE (event_id, endpoint_id) IN (SELECT event_id, endpoint_id FROM webhook_deliveries WHERE `+sel+`
			ORDER BY event_time, event_id LIMIT $7)
		RETURNING event_time, event_id`,
		[]any{endpointID, tenantID, until, afterMS, afterID, millis(now), int64(w.Limit)},
		func(scan func(...any) error) error {
			var ms int64
			var id string
			if err := scan(&ms, &id); err != nil {
				return err
			}
			res.Queued++
			if ms > lastMS || (ms == lastMS && id > lastID) {
				lastMS, lastID = ms, id
			}
			return nil
		})
	unlock()
	if err != nil {
		return ReplayResult{}, s.dbErr("replaying webhook deliveries", err)
	}
	if res.Queued == 0 {
		return res, nil
	}
	if err := s.db.queryRow(ctx, `SELECT COUNT(*) FROM webhook_deliveries WHERE `+sel,
		[]any{endpointID, tenantID, until, lastMS, lastID}, &res.Remaining); err != nil {
		return ReplayResult{}, s.dbErr("counting replayable deliveries", err)
	}
	if res.Remaining > 0 {
		res.Next = replayCursor(lastMS, lastID)
	}
	return res, nil
}

// ListWebhookAttempts returns a tenant's attempt log; see WebhookStore.
func (s *sqlStore) ListWebhookAttempts(ctx context.Context, tenantID, endpointID, eventID string, limit int) ([]WebhookAttempt, error) {
	out := []WebhookAttempt{}
	if endpointID == "" && eventID == "" {
		return nil, invalid("endpoint_id", "an endpoint or an event is required")
	}
	if limit < 1 || limit > maxWebhookBatch {
		return nil, invalid("limit", "must be 1 to %d", maxWebhookBatch)
	}
	if !validID(tenantPrefix, tenantID) {
		return out, nil
	}
	q, args := fmt.Sprintf(`SELECT a.event_id, a.endpoint_id, a.tenant_id, a.attempt, a.at, a.status, a.duration_ms, a.error, a.response,
		SUBSTR(d.body, 1, %d)
		FROM webhook_attempts a LEFT JOIN webhook_deliveries d ON d.event_id = a.event_id AND d.endpoint_id = a.endpoint_id
		WHERE a.tenant_id = $1`, MaxWebhookAttemptResponse), []any{tenantID}
	if endpointID != "" {
		args = append(args, endpointID)
		q += fmt.Sprintf(` AND a.endpoint_id = $%d`, len(args))
	}
	if eventID != "" {
		args = append(args, eventID)
		q += fmt.Sprintf(` AND a.event_id = $%d`, len(args))
	}
	args = append(args, int64(limit))
	q += fmt.Sprintf(` ORDER BY a.at DESC, a.attempt DESC LIMIT $%d`, len(args))
	err := s.db.query(ctx, q, args, func(scan func(...any) error) error {
		var a WebhookAttempt
		var attempt, at, status, dur int64
		if err := scan(&a.EventID, &a.EndpointID, &a.TenantID, &attempt, &at, &status, &dur, &a.Error, &a.Response, &a.Request); err != nil {
			return err
		}
		a.Attempt, a.At, a.Status, a.Duration = int(attempt), fromMillis(at), int(status), time.Duration(dur)*time.Millisecond
		out = append(out, a)
		return nil
	})
	if err != nil {
		return nil, s.dbErr("listing webhook attempts", err)
	}
	return out, nil
}

// PurgeWebhookHistory deletes old attempts and finished deliveries; see WebhookStore.
func (s *sqlStore) PurgeWebhookHistory(ctx context.Context, before time.Time) (deliveries, attempts int64, err error) {
	attempts, err = s.db.exec(ctx, `DELETE FROM webhook_attempts WHERE at < $1`, millis(before))
	if err != nil {
		return 0, 0, s.dbErr("purging webhook attempts", err)
	}
	deliveries, err = s.db.exec(ctx, `DELETE FROM webhook_deliveries
		WHERE state IN ('succeeded', 'dead') AND updated_at < $1`, millis(before))
	if err != nil {
		return 0, attempts, s.dbErr("purging webhook deliveries", err)
	}
	return deliveries, attempts, nil
}
