-- Trace context through the outbox (issue 13). An event keeps the W3C trace context
-- of the call that caused it: trace_parent is its traceparent header value
-- ("00-<trace id>-<span id>-<flags>", '' when the call ran outside any trace) and
-- trace_state its tracestate ('' when none, at most 512 bytes). Fan-out copies both
-- onto each webhook delivery row, which outlives the event (events are purged once
-- relayed; deliveries are retried and replayed for days), so every attempt's
-- traceparent header and span continue the caller's trace. Rows written before this
-- migration have none.

-- +goose Up
ALTER TABLE events ADD COLUMN trace_parent TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN trace_state TEXT NOT NULL DEFAULT '';
ALTER TABLE webhook_deliveries ADD COLUMN trace_parent TEXT NOT NULL DEFAULT '';
ALTER TABLE webhook_deliveries ADD COLUMN trace_state TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE webhook_deliveries DROP COLUMN trace_state;
ALTER TABLE webhook_deliveries DROP COLUMN trace_parent;
ALTER TABLE events DROP COLUMN trace_state;
ALTER TABLE events DROP COLUMN trace_parent;
