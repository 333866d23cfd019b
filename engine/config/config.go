// Package config is the hub's configuration: one YAML file, overridden by HUB_*
// environment variables, overridden in turn by command-line flags. Every setting
// has a default good enough for the embedded single-node hub, so `hub serve` needs
// no file at all.
//
// Loading is layered with github.com/knadh/koanf (defaults, then the file, then the
// environment), because layering and environment mapping are what koanf does
// well. Checking a file is done separately with go.yaml.in/yaml/v3's strict
// decoder over the same struct, because it keeps line numbers, which koanf loses:
// `hub config validate` names the line of an unknown key or a bad value.
//
// The reference of every setting (REFERENCE.md beside this file, and `hub config
// reference`) is generated from the struct's tags, so it cannot drift from the
// code: a test fails when the committed file is stale.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	kyaml "github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/rawbytes"
	"github.com/knadh/koanf/v2"
	"go.yaml.in/yaml/v3"

	"github.com/carrierhub/hub/engine/resilience"
	"github.com/carrierhub/hub/sdk/transport/egress"
)

// Config is every setting of `hub serve`. Field tags: yaml is the key, env an
// extra environment name kept for compatibility (every leaf also answers to
// HUB_<SECTION>_<KEY>), doc the one-line description for the reference, and
// secret marks values never printed.
type Config struct {
	// Server is the HTTP API.
	Server Server `yaml:"server" doc:"the HTTP API"`
	// Store is where tenants, accounts and events are kept.
	Store Store `yaml:"store" doc:"where tenants, accounts and events are kept"`
	// Log is the hub's own log.
	Log Log `yaml:"log" doc:"the hub's log"`
	// Plugins are the connector processes.
	Plugins Plugins `yaml:"plugins" doc:"connector processes"`
	// Connectors are third-party connectors written as data.
	Connectors Connectors `yaml:"connectors" doc:"third-party connectors written as data (folders of manifest, mappings and exchanges)"`
	// Egress is the guard on connectors' outbound connections.
	Egress Egress `yaml:"egress" doc:"the guard on every outbound connection made for a connector (REST, SOAP, XML over HTTP, OData, SFTP, OAuth2 token URLs): after DNS, loopback, private, unique-local, link-local (cloud metadata), CGNAT, multicast and other non-public addresses are refused unless allowed here"`
	// Idempotency is the replay of creates under an Idempotency-Key.
	Idempotency Idempotency `yaml:"idempotency" doc:"replay of creates under an Idempotency-Key"`
	// Events is the outbox that every event passes through.
	Events Events `yaml:"events" doc:"the outbox every event passes through on its way to webhooks and the bus"`
	// Webhooks is the delivery of events to tenants' endpoints.
	Webhooks Webhooks `yaml:"webhooks" doc:"delivery of events to tenants' webhook endpoints"`
	// TrackingPolls is the poller that asks carriers about shipments no push reports on.
	TrackingPolls TrackingPolls `yaml:"tracking_polls" doc:"polling carriers for the status of shipments no push reports on"`
	// EWayBillNotices emits eway_bill.expiring ahead of e-way bills' expiry.
	EWayBillNotices EWayBillNotices `yaml:"eway_bill_notices" doc:"eway_bill.expiring notices ahead of e-way bills' expiry"`
	// Inbound is the route providers push to.
	Inbound Inbound `yaml:"inbound" doc:"the route providers push to (POST /v1/inbound/{connector}/{account}); every push is authenticated as the connector's manifest declares before the connector sees it"`
	// SFTPInbound polls accounts' SFTP inboxes for status files.
	SFTPInbound SFTPInbound `yaml:"sftp_inbound" doc:"polling accounts' SFTP inboxes for status files (carrier CSVs, EDI 214); an account has an inbox when its sftp_inbox setting is set"`
	// Kafka is the event relay to Kafka topics and the commands consumer.
	Kafka Kafka `yaml:"kafka" doc:"events to Kafka topics and commands from them; an in-process bus when no brokers are set"`
	// Metrics is the Prometheus endpoint.
	Metrics Metrics `yaml:"metrics" doc:"the Prometheus endpoint"`
	// Tracing is OpenTelemetry tracing of the hub and its connector processes.
	Tracing Tracing `yaml:"tracing" doc:"OpenTelemetry tracing of the hub and its connector processes"`
	// Resilience overrides connectors' call policies (their manifests hold the defaults).
	Resilience resilience.Overrides `yaml:"resilience" doc:"overrides of connectors' call policies; manifests hold the defaults"`
}

// Server configures the HTTP API.
type Server struct {
	// Listen is the address to serve HTTP on.
	Listen string `yaml:"listen" env:"HUB_LISTEN" doc:"address to serve HTTP on (host:port)"`
	// MaxBodyBytes bounds request bodies.
	MaxBodyBytes int64 `yaml:"max_body_bytes" doc:"largest request body accepted, in bytes"`
	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout" doc:"time allowed to read a request's headers"`
	// DrainDelay is how long the hub keeps serving after SIGTERM, answering
	// /readyz 503 and closing each connection after its answer, before it stops
	// accepting requests: the time a load balancer needs to stop sending it any.
	DrainDelay time.Duration `yaml:"drain_delay" doc:"time the hub keeps serving after SIGTERM with /readyz answering 503 and every connection closed after its answer, so a load balancer takes it out of rotation before it stops accepting (0: stop at once; a Kubernetes Service needs a few seconds)"`
	// ShutdownGrace is how long in-flight requests may finish on SIGTERM.
	ShutdownGrace time.Duration `yaml:"shutdown_grace" doc:"time in-flight requests get to finish on SIGTERM, after drain_delay"`
}

// Store configures the store.
type Store struct {
	// DataDir holds the embedded SQLite store and the secret key file.
	DataDir string `yaml:"data_dir" env:"HUB_DATA_DIR" doc:"directory of the embedded SQLite store and the secret key file; created with mode 0700, and hub.db, its -wal and -shm, and secret.key are 0600 whatever the umask"`
	// PostgresURL selects Postgres instead of SQLite.
	PostgresURL string `yaml:"postgres_url" env:"HUB_POSTGRES_URL" secret:"true" doc:"use this Postgres database instead of SQLite (postgres://...)"`
}

// Log configures the hub's log.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level" env:"HUB_LOG_LEVEL" doc:"debug, info, warn or error"`
	// Format is json, text, or auto (text on a terminal, JSON otherwise).
	Format string `yaml:"format" env:"HUB_LOG_FORMAT" doc:"json, text, or auto (text on a terminal, json otherwise)"`
}

// Connectors configures where third-party connector folders are loaded from.
type Connectors struct {
	// Dir holds one folder per connector; each is validated at start, and a
	// bad folder is reported and skipped without stopping the others.
	Dir string `yaml:"dir" env:"HUB_CONNECTORS_DIR" doc:"directory of third-party connector folders (manifest.yaml, mappings, testdata/exchanges), one folder per connector; empty: none"`
}

// Egress configures the egress guard (sdk/transport/egress).
type Egress struct {
	// Allow lists the non-public ranges connectors may reach; connector
	// processes get it in HUB_EGRESS_ALLOW.
	Allow []string `yaml:"allow" env:"HUB_EGRESS_ALLOW" doc:"CIDRs (or single addresses) connectors may reach although loopback, private, link-local or otherwise non-public, e.g. 127.0.0.0/8 to try the hub against hub simulate on a laptop; an account whose base_url is a literal address outside it is refused; empty: the public internet only; comma-separated in the environment"`
}

// Policy returns the allow-list as the egress guard's policy. Validate has
// checked it; an entry that does not parse admits nothing (it fails closed).
func (e Egress) Policy() *egress.Policy {
	p, err := egress.Parse(e.Allow)
	if err != nil {
		return &egress.Policy{}
	}
	return p
}

// Plugins configures connector processes.
type Plugins struct {
	// Dir is the directory of third-party connector executables.
	Dir string `yaml:"dir" env:"HUB_PLUGIN_DIR" doc:"directory of third-party connector executables (empty: <data_dir>/plugins); created with mode 0700 when missing"`
	// MaxProcesses caps connector processes running at once.
	MaxProcesses int `yaml:"max_processes" doc:"most connector processes running at once; the least recently used idle one is stopped beyond it"`
	// IdleTimeout stops a connector process unused this long.
	IdleTimeout time.Duration `yaml:"idle_timeout" doc:"stop a connector process unused this long"`
	// MaxCrashes is how many consecutive crashes make the hub give a connector up.
	MaxCrashes int `yaml:"max_crashes" doc:"consecutive crashes (failed starts, or exits within a minute of starting) after which the hub stops restarting a connector and reports it gave_up (down) until the hub restarts"`
}

// Webhooks configures the webhook dispatcher.
type Webhooks struct {
	// Enabled runs the fan-out and the dispatcher.
	Enabled bool `yaml:"enabled" env:"HUB_WEBHOOKS_ENABLED" doc:"fan events out to webhook endpoints and deliver them"`
	// AllowList names internal addresses endpoints may resolve to.
	AllowList []string `yaml:"allow_list" doc:"CIDRs, IPs or host:port that endpoints may reach although private, loopback or link-local (the SSRF guard refuses them otherwise); comma-separated in the environment"`
	// FailingPeriod disables an endpoint failing that long without a success.
	FailingPeriod time.Duration `yaml:"failing_period" doc:"an endpoint failing this long without one success is disabled (webhook.endpoint_disabled)"`
	// Loops is how many claim-send-complete loops run.
	Loops int `yaml:"loops" doc:"delivery loops per hub process; each claims a batch and sends it concurrently"`
	// BatchSize is how many deliveries a loop claims at once.
	BatchSize int `yaml:"batch_size" doc:"deliveries one loop claims at once"`
	// RetrySchedule is the delay before each attempt; empty takes the built-in one.
	RetrySchedule []time.Duration `yaml:"retry_schedule" doc:"delay before each attempt of a delivery (the first is usually 0s); a delivery whose last attempt fails is dead; empty is the built-in 0s, 5s, 5m, 30m, 2h, 5h, 10h, 10h; comma-separated in the environment"`
	// Retention is how long finished deliveries and the attempt log are kept.
	Retention time.Duration `yaml:"retention" doc:"how long succeeded and dead deliveries and the attempt log are kept (and so how far back a replay reaches); pending deliveries are never purged"`
}

// EWayBillNotices configures the e-way bill expiry scheduler (engine/ewaybills).
type EWayBillNotices struct {
	// Enabled runs the scheduler.
	Enabled bool `yaml:"enabled" env:"HUB_EWAY_BILL_NOTICES_ENABLED" doc:"emit eway_bill.expiring ahead of e-way bills' expiry, once per validity"`
	// Lead is how long before expiry the notice is emitted.
	Lead time.Duration `yaml:"lead" doc:"how long before an e-way bill's expiry eway_bill.expiring is emitted; NIC accepts extensions from 8h before expiry"`
	// Every is how often the scheduler looks for bills entering the lead window.
	Every time.Duration `yaml:"every" doc:"how often bills entering the lead window are looked for; a notice is at most this late"`
	// BatchSize is how many notices one store transaction appends.
	BatchSize int `yaml:"batch_size" doc:"notices appended per store transaction (1 to 1000)"`
}

// TrackingPolls configures the tracking poller (engine/inbound).
type TrackingPolls struct {
	// Enabled runs the poller and schedules polls for booked and tracked shipments.
	Enabled bool `yaml:"enabled" env:"HUB_TRACKING_POLLS_ENABLED" doc:"poll carriers for shipments the hub booked or tracked until they reach a terminal status"`
	// Interval is how often an in-transit shipment is polled.
	Interval time.Duration `yaml:"interval" doc:"how often an in-transit shipment is polled; out for delivery polls at a third of it, pending and unknown at twice it, failures back off from it up to 6h"`
	// BatchSize is the most tracking numbers one track call carries.
	BatchSize int `yaml:"batch_size" doc:"most tracking numbers in one track call (1 to 50); due shipments are grouped by tenant, connector and account"`
	// PushSilence defers polls of a shipment a push just reported on.
	PushSilence time.Duration `yaml:"push_silence" doc:"after a carrier push about a shipment, its next poll waits this long: polling resumes only when pushes fall silent"`
}

// Inbound configures the inbound route (engine/api, engine/inbound).
type Inbound struct {
	// RateLimit is how many pushes a second an account id may send.
	RateLimit float64 `yaml:"rate_limit" doc:"pushes a second each account id may send to the inbound route (a token bucket per id, ids of no account included, so a 429 does not tell which exist); more are answered 429 with Retry-After"`
	// Burst is how many pushes an account id may send at once.
	Burst int `yaml:"burst" doc:"pushes an account id may send at once above rate_limit (the bucket's size)"`
}

// SFTPInbound configures the SFTP inbox (engine/inbound.Inbox).
type SFTPInbound struct {
	// Enabled runs the inbox.
	Enabled bool `yaml:"enabled" env:"HUB_SFTP_INBOUND_ENABLED" doc:"poll the SFTP inbox of every account with an sftp_inbox setting and hand each status file to the account's connector's receive_push, once"`
	// Interval is how often each inbox is polled.
	Interval time.Duration `yaml:"interval" doc:"how often each inbox is polled, plus up to a tenth at random; a file is taken once it is unchanged since the previous poll"`
	// Lease is how long a replica's claim on an inbox lasts without renewal.
	Lease time.Duration `yaml:"lease" doc:"how long a replica's claim on an inbox lasts; renewed while it polls, so a lease longer than the interval keeps an inbox with one replica, and another takes over this long after it dies"`
	// DialTimeout bounds connecting and the SSH handshake.
	DialTimeout time.Duration `yaml:"dial_timeout" doc:"time allowed to connect to an SFTP server and complete the SSH handshake"`
	// MaxFileSize is the largest status file taken.
	MaxFileSize int64 `yaml:"max_file_size" doc:"largest status file taken, in bytes (at most 32 MiB); a larger one is moved to the inbox's failed directory"`
}

// Kafka configures the Kafka relay and commands consumer.
type Kafka struct {
	// Brokers are bootstrap host:port addresses; none means the in-process bus.
	Brokers []string `yaml:"brokers" env:"HUB_KAFKA_BROKERS" doc:"bootstrap brokers (host:port); empty runs the in-process bus; comma-separated in the environment"`
	// TopicPrefix starts every topic name.
	TopicPrefix string `yaml:"topic_prefix" doc:"events go to <prefix>.events.<family> keyed by subject; commands come from <prefix>.commands"`
	// Group is the commands consumer group.
	Group string `yaml:"group" doc:"consumer group of the commands consumer"`
}

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	// Enabled serves GET /metrics on the API's listener.
	Enabled bool `yaml:"enabled" env:"HUB_METRICS_ENABLED" doc:"serve GET /metrics (Prometheus exposition) on the API's listener, unauthenticated: restrict it at the network"`
}

// Tracing configures OpenTelemetry tracing.
type Tracing struct {
	// Exporter is none or otlp.
	Exporter string `yaml:"exporter" env:"HUB_TRACING_EXPORTER" doc:"none (no spans recorded; W3C traceparent still passed on to connectors and carriers, and, kept with each event in the outbox, to webhook receivers and Kafka consumers) or otlp"`
	// Endpoint is the OTLP collector's base URL.
	Endpoint string `yaml:"endpoint" env:"HUB_TRACING_ENDPOINT" doc:"OTLP collector base URL, http:// or https:// (TLS); /v1/traces is appended for protocol http; empty: localhost on 4318 (http) or 4317 (grpc)"`
	// Protocol is http or grpc.
	Protocol string `yaml:"protocol" env:"HUB_TRACING_PROTOCOL" doc:"OTLP protocol: http (protobuf over HTTP) or grpc"`
	// Headers are sent to the collector with every export.
	Headers string `yaml:"headers" env:"HUB_TRACING_HEADERS" secret:"true" doc:"headers sent to the collector, key=value pairs separated by commas, URL-encoded (as OTEL_EXPORTER_OTLP_HEADERS); connector processes get them too"`
	// SampleRatio is the fraction of new traces recorded.
	SampleRatio float64 `yaml:"sample_ratio" env:"HUB_TRACING_SAMPLE_RATIO" doc:"fraction of traces started at the hub that are recorded, 0 to 1; a caller's traceparent decides for its own trace"`
	// ServiceName is the hub's service.name.
	ServiceName string `yaml:"service_name" env:"HUB_TRACING_SERVICE_NAME" doc:"service.name of the hub's spans; connector processes report as {service_name}-connector-{id}"`
}

// Idempotency configures replays.
type Idempotency struct {
	// TTL is how long a create's answer is replayed.
	TTL time.Duration `yaml:"ttl" doc:"how long a create's first answer is replayed to retries with the same key"`
	// SettleAfter is how long a retry waits before the hub settles a create of
	// unknown outcome.
	SettleAfter time.Duration `yaml:"settle_after" doc:"a create that may have reached the provider without an answer (connector process died, timed out after sending) is answered 502 outcome_unknown with this Retry-After; a retry with the same Idempotency-Key is settled (the result looked up, or the caller asked to confirm) no sooner, so the provider has finished with the lost request (1s to 10m)"`
}

// Events configures the event outbox.
type Events struct {
	// Retention is how long an event every sink has taken stays in the outbox
	// before the hourly purge deletes it.
	Retention time.Duration `yaml:"retention" doc:"how long an event stays in the outbox once every sink (webhook fan-out, bus) has taken it, for replays and sinks that start late; the hourly purge deletes it then (default 7 days); events still owed to a sink are never purged"`
}

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		Server: Server{
			Listen:            "127.0.0.1:8080",
			MaxBodyBytes:      10 << 20,
			ReadHeaderTimeout: 10 * time.Second,
			ShutdownGrace:     30 * time.Second,
		},
		Store:           Store{DataDir: "./hub-data"},
		Log:             Log{Level: "info", Format: "auto"},
		Plugins:         Plugins{MaxProcesses: 32, IdleTimeout: 10 * time.Minute, MaxCrashes: 10},
		Idempotency:     Idempotency{TTL: 24 * time.Hour, SettleAfter: 5 * time.Second},
		Events:          Events{Retention: 7 * 24 * time.Hour},
		Metrics:         Metrics{Enabled: true},
		Webhooks:        Webhooks{Enabled: true, FailingPeriod: 5 * 24 * time.Hour, Loops: 4, BatchSize: 100, Retention: 30 * 24 * time.Hour},
		Kafka:           Kafka{TopicPrefix: "hub", Group: "hub"},
		TrackingPolls:   TrackingPolls{Enabled: true, Interval: 15 * time.Minute, BatchSize: 50, PushSilence: 6 * time.Hour},
		EWayBillNotices: EWayBillNotices{Enabled: true, Lead: 8 * time.Hour, Every: time.Minute, BatchSize: 100},
		Inbound:         Inbound{RateLimit: 20, Burst: 100},
		SFTPInbound:     SFTPInbound{Enabled: true, Interval: time.Minute, Lease: 2 * time.Minute, DialTimeout: 15 * time.Second, MaxFileSize: 16 << 20},
		Tracing:         Tracing{Exporter: "none", Protocol: "http", SampleRatio: 1, ServiceName: "hub"},
	}
}

// MaxFileBytes bounds a configuration file.
const MaxFileBytes = 1 << 20

// Load builds the configuration from the defaults, the YAML file at path (none
// when empty) and the environment (environ, usually os.Environ()), in that order,
// and validates it. A file with an unknown key or a bad value is refused with its
// line; see Check.
func Load(path string, environ []string) (Config, error) {
	var data []byte
	if path != "" {
		b, err := readFile(path)
		if err != nil {
			return Config{}, err
		}
		if err := Check(path, b); err != nil {
			return Config{}, err
		}
		data = b
	}
	return load(data, environ)
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("config: reading %s: %w", path, err)
	}
	if n > MaxFileBytes {
		return nil, fmt.Errorf("config: %s is larger than %d bytes", path, MaxFileBytes)
	}
	return buf.Bytes(), nil
}

func load(data []byte, environ []string) (Config, error) {
	k := koanf.New(".")
	if len(data) > 0 {
		if err := k.Load(rawbytes.Provider(data), kyaml.Parser()); err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
	}
	names := envNames()
	envp := env.Provider(".", env.Opt{
		Prefix:      "HUB_",
		EnvironFunc: func() []string { return environ },
		TransformFunc: func(k, v string) (string, any) {
			// HUB_* variables that are not settings (HUB_SECRET_KEY, HUB_URL) are
			// read elsewhere; they are skipped here.
			path, ok := names[k]
			if !ok {
				return "", nil
			}
			return path, v
		},
	})
	if err := k.Load(envp, nil); err != nil {
		return Config{}, fmt.Errorf("config: environment: %w", err)
	}
	c := Default()
	err := k.UnmarshalWithConf("", &c, koanf.UnmarshalConf{Tag: "yaml", DecoderConfig: decoderConfig(&c)})
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Check decodes a configuration file strictly: an unknown key, a value of the
// wrong type or a value out of range is an error naming file:line and the key.
func Check(path string, data []byte) error {
	c := Default()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return yamlError(path, err)
	}
	if err := c.Validate(); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			return &FileError{File: path, Line: lineOf(data, fe.Key), Err: err}
		}
		return &FileError{File: path, Err: err}
	}
	return nil
}

var (
	unknownField = regexp.MustCompile(`^line (\d+): field (\S+) not found in type \S+$`)
	atLine       = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
)

// yamlError turns the YAML decoder's error into a FileError with the first
// problem's line: unknown keys are named as such.
func yamlError(path string, err error) error {
	var te *yaml.TypeError
	msg := err.Error()
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	if m := unknownField.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &FileError{File: path, Line: line, Err: fmt.Errorf("unknown key %q (hub config reference lists every setting)", m[2])}
	}
	if m := atLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &FileError{File: path, Line: line, Err: errors.New(m[2])}
	}
	return &FileError{File: path, Err: err}
}

// FileError is a problem in a configuration file.
type FileError struct {
	// File is the file's path.
	File string
	// Line is the offending line, when known (yaml's own errors carry theirs).
	Line int
	// Err is the problem.
	Err error
}

// Error returns "file:line: problem".
func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	msg := e.Err.Error()
	msg = strings.TrimPrefix(msg, "yaml: unmarshal errors:\n  ")
	msg = strings.ReplaceAll(msg, "\n  ", "; ")
	msg = strings.TrimPrefix(msg, "yaml: ")
	return fmt.Sprintf("%s: %s", e.File, msg)
}

// Unwrap returns the problem.
func (e *FileError) Unwrap() error { return e.Err }

// FieldError is a setting with a bad value.
type FieldError struct {
	// Key is the setting's dotted path (server.listen).
	Key string
	// Msg says what is wrong.
	Msg string
}

// Error returns "key: problem".
func (e *FieldError) Error() string { return e.Key + ": " + e.Msg }

// Validate checks every value is usable.
func (c *Config) Validate() error {
	bad := func(key, format string, args ...any) error {
		return &FieldError{Key: key, Msg: fmt.Sprintf(format, args...)}
	}
	if _, _, err := net.SplitHostPort(c.Server.Listen); err != nil {
		return bad("server.listen", "%q is not host:port", c.Server.Listen)
	}
	if c.Server.MaxBodyBytes < 1024 {
		return bad("server.max_body_bytes", "must be at least 1024, got %d", c.Server.MaxBodyBytes)
	}
	if c.Server.ReadHeaderTimeout <= 0 {
		return bad("server.read_header_timeout", "must be positive")
	}
	if c.Server.DrainDelay < 0 || c.Server.DrainDelay > 10*time.Minute {
		return bad("server.drain_delay", "must be 0 to 10m, got %s", c.Server.DrainDelay)
	}
	if c.Server.ShutdownGrace < 0 {
		return bad("server.shutdown_grace", "must not be negative")
	}
	if c.Store.DataDir == "" && c.Store.PostgresURL == "" {
		return bad("store.data_dir", "must be set when store.postgres_url is not")
	}
	if u := c.Store.PostgresURL; u != "" && !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
		return bad("store.postgres_url", "must start with postgres:// or postgresql://")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Log.Level)); err != nil {
		return bad("log.level", "%q is not debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "auto", "json", "text":
	default:
		return bad("log.format", "%q is not auto, json or text", c.Log.Format)
	}
	if _, err := egress.Parse(c.Egress.Allow); err != nil {
		return bad("egress.allow", "%s", err)
	}
	if c.Plugins.MaxProcesses < 1 {
		return bad("plugins.max_processes", "must be at least 1, got %d", c.Plugins.MaxProcesses)
	}
	if c.Plugins.MaxCrashes < 1 {
		return bad("plugins.max_crashes", "must be at least 1, got %d", c.Plugins.MaxCrashes)
	}
	if c.Plugins.IdleTimeout < time.Second {
		return bad("plugins.idle_timeout", "must be at least 1s, got %s", c.Plugins.IdleTimeout)
	}
	if err := c.validateTracing(); err != nil {
		return err
	}
	if c.Events.Retention < time.Hour {
		return bad("events.retention", "must be at least 1h, got %s", c.Events.Retention)
	}
	if c.Webhooks.Retention < time.Hour {
		return bad("webhooks.retention", "must be at least 1h, got %s", c.Webhooks.Retention)
	}
	if n := c.EWayBillNotices; n.Lead < time.Minute || n.Lead > 72*time.Hour {
		return bad("eway_bill_notices.lead", "must be between 1m and 72h, got %s", n.Lead)
	} else if n.Every < time.Second || n.Every > time.Hour {
		return bad("eway_bill_notices.every", "must be between 1s and 1h, got %s", n.Every)
	} else if n.BatchSize < 1 || n.BatchSize > 1000 {
		return bad("eway_bill_notices.batch_size", "must be between 1 and 1000, got %d", n.BatchSize)
	}
	if c.Webhooks.FailingPeriod < time.Minute {
		return bad("webhooks.failing_period", "must be at least 1m, got %s", c.Webhooks.FailingPeriod)
	}
	if c.Webhooks.Loops < 1 || c.Webhooks.Loops > 64 {
		return bad("webhooks.loops", "must be between 1 and 64, got %d", c.Webhooks.Loops)
	}
	if c.Webhooks.BatchSize < 1 || c.Webhooks.BatchSize > 1000 {
		return bad("webhooks.batch_size", "must be between 1 and 1000, got %d", c.Webhooks.BatchSize)
	}
	if len(c.Webhooks.RetrySchedule) > 32 {
		return bad("webhooks.retry_schedule", "must have at most 32 attempts, got %d", len(c.Webhooks.RetrySchedule))
	}
	for _, d := range c.Webhooks.RetrySchedule {
		if d < 0 || d > 24*time.Hour {
			return bad("webhooks.retry_schedule", "delays must be between 0s and 24h, got %s", d)
		}
	}
	if c.TrackingPolls.Interval < time.Second || c.TrackingPolls.Interval > 24*time.Hour {
		return bad("tracking_polls.interval", "must be between 1s and 24h, got %s", c.TrackingPolls.Interval)
	}
	if c.TrackingPolls.BatchSize < 1 || c.TrackingPolls.BatchSize > 50 {
		return bad("tracking_polls.batch_size", "must be between 1 and 50 (a track request's limit), got %d", c.TrackingPolls.BatchSize)
	}
	if c.TrackingPolls.PushSilence < 0 || c.TrackingPolls.PushSilence > 7*24*time.Hour {
		return bad("tracking_polls.push_silence", "must be between 0s and 168h, got %s", c.TrackingPolls.PushSilence)
	}
	if r := c.Inbound.RateLimit; r <= 0 || r > 100000 {
		return bad("inbound.rate_limit", "must be more than 0 and at most 100000, got %g", r)
	}
	if b := c.Inbound.Burst; b < 1 || b > 100000 {
		return bad("inbound.burst", "must be between 1 and 100000, got %d", b)
	}
	if err := c.validateSFTPInbound(); err != nil {
		return err
	}
	for _, b := range c.Kafka.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			return bad("kafka.brokers", "%q is not host:port", b)
		}
	}
	if c.Kafka.TopicPrefix == "" || strings.ContainsAny(c.Kafka.TopicPrefix, " /") {
		return bad("kafka.topic_prefix", "must be a non-empty topic name part")
	}
	if c.Idempotency.TTL < time.Minute {
		return bad("idempotency.ttl", "must be at least 1m, got %s", c.Idempotency.TTL)
	}
	if c.Idempotency.SettleAfter < time.Second || c.Idempotency.SettleAfter > 10*time.Minute {
		return bad("idempotency.settle_after", "must be 1s to 10m, got %s", c.Idempotency.SettleAfter)
	}
	if err := c.Resilience.Validate(); err != nil {
		// Its errors read "connectors.x.operations: unknown ..." or
		// "connectors.x.knob must be ...": the key is the first word.
		text := err.Error()
		i := strings.IndexAny(text, ": ")
		if i < 0 {
			return &FieldError{Key: "resilience", Msg: text}
		}
		return &FieldError{Key: "resilience." + text[:i], Msg: strings.TrimLeft(text[i:], ": ")}
	}
	return nil
}

// maxSFTPFileSize bounds sftp_inbound.max_file_size: a file travels to its
// connector base64-encoded in one message, which must stay under the plugin
// protocol's 64 MiB.
const maxSFTPFileSize = 32 << 20

func (c *Config) validateSFTPInbound() error {
	bad := func(key, format string, args ...any) error {
		return &FieldError{Key: "sftp_inbound." + key, Msg: fmt.Sprintf(format, args...)}
	}
	s := c.SFTPInbound
	if s.Interval < time.Second || s.Interval > 24*time.Hour {
		return bad("interval", "must be between 1s and 24h, got %s", s.Interval)
	}
	if s.Lease < 10*time.Second || s.Lease > 24*time.Hour {
		return bad("lease", "must be between 10s and 24h, got %s", s.Lease)
	}
	if s.DialTimeout < time.Second || s.DialTimeout > 5*time.Minute {
		return bad("dial_timeout", "must be between 1s and 5m, got %s", s.DialTimeout)
	}
	if s.DialTimeout >= s.Lease {
		return bad("dial_timeout", "must be shorter than sftp_inbound.lease (%s), got %s", s.Lease, s.DialTimeout)
	}
	if s.MaxFileSize < 1024 || s.MaxFileSize > maxSFTPFileSize {
		return bad("max_file_size", "must be between 1024 and %d bytes, got %d", maxSFTPFileSize, s.MaxFileSize)
	}
	return nil
}

func (c *Config) validateTracing() error {
	bad := func(key, format string, args ...any) error {
		return &FieldError{Key: "tracing." + key, Msg: fmt.Sprintf(format, args...)}
	}
	t := c.Tracing
	switch t.Exporter {
	case "none", "otlp":
	default:
		return bad("exporter", "%q is not none or otlp", t.Exporter)
	}
	switch t.Protocol {
	case "http", "grpc":
	default:
		return bad("protocol", "%q is not http or grpc", t.Protocol)
	}
	if t.Endpoint != "" {
		// The URL is not quoted back: it may hold credentials.
		u, err := url.Parse(t.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad("endpoint", "must be an http:// or https:// URL with a host")
		}
	}
	if t.SampleRatio < 0 || t.SampleRatio > 1 {
		return bad("sample_ratio", "must be between 0 and 1, got %g", t.SampleRatio)
	}
	if strings.TrimSpace(t.ServiceName) == "" {
		return bad("service_name", "must not be empty")
	}
	if err := checkHeaders(t.Headers); err != nil {
		return bad("headers", "%s", err)
	}
	return nil
}

// checkHeaders checks OTLP headers (key=value pairs separated by commas)
// without quoting a value, which is a secret.
func checkHeaders(s string) error {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	for i, pair := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(pair, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return fmt.Errorf("pair %d is not key=value", i+1)
		}
		if _, err := url.PathUnescape(k); err != nil {
			return fmt.Errorf("pair %d has a badly escaped key", i+1)
		}
		if _, err := url.PathUnescape(v); err != nil {
			return fmt.Errorf("pair %d has a badly escaped value", i+1)
		}
	}
	return nil
}

// LogLevel returns the parsed log level (Validate has checked it).
func (c *Config) LogLevel() slog.Level {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Log.Level))
	return level
}

// Redacted returns a copy with secrets replaced, for printing.
func (c Config) Redacted() Config {
	if c.Store.PostgresURL != "" {
		c.Store.PostgresURL = "[redacted]"
	}
	if c.Tracing.Headers != "" {
		c.Tracing.Headers = "[redacted]"
	}
	return c
}

// lineOf finds the line of a dotted key in a YAML document; 0 when absent.
func lineOf(data []byte, key string) int {
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil || len(root.Content) == 0 {
		return 0
	}
	n := root.Content[0]
	line := 0
	for _, part := range strings.Split(key, ".") {
		if n.Kind != yaml.MappingNode {
			return line
		}
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == part {
				line, n, found = n.Content[i].Line, n.Content[i+1], true
				break
			}
		}
		if !found {
			return line
		}
	}
	if n.Kind == yaml.ScalarNode {
		return n.Line
	}
	return line
}

// decoderConfig is how koanf's flattened values land in the struct: durations and
// other text-typed values parsed, environment strings converted, embedded structs
// (resilience policies) squashed like yaml's inline.
func decoderConfig(out *Config) *mapstructure.DecoderConfig {
	return &mapstructure.DecoderConfig{
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			// Weak: a comma-separated string fills any list (of durations too), not only []string.
			mapstructure.StringToWeakSliceHookFunc(","),
			mapstructure.TextUnmarshallerHookFunc(),
		),
		Metadata:         nil,
		Result:           out,
		TagName:          "yaml",
		WeaklyTypedInput: true,
		Squash:           true,
	}
}
