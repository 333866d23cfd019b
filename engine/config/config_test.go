package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/carrierhub/hub/sdk"
)

var update = flag.Bool("update", false, "rewrite REFERENCE.md")

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hub.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultsNeedNoFile(t *testing.T) {
	c, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Listen != "127.0.0.1:8080" || c.Store.DataDir != "./hub-data" || c.Plugins.MaxProcesses != 32 ||
		c.Idempotency.TTL != 24*time.Hour || c.Log.Format != "auto" {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestLayers(t *testing.T) {
	p := write(t, `
server:
  listen: 0.0.0.0:9000
  max_body_bytes: 2048
plugins:
  idle_timeout: 90s
log:
  level: debug
resilience:
  connectors:
    delhivery:
      timeout: 20s
      rate_limit: 0.67
      operations:
        create_shipment:
          max_attempts: 1
`)
	env := []string{
		"HUB_LISTEN=127.0.0.1:7000",    // the compatible alias wins over the file
		"HUB_PLUGINS_MAX_PROCESSES=7",  // every leaf has HUB_<SECTION>_<KEY>
		"HUB_IDEMPOTENCY_TTL=48h",      // durations from text
		"HUB_SECRET_KEY=not-a-setting", // other HUB_ variables are ignored
		"PATH=/usr/bin",                // and everything else
		"HUB_STORE_POSTGRES_URL=postgres://u:pw@db/hub",
	}
	c, err := Load(p, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Listen != "127.0.0.1:7000" || c.Server.MaxBodyBytes != 2048 || c.Plugins.MaxProcesses != 7 ||
		c.Plugins.IdleTimeout != 90*time.Second || c.Idempotency.TTL != 48*time.Hour || c.Log.Level != "debug" ||
		c.Store.PostgresURL != "postgres://u:pw@db/hub" {
		t.Fatalf("layers: %+v", c)
	}
	d := c.Resilience.Connectors["delhivery"]
	if time.Duration(d.Timeout) != 20*time.Second || d.RateLimit != 0.67 || d.Operations[sdk.OpCreateShipment].MaxAttempts != 1 {
		t.Fatalf("resilience overrides: %+v", d)
	}
	if r := c.Redacted(); r.Store.PostgresURL != "[redacted]" || c.Store.PostgresURL == "[redacted]" {
		t.Fatalf("redaction: %q", r.Store.PostgresURL)
	}
}

func TestFileErrorsNameTheLine(t *testing.T) {
	cases := []struct{ body, want string }{
		{"server:\n  listen: 1.2.3.4:5\n  lisen: x\n", `:3: unknown key "lisen"`},
		{"sever:\n  listen: x\n", `:1: unknown key "sever"`},
		{"plugins:\n  idle_timeout: forever\n", `:2: cannot unmarshal`},
		{"log:\n  level: verbose\n", `:2: log.level: "verbose" is not debug, info, warn or error`},
		{"server:\n  listen: nowhere\n", `:2: server.listen: "nowhere" is not host:port`},
		{"plugins:\n  max_processes: 0\n", `:2: plugins.max_processes: must be at least 1`},
		{"resilience:\n  connectors:\n    delhivery:\n      breaker_failure_ratio: 2\n", `:4: resilience.connectors.delhivery.breaker_failure_ratio: must be between 0 and 1`},
		{"resilience:\n  connectors:\n    delhivery:\n      operations:\n        trak: {max_attempts: 2}\n", `resilience.connectors.delhivery.operations: unknown operation "trak"`},
		{"server: [1, 2\n", `:1: did not find expected`},
	}
	for _, c := range cases {
		p := write(t, c.body)
		_, err := Load(p, nil)
		var fe *FileError
		if !errors.As(err, &fe) || !strings.HasPrefix(err.Error(), p) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %s", c.body, err, c.want)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "none.yaml"), nil); err == nil {
		t.Error("a missing file was accepted")
	}
}

func TestEnvironmentValuesAreValidated(t *testing.T) {
	if _, err := Load("", []string{"HUB_PLUGINS_MAX_PROCESSES=lots"}); err == nil {
		t.Error("a non-number was accepted")
	}
	if _, err := Load("", []string{"HUB_LOG_LEVEL=loud"}); err == nil || !strings.Contains(err.Error(), "log.level") {
		t.Errorf("bad level: %v", err)
	}
}

func TestSecretsNeverInErrors(t *testing.T) {
	_, err := Load("", []string{"HUB_POSTGRES_URL=mysql://root:hunter2@db"})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("got %v", err)
	}
}

// TestReferenceIsCurrent keeps REFERENCE.md equal to what the struct says;
// go test ./engine/config -update rewrites it.
func TestReferenceIsCurrent(t *testing.T) {
	want := Reference()
	for _, s := range Settings() {
		if s.Doc == "" {
			t.Errorf("setting %s has no description", s.Key)
		}
	}
	if *update {
		if err := os.WriteFile("REFERENCE.md", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("REFERENCE.md")
	if err != nil || string(got) != want {
		t.Fatalf("REFERENCE.md is stale: go test ./engine/config -update (%v)", err)
	}
}

func TestRetrySchedule(t *testing.T) {
	c, err := Load(write(t, "webhooks:\n  retry_schedule: [0s, 100ms, 1s]\n"), nil)
	if err != nil || len(c.Webhooks.RetrySchedule) != 3 || c.Webhooks.RetrySchedule[2] != time.Second {
		t.Fatalf("from YAML: %v %v", c.Webhooks.RetrySchedule, err)
	}
	c, err = Load("", []string{"HUB_WEBHOOKS_RETRY_SCHEDULE=0s,2s"})
	if err != nil || len(c.Webhooks.RetrySchedule) != 2 || c.Webhooks.RetrySchedule[1] != 2*time.Second {
		t.Fatalf("from the environment: %v %v", c.Webhooks.RetrySchedule, err)
	}
	if _, err := Load("", []string{"HUB_WEBHOOKS_RETRY_SCHEDULE=0s,-1s"}); err == nil || !strings.Contains(err.Error(), "webhooks.retry_schedule") {
		t.Fatalf("a negative delay: %v", err)
	}
	c, err = Load("", []string{"HUB_KAFKA_BROKERS=k1:9092,k2:9092"})
	if err != nil || len(c.Kafka.Brokers) != 2 || c.Kafka.Brokers[1] != "k2:9092" {
		t.Fatalf("brokers from the environment: %v %v", c.Kafka.Brokers, err)
	}
}

func TestSFTPInbound(t *testing.T) {
	c, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := c.SFTPInbound; !s.Enabled || s.Interval != time.Minute || s.Lease != 2*time.Minute ||
		s.DialTimeout != 15*time.Second || s.MaxFileSize != 16<<20 {
		t.Fatalf("sftp_inbound defaults = %+v", s)
	}
	p := write(t, "sftp_inbound:\n  interval: 30s\n  lease: 90s\n  max_file_size: 1048576\n")
	c, err = Load(p, []string{"HUB_SFTP_INBOUND_ENABLED=false", "HUB_SFTP_INBOUND_DIAL_TIMEOUT=5s"})
	if err != nil {
		t.Fatal(err)
	}
	if s := c.SFTPInbound; s.Enabled || s.Interval != 30*time.Second || s.Lease != 90*time.Second ||
		s.DialTimeout != 5*time.Second || s.MaxFileSize != 1<<20 {
		t.Fatalf("sftp_inbound from file and environment = %+v", s)
	}
	for body, want := range map[string]string{
		"sftp_inbound:\n  interval: 100ms\n":                 "hub.yaml:2: sftp_inbound.interval: must be between 1s and 24h",
		"sftp_inbound:\n  lease: 1s\n":                       "hub.yaml:2: sftp_inbound.lease: must be between 10s and 24h",
		"sftp_inbound:\n  dial_timeout: 0s\n":                "hub.yaml:2: sftp_inbound.dial_timeout: must be between 1s and 5m",
		"sftp_inbound:\n  lease: 20s\n  dial_timeout: 30s\n": "hub.yaml:3: sftp_inbound.dial_timeout: must be shorter than sftp_inbound.lease",
		"sftp_inbound:\n  max_file_size: 67108864\n":         "hub.yaml:2: sftp_inbound.max_file_size: must be between 1024 and 33554432 bytes",
		"sftp_inbound:\n  settle: 1s\n":                      `hub.yaml:2: unknown key "settle"`,
	} {
		_, err := Load(write(t, body), nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load(%q) = %v; want %q", body, err, want)
		}
	}
	if _, err := Load("", []string{"HUB_SFTP_INBOUND_INTERVAL=forever"}); err == nil {
		t.Error("a malformed interval in the environment was accepted")
	}
}

func TestEWayBillNoticesAndWebhookRetention(t *testing.T) {
	c, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := c.EWayBillNotices; !n.Enabled || n.Lead != 8*time.Hour || n.Every != time.Minute || n.BatchSize != 100 {
		t.Fatalf("eway_bill_notices defaults = %+v", n)
	}
	if c.Webhooks.Retention != 30*24*time.Hour {
		t.Fatalf("webhooks.retention default = %s", c.Webhooks.Retention)
	}
	p := write(t, "eway_bill_notices:\n  lead: 4h\n  batch_size: 10\nwebhooks:\n  retention: 168h\n")
	c, err = Load(p, []string{"HUB_EWAY_BILL_NOTICES_ENABLED=false"})
	if err != nil {
		t.Fatal(err)
	}
	if n := c.EWayBillNotices; n.Enabled || n.Lead != 4*time.Hour || n.BatchSize != 10 || c.Webhooks.Retention != 168*time.Hour {
		t.Fatalf("from file and environment = %+v, retention %s", n, c.Webhooks.Retention)
	}
	for body, want := range map[string]string{
		"eway_bill_notices:\n  lead: 10s\n":     "eway_bill_notices.lead: must be between 1m and 72h",
		"eway_bill_notices:\n  every: 2h\n":     "eway_bill_notices.every: must be between 1s and 1h",
		"eway_bill_notices:\n  batch_size: 0\n": "eway_bill_notices.batch_size: must be between 1 and 1000",
		"webhooks:\n  retention: 10m\n":         "webhooks.retention: must be at least 1h",
	} {
		_, err := Load(write(t, body), nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load(%q) = %v; want %q", body, err, want)
		}
	}
}

func TestEventsRetention(t *testing.T) {
	c, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Events.Retention != 7*24*time.Hour {
		t.Fatalf("events.retention default = %s", c.Events.Retention)
	}
	c, err = Load(write(t, "events:\n  retention: 72h\n"), []string{"HUB_EVENTS_RETENTION=48h"})
	if err != nil || c.Events.Retention != 48*time.Hour {
		t.Fatalf("events.retention from the environment = %s, %v", c.Events.Retention, err)
	}
	if _, err := Load(write(t, "events:\n  retention: 30m\n"), nil); err == nil || !strings.Contains(err.Error(), "events.retention: must be at least 1h") {
		t.Fatalf("a retention under 1h: %v", err)
	}
}

func TestOverlay(t *testing.T) {
	base, err := Load(write(t, "plugins:\n  max_processes: 8\n  dir: /opt/plugins\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := base.Overlay(map[string]string{
		"server.listen":        "127.0.0.1:0",
		"plugins.idle_timeout": "1m30s", // as a duration flag prints itself
		"store.data_dir":       "/var/lib/hub",
		"log.level":            "debug",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Listen != "127.0.0.1:0" || c.Plugins.IdleTimeout != 90*time.Second || c.Store.DataDir != "/var/lib/hub" || c.Log.Level != "debug" {
		t.Fatalf("overlaid: %+v", c)
	}
	// Settings not named keep their value, from the file or the defaults.
	if c.Plugins.MaxProcesses != 8 || c.Plugins.Dir != "/opt/plugins" || c.Server.MaxBodyBytes != base.Server.MaxBodyBytes {
		t.Fatalf("untouched settings changed: %+v", c)
	}
	if base.Server.Listen != "127.0.0.1:8080" {
		t.Fatalf("Overlay changed its receiver: %s", base.Server.Listen)
	}
	if c, err := base.Overlay(nil); err != nil || c.Plugins.MaxProcesses != 8 {
		t.Fatalf("empty overlay: %v %+v", err, c.Plugins)
	}
	for name, tc := range map[string]struct {
		set  map[string]string
		want string
	}{
		"unknown key":      {map[string]string{"server.tls": "on"}, "server.tls: is not a setting"},
		"map entry":        {map[string]string{"resilience.connectors.<connector>.timeout": "1s"}, "is not a setting"},
		"malformed value":  {map[string]string{"plugins.idle_timeout": "soon"}, `plugins.idle_timeout: "soon" is not a valid duration`},
		"malformed number": {map[string]string{"plugins.max_processes": "many"}, `plugins.max_processes: "many" is not a valid integer`},
		"validated":        {map[string]string{"plugins.max_processes": "0"}, "plugins.max_processes: must be at least 1"},
		"bad listen":       {map[string]string{"server.listen": "nowhere"}, `server.listen: "nowhere" is not host:port`},
	} {
		_, err := base.Overlay(tc.set)
		var fe *FieldError
		if err == nil || !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Overlay(%v) = %v; want a FieldError with %q", name, tc.set, err, tc.want)
		}
	}
	if _, err := base.Overlay(map[string]string{"store.postgres_url": "mysql://hub:hunter2@db/hub"}); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("a bad secret: %v", err)
	}
}
