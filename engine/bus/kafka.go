package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// KafkaConfig points the hub at a Kafka cluster. Topics should exist beforehand on a
// real cluster (one per event family and the commands topic, partitioned for the
// consumers' parallelism); AutoCreateTopics lets the broker create them on first
// use when its own auto.create.topics.enable allows.
type KafkaConfig struct {
	// Brokers are host:port bootstrap addresses.
	Brokers []string
	// MaxMessageBytes is the largest value accepted (default
	// DefaultMaxMessageBytes); keep it at or under the broker's message.max.bytes.
	MaxMessageBytes int
	// DialTimeout bounds connecting to a broker (default 5 s).
	DialTimeout time.Duration
	// AutoCreateTopics asks the broker to create missing topics on publish.
	AutoCreateTopics bool
	// Logger receives consumer errors; nil discards them.
	Logger *slog.Logger
}

// Kafka is the Bus over a Kafka cluster: publishes go through one kafka-go Writer
// (hash-balanced by key, acknowledged by all in-sync replicas); each Subscribe is a
// kafka-go consumer-group Reader that commits an offset only after the handler
// succeeded.
type Kafka struct {
	cfg    KafkaConfig
	writer *kafka.Writer
	dialer *kafka.Dialer
	log    *slog.Logger
}

var _ Bus = (*Kafka)(nil)

// NewKafka checks the configuration and that a broker answers, and returns the bus.
func NewKafka(ctx context.Context, cfg KafkaConfig) (*Kafka, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("bus: kafka: no brokers configured")
	}
	for _, b := range cfg.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			return nil, fmt.Errorf("bus: kafka: broker address %q: %w", b, err)
		}
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dialer := &kafka.Dialer{Timeout: cfg.DialTimeout, DualStack: true}
	var errs []error
	reached := false
	for _, b := range cfg.Brokers {
		conn, err := dialer.DialContext(ctx, "tcp", b)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", b, err))
			continue
		}
		_, err = conn.Brokers()
		_ = conn.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", b, err))
			continue
		}
		reached = true
		break
	}
	if !reached {
		return nil, fmt.Errorf("bus: kafka: no broker reachable: %w", errors.Join(errs...))
	}
	w := &kafka.Writer{
		Addr:                   kafka.TCP(cfg.Brokers...),
		Balancer:               &kafka.Hash{},
		RequiredAcks:           kafka.RequireAll,
		BatchTimeout:           2 * time.Millisecond,
		BatchSize:              1000,
		BatchBytes:             int64(cfg.MaxMessageBytes) + 4096,
		MaxAttempts:            5,
		WriteBackoffMin:        20 * time.Millisecond,
		WriteBackoffMax:        500 * time.Millisecond,
		AllowAutoTopicCreation: cfg.AutoCreateTopics,
		Transport:              &kafka.Transport{Dial: (&net.Dialer{Timeout: cfg.DialTimeout}).DialContext},
	}
	return &Kafka{cfg: cfg, writer: w, dialer: dialer, log: log}, nil
}

// Publish writes one message; see Bus.
func (k *Kafka) Publish(ctx context.Context, topic string, key, value []byte, headers map[string]string) error {
	return k.PublishBatch(ctx, []Message{{Topic: topic, Key: key, Value: value, Headers: headers}})
}

// PublishBatch writes messages in one round trip per partition; see Bus.
func (k *Kafka) PublishBatch(ctx context.Context, msgs []Message) error {
	out := make([]kafka.Message, 0, len(msgs))
	for _, m := range msgs {
		if err := checkTopic(m.Topic); err != nil {
			return err
		}
		if len(m.Value) > k.cfg.MaxMessageBytes {
			return fmt.Errorf("bus: publishing to %s: %d bytes, limit %d: %w", m.Topic, len(m.Value), k.cfg.MaxMessageBytes, ErrTooLarge)
		}
		km := kafka.Message{Topic: m.Topic, Key: m.Key, Value: m.Value}
		for hk, hv := range m.Headers {
			km.Headers = append(km.Headers, kafka.Header{Key: hk, Value: []byte(hv)})
		}
		out = append(out, km)
	}
	if len(out) == 0 {
		return nil
	}
	if err := k.writer.WriteMessages(ctx, out...); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("bus: kafka: publishing: %w", ctx.Err())
		}
		return fmt.Errorf("bus: kafka: publishing to %s: %w", out[0].Topic, err)
	}
	return nil
}

// Subscribe consumes topic in a consumer group; see Bus.
func (k *Kafka) Subscribe(ctx context.Context, topic, group string, h Handler) error {
	if err := checkTopic(topic); err != nil {
		return err
	}
	if group == "" {
		return errors.New("bus: group must not be empty")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:                k.cfg.Brokers,
		GroupID:                group,
		Topic:                  topic,
		Dialer:                 k.dialer,
		MinBytes:               1,
		MaxBytes:               max(10<<20, 2*k.cfg.MaxMessageBytes),
		MaxWait:                200 * time.Millisecond,
		ReadBackoffMin:         20 * time.Millisecond,
		ReadBackoffMax:         200 * time.Millisecond,
		StartOffset:            kafka.FirstOffset,
		CommitInterval:         0, // synchronous: an offset is committed once its handler returned
		HeartbeatInterval:      250 * time.Millisecond,
		SessionTimeout:         6 * time.Second,
		RebalanceTimeout:       2 * time.Second,
		JoinGroupBackoff:       100 * time.Millisecond,
		WatchPartitionChanges:  true,
		PartitionWatchInterval: time.Second,
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			k.log.Debug("kafka reader", "topic", topic, "group", group, "msg", fmt.Sprintf(msg, args...))
		}),
	})
	defer r.Close()
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("bus: kafka: reading %s: %w", topic, err)
		}
		msg := Message{Topic: m.Topic, Key: m.Key, Value: m.Value, Partition: m.Partition, Offset: m.Offset}
		if len(m.Headers) > 0 {
			msg.Headers = make(map[string]string, len(m.Headers))
			for _, hd := range m.Headers {
				msg.Headers[hd.Key] = string(hd.Value)
			}
		}
		for attempt := 1; ; attempt++ {
			herr := h(ctx, msg)
			if herr == nil {
				break
			}
			if ctx.Err() != nil {
				return ctx.Err() // unacknowledged: the group offers it again later
			}
			k.log.Warn("bus handler failed; retrying", "topic", topic, "partition", m.Partition, "offset", m.Offset,
				"attempt", attempt, "err", herr)
			if err := sleepCtx(ctx, retryDelay(attempt)); err != nil {
				return err
			}
		}
		if err := r.CommitMessages(ctx, m); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("bus: kafka: committing %s/%d@%d: %w", topic, m.Partition, m.Offset, err)
		}
	}
}

// Close flushes and closes the writer.
func (k *Kafka) Close() error {
	if err := k.writer.Close(); err != nil && !strings.Contains(err.Error(), "closed") {
		return fmt.Errorf("bus: kafka: closing writer: %w", err)
	}
	return nil
}
