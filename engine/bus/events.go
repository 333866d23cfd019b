package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/carrierhub/hub/engine/events"
	"github.com/carrierhub/hub/sdk/telemetry"
)

// DefaultPrefix starts the hub's topic names: "hub.events.shipment",
// "hub.events.tracking", ...; and "hub.commands" for commands.
const DefaultPrefix = "hub.events"

// EventSink is the relay's sink for a Bus: each event goes to the topic of its
// family ("<prefix>.<family>"), keyed by subject so one shipment's events stay in
// order, with the event's JSON as the value and its id, type and tenant as
// headers. An event that carries the trace context of the call that caused it
// is published inside a producer span that is a child of that call's span, and
// the message carries the W3C "traceparent" (and "tracestate") headers of that
// span, so consumers continue the trace.
type EventSink struct {
	// Bus is where events go.
	Bus Bus
	// Prefix starts the topic names (default DefaultPrefix).
	Prefix string
	// TracerProvider opens the publish spans (the global provider when nil).
	TracerProvider trace.TracerProvider
}

// Message headers of the trace context an event carries (W3C Trace Context
// over Kafka headers, as OpenTelemetry's instrumentations write them).
const (
	HeaderTraceParent = "traceparent"
	HeaderTraceState  = "tracestate"
)

// tracerScope is the instrumentation scope of the sink's spans.
const tracerScope = "github.com/carrierhub/hub/engine/bus"

var _ events.Sink = (*EventSink)(nil)

func (s *EventSink) prefix() string {
	if s.Prefix == "" {
		return DefaultPrefix
	}
	return s.Prefix
}

// Name is the sink's cursor name: "bus:" and the prefix.
func (s *EventSink) Name() string { return "bus:" + s.prefix() }

// Topic returns the topic an event type goes to.
func (s *EventSink) Topic(t events.Type) string { return s.prefix() + "." + t.Family() }

// Deliver publishes a batch in order and returns once the bus has all of it.
func (s *EventSink) Deliver(ctx context.Context, batch []events.Stored) (err error) {
	msgs := make([]Message, 0, len(batch))
	var spans []trace.Span
	defer func() {
		for _, sp := range spans {
			if err != nil {
				sp.SetStatus(codes.Error, "not published")
			}
			sp.End()
		}
	}()
	for _, e := range batch {
		v, err := json.Marshal(e.Event)
		if err != nil {
			return fmt.Errorf("encoding event %s: %w", e.ID, err)
		}
		h := map[string]string{"id": e.ID, "type": string(e.Type), "tenant_id": e.TenantID}
		topic := s.Topic(e.Type)
		if e.TraceParent != "" {
			if sp := s.publishSpan(ctx, e, topic, h); sp != nil {
				spans = append(spans, sp)
			}
		}
		msgs = append(msgs, Message{Topic: topic, Key: []byte(e.Subject), Value: v, Headers: h})
	}
	return s.Bus.PublishBatch(ctx, msgs)
}

// publishSpan opens the producer span of one event, a child of the event's
// stored trace context, and writes that span's trace context into headers. It
// returns nil when the stored context is not a valid one.
func (s *EventSink) publishSpan(ctx context.Context, e events.Stored, topic string, headers map[string]string) trace.Span {
	parent := telemetry.ContinueTrace(ctx, e.TraceParent, e.TraceState)
	if !trace.SpanContextFromContext(parent).IsValid() {
		return nil
	}
	tp := s.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	sctx, span := tp.Tracer(tracerScope).Start(parent, "publish "+topic, trace.WithSpanKind(trace.SpanKindProducer))
	if span.IsRecording() {
		span.SetAttributes(
			attribute.String("messaging.operation.type", "send"),
			attribute.String("messaging.destination.name", topic),
			attribute.String("messaging.message.id", e.ID),
			attribute.String("hub.tenant.id", e.TenantID),
			attribute.String("hub.event.type", string(e.Type)),
		)
	}
	propagation.TraceContext{}.Inject(sctx, propagation.MapCarrier(headers))
	return span
}

// TrackCommand asks the hub to track shipments and answer with events.
type TrackCommand struct {
	// ID identifies the command; a repeated id is handled once (per process).
	ID string `json:"id"`
	// Type is "track".
	Type string `json:"type"`
	// TenantID is the tenant.
	TenantID string `json:"tenant_id"`
	// Connector is the carrier's connector.
	Connector string `json:"connector"`
	// Account is the tenant's account with the carrier.
	Account string `json:"account"`
	// TrackingNumbers are the shipments, 1 to 50.
	TrackingNumbers []string `json:"tracking_numbers"`
}

// CommandHandler carries out commands; the router implements it.
type CommandHandler interface {
	// Track tracks shipments; the results become events through the outbox. An
	// error leaves the command unacknowledged, so it is offered again.
	Track(ctx context.Context, cmd TrackCommand) error
}

// Commands consumes "<prefix>.commands" (default "hub.commands"). A malformed
// command is logged and copied to "<prefix>.commands.dead" with its error in the
// "error" header, then acknowledged: it never blocks the topic or crashes the hub.
type Commands struct {
	// Bus is where commands come from.
	Bus Bus
	// Prefix starts the topic names (default "hub").
	Prefix string
	// Group is the consumer group (default "hub").
	Group string
	// Handler carries the commands out.
	Handler CommandHandler
	// Logger receives rejected commands; nil discards them.
	Logger *slog.Logger

	mu   sync.Mutex
	seen map[string]bool
	ring []string
}

var connectorPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{1,62}$`)

// maxSeenCommands bounds the ids remembered for de-duplication.
const maxSeenCommands = 10000

// Topic returns the commands topic.
func (c *Commands) Topic() string {
	p := c.Prefix
	if p == "" {
		p = "hub"
	}
	return p + ".commands"
}

// ParseCommand decodes and validates a command message.
func ParseCommand(value []byte) (TrackCommand, error) {
	var cmd TrackCommand
	if err := json.Unmarshal(value, &cmd); err != nil {
		return TrackCommand{}, fmt.Errorf("not a JSON command: %w", err)
	}
	switch {
	case cmd.Type != "track":
		return TrackCommand{}, fmt.Errorf("type %q is not a command (want \"track\")", cmd.Type)
	case cmd.ID == "" || len(cmd.ID) > 128:
		return TrackCommand{}, errors.New("id must be 1 to 128 characters")
	case cmd.TenantID == "" || len(cmd.TenantID) > 64:
		return TrackCommand{}, errors.New("tenant_id must be set")
	case !connectorPattern.MatchString(cmd.Connector):
		return TrackCommand{}, errors.New("connector must be a connector id (lower snake case)")
	case cmd.Account == "" || len(cmd.Account) > 100:
		return TrackCommand{}, errors.New("account must be set")
	case len(cmd.TrackingNumbers) == 0 || len(cmd.TrackingNumbers) > 50:
		return TrackCommand{}, fmt.Errorf("tracking_numbers must hold 1 to 50 numbers, not %d", len(cmd.TrackingNumbers))
	}
	for i, n := range cmd.TrackingNumbers {
		if n == "" || len(n) > 255 {
			return TrackCommand{}, fmt.Errorf("tracking_numbers[%d] must be 1 to 255 characters", i)
		}
	}
	return cmd, nil
}

// Run consumes commands until ctx is done.
func (c *Commands) Run(ctx context.Context) error {
	if c.Bus == nil || c.Handler == nil {
		return errors.New("commands: Bus and Handler are required")
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	group := c.Group
	if group == "" {
		group = "hub"
	}
	return c.Bus.Subscribe(ctx, c.Topic(), group, func(ctx context.Context, m Message) error {
		cmd, err := ParseCommand(m.Value)
		if err != nil {
			log.Warn("rejected command", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "err", err)
			h := cloneHeaders(m.Headers)
			if h == nil {
				h = map[string]string{}
			}
			h["error"] = err.Error()
			return c.Bus.Publish(ctx, c.Topic()+".dead", m.Key, m.Value, h)
		}
		if c.wasSeen(cmd.ID) {
			return nil
		}
		if err := c.Handler.Track(ctx, cmd); err != nil {
			return err
		}
		c.remember(cmd.ID)
		return nil
	})
}

func (c *Commands) wasSeen(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen[id]
}

func (c *Commands) remember(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string]bool{}
	}
	if len(c.ring) >= maxSeenCommands {
		delete(c.seen, c.ring[0])
		c.ring = c.ring[1:]
	}
	c.seen[id] = true
	c.ring = append(c.ring, id)
}
