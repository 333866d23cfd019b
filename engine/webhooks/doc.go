// Package webhooks fans the hub's events out to tenants' HTTP endpoints and
// delivers them with Standard Webhooks signatures, never losing one: every
// (event, endpoint) pair is a durable delivery row claimed with a lease, retried on
// a schedule with jitter, and kept (dead) for replay when the schedule runs out.
package webhooks
