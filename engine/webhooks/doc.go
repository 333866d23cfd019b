// Package webhooks fans the hub's events out to tenants' HTTP endpoints and
// delivers them with Standard Webhooks signatures, never losing one.
//
// Fanout is a sink of the outbox relay: for each event it writes one durable
// delivery row per matching enabled endpoint (type patterns and JSON-pointer
// equality filters), idempotently, holding the exact event bytes that will be
// signed and sent. A Dispatcher runs claim-send-complete loops: it leases a batch
// of due rows (Postgres FOR UPDATE SKIP LOCKED, so replicas share the work), POSTs
// each with webhook-id (the event id, the same on every retry), webhook-timestamp
// and webhook-signature (every live secret signs during a rotation), and records
// all outcomes of the batch in one transaction. Each attempt is a client span
// (SpanName) that is a child of the trace context the event was written with
// (the API call that caused it), and carries that span's W3C traceparent and
// tracestate headers, so the receiver's work joins the caller's trace. A dispatcher that dies leaves
// leases that expire; the rows are sent again, never dropped.
//
// Failures follow a retry schedule with jitter (DefaultSchedule); 429, 502, 504
// and timeouts slow down, Retry-After is honoured up to a cap, 3xx is a failure
// (redirects are never followed), 410 disables the endpoint. Endpoint health is
// kept apart from message retries: an endpoint failing without a single success
// for FailingPeriod is disabled and webhook.endpoint_disabled is emitted; its
// pending rows wait, unclaimed, until it is enabled again. Per-endpoint token
// buckets bound the rate; ordered endpoints get each subject's events one at a
// time. Dead and delivered rows can be replayed by event-time window (Replay).
//
// Every connection goes through Guard, which refuses loopback, private,
// link-local (cloud metadata), CGNAT, unique-local, multicast and other
// non-global addresses after DNS resolution, unless the operator allow-lists them.
//
// The package imports engine/store, engine/events and sdk/telemetry; it knows nothing of HTTP
// routing (engine/api) or of how events reach the outbox.
package webhooks
