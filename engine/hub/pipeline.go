package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/carrierhub/hub/engine/bus"
	"github.com/carrierhub/hub/engine/config"
	"github.com/carrierhub/hub/engine/events"
	"github.com/carrierhub/hub/engine/events/recorder"
	"github.com/carrierhub/hub/engine/ewaybills"
	"github.com/carrierhub/hub/engine/inbound"
	"github.com/carrierhub/hub/engine/metrics"
	"github.com/carrierhub/hub/engine/router"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/engine/webhooks"
	"github.com/carrierhub/hub/sdk"
)

// purgeEvery is how often relayed events and webhook history past their
// retention are purged.
const purgeEvery = time.Hour

// pipeline is the event side of the hub: the outbox relay feeding the webhook
// fan-out and the bus (Kafka, or in-process), the webhook dispatcher, the
// recorder that turns successful calls into state and events, and the commands
// consumer.
type pipeline struct {
	st       store.Store
	log      *slog.Logger
	cfg      config.Config
	bus      bus.Bus
	relay    *events.Relay
	recorder *recorder.Recorder
	record   *inbound.Recording
	disp     *webhooks.Dispatcher
	met      *metrics.Metrics
	// sinks names the relay's sinks.
	sinks []string
	wg    sync.WaitGroup
}

// newPipeline builds the pipeline; nothing runs until start. On an error the
// bus it connected to is closed again.
func newPipeline(ctx context.Context, cfg config.Config, st store.Store, log *slog.Logger, met *metrics.Metrics) (_ *pipeline, err error) {
	p := &pipeline{st: st, log: log, cfg: cfg, met: met}
	if len(cfg.Kafka.Brokers) > 0 {
		k, err := bus.NewKafka(ctx, bus.KafkaConfig{Brokers: cfg.Kafka.Brokers, AutoCreateTopics: true, Logger: log.With("component", "kafka")})
		if err != nil {
			return nil, fmt.Errorf("connecting to Kafka: %w", err)
		}
		p.bus = k
	} else {
		p.bus = bus.NewMemory(bus.MemoryConfig{})
	}
	defer func() {
		if err != nil {
			p.bus.Close()
		}
	}()
	busSink := &bus.EventSink{Bus: p.bus, Prefix: cfg.Kafka.TopicPrefix + ".events"}
	sinks := []events.Sink{busSink}
	if cfg.Webhooks.Enabled {
		sinks = append(sinks, webhooks.NewFanout(st, nil))
	}
	names := make([]string, len(sinks))
	for i, s := range sinks {
		names[i] = s.Name()
	}
	p.sinks = names
	met.WatchPipeline(st, names, busSink.Name())
	relay, err := events.NewRelay(st, sinks, events.RelayConfig{Logger: log.With("component", "relay")})
	if err != nil {
		return nil, err
	}
	p.relay = relay
	p.recorder = recorder.New(st, relay.Notify)
	// Connectors that do not serve track get their shipments scheduled too; the
	// poller's first call is refused by the router and clears the schedule.
	p.record = &inbound.Recording{Recorder: p.recorder, Store: st, Polls: cfg.TrackingPolls.Enabled,
		Schedule: inbound.Schedule{Interval: cfg.TrackingPolls.Interval, PushSilence: cfg.TrackingPolls.PushSilence}}
	if cfg.Webhooks.Enabled {
		p.disp, err = webhooks.New(webhooks.Config{
			Store: st, AllowList: cfg.Webhooks.AllowList, FailingPeriod: cfg.Webhooks.FailingPeriod,
			Loops: cfg.Webhooks.Loops, BatchSize: cfg.Webhooks.BatchSize, Schedule: cfg.Webhooks.RetrySchedule,
			Logger:  log.With("component", "webhooks"),
			Observe: met.ObserveDelivery,
			Emit: func(ctx context.Context, e events.Event) error {
				e.ID = "" // the outbox assigns its own ids
				if _, err := st.AppendEvents(ctx, []events.Event{e}); err != nil {
					return err
				}
				relay.Notify()
				return nil
			},
		})
		if err != nil {
			return nil, err
		}
	}
	return p, nil
}

// AfterCall records a successful connector call (pushes included) and schedules
// tracking polls; the router calls it.
func (p *pipeline) AfterCall(ctx context.Context, tenantID, connectorID, accountID string, op sdk.Operation, response []byte) error {
	return p.record.AfterCall(ctx, tenantID, connectorID, accountID, op, response)
}

// Unknown records a create whose outcome is unknown as an unconfirmed shipment
// (store.UnconfirmedStore); the router calls it.
func (p *pipeline) Unknown(ctx context.Context, u router.Unknown) error {
	_, err := p.st.RecordUnconfirmed(ctx, store.UnconfirmedShipment{TenantID: u.TenantID, ConnectorID: u.ConnectorID,
		AccountID: u.AccountID, Operation: string(u.Operation), Reference: u.Reference, IdempotencyKey: u.IdempotencyKey,
		RequestID: u.RequestID, Reason: unconfirmedReason(u.Cause)})
	return err
}

// unconfirmedReason is what the record of an unconfirmed shipment says happened:
// the failure's code and message on one line, cut to what the store keeps.
func unconfirmedReason(e *sdk.Error) string {
	s := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return ' '
		}
		return r
	}, string(e.Code)+": "+e.Message)
	if len(s) > store.MaxUnconfirmedReason {
		s = s[:store.MaxUnconfirmedReason]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}

// start runs the relay, the dispatcher, the commands consumer, the tracking
// poller, the SFTP inbox and the outbox purge until ctx ends; wait waits for
// them.
func (p *pipeline) start(ctx context.Context, rt *router.Router) {
	run := func(name string, fn func(context.Context) error) {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			if err := fn(ctx); err != nil && !errors.Is(err, context.Canceled) && ctx.Err() == nil {
				p.log.Error("event pipeline part stopped", "part", name, "error", err)
			}
		}()
	}
	run("relay", p.relay.Run)
	if p.disp != nil {
		run("webhooks", p.disp.Run)
	}
	cmds := &bus.Commands{Bus: p.bus, Prefix: p.cfg.Kafka.TopicPrefix, Group: p.cfg.Kafka.Group,
		Handler: trackCommands{rt}, Logger: p.log.With("component", "commands")}
	run("commands", cmds.Run)
	if tp := p.cfg.TrackingPolls; tp.Enabled {
		poller, err := inbound.NewPoller(inbound.PollerConfig{Store: p.st, Router: rt, BatchSize: tp.BatchSize,
			Schedule: inbound.Schedule{Interval: tp.Interval, PushSilence: tp.PushSilence},
			Logger:   p.log.With("component", "tracking_polls")})
		if err != nil {
			p.log.Error("tracking polls not started", "error", err)
		} else {
			run("tracking_polls", poller.Run)
		}
	}
	if si := p.cfg.SFTPInbound; si.Enabled {
		inbox, err := inbound.NewInbox(inbound.InboxConfig{Store: p.st, Router: rt, Interval: si.Interval, Lease: si.Lease,
			DialTimeout: si.DialTimeout, MaxFileSize: si.MaxFileSize, Egress: p.cfg.Egress.Policy(), Logger: p.log.With("component", "sftp_inbound")})
		if err != nil {
			p.log.Error("sftp inbound not started", "error", err)
		} else {
			if p.met != nil {
				p.met.Registry().MustRegister(inbound.NewInboxCollector(inbox))
			}
			run("sftp_inbound", inbox.Run)
		}
	}
	if en := p.cfg.EWayBillNotices; en.Enabled {
		sc := &ewaybills.Scheduler{Store: p.st, Lead: en.Lead, Every: en.Every, Batch: en.BatchSize,
			Notify: p.relay.Notify, Logger: p.log.With("component", "eway_bill_notices")}
		run("eway_bill_notices", sc.Run)
	}
	run("purge", func(ctx context.Context) error {
		t := time.NewTicker(purgeEvery)
		defer t.Stop()
		for {
			p.purge(ctx, time.Now())
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
	})
}

// purge deletes, as of now, the relayed events older than events.retention
// and the finished webhook deliveries and attempts older than
// webhooks.retention. Failures are logged; the next round tries again.
func (p *pipeline) purge(ctx context.Context, now time.Time) {
	if n, err := p.st.PurgeEvents(ctx, now.Add(-p.cfg.Events.Retention)); err != nil {
		p.log.Warn("purging relayed events", "error", err)
	} else if n > 0 {
		p.log.Info("purged relayed events", "count", n)
	}
	if d, a, err := p.st.PurgeWebhookHistory(ctx, now.Add(-p.cfg.Webhooks.Retention)); err != nil {
		p.log.Warn("purging webhook history", "error", err)
	} else if d+a > 0 {
		p.log.Info("purged webhook history", "deliveries", d, "attempts", a)
	}
}

// wait waits for the parts to stop, then closes the bus.
func (p *pipeline) wait() {
	p.wg.Wait()
	if err := p.bus.Close(); err != nil {
		p.log.Warn("closing the bus", "error", err)
	}
}

// trackCommands carries out commands from the bus through the router; the
// results become events through the recorder like any other call.
type trackCommands struct{ rt *router.Router }

// Track runs one track command. A failure worth retrying (the provider is
// down, rate limited) leaves the command unacknowledged so it comes again; any
// other failure is final and acknowledged.
func (t trackCommands) Track(ctx context.Context, cmd bus.TrackCommand) error {
	body, err := json.Marshal(map[string]any{"tracking_numbers": cmd.TrackingNumbers})
	if err != nil {
		return err
	}
	_, err = t.rt.Invoke(ctx, router.Route{TenantID: cmd.TenantID, ConnectorID: cmd.Connector, Operation: sdk.OpTrack,
		AccountID: cmd.Account, RequestID: "cmd_" + cmd.ID}, body)
	var se *sdk.Error
	if errors.As(err, &se) && !se.Code.Retryable() {
		return nil
	}
	return err
}
