package inbound

import (
	"strings"
	"testing"

	"github.com/carrierhub/hub/engine/store"
)

func sampleInboxAccount(settings, creds map[string]string) store.Account {
	s := map[string]string{"sftp_inbox": "/incoming/status", "sftp_host": "sftp.carrier.example", "sftp_user": "acme",
		"sftp_known_hosts": "sftp.carrier.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"}
	for k, v := range settings {
		if v == "<unset>" {
			delete(s, k)
		} else {
			s[k] = v
		}
	}
	if creds == nil {
		creds = map[string]string{"sftp_password": "hunter2-SECRET"}
	}
	return store.Account{ID: "acc_x", Settings: s, Credentials: creds}
}

func TestParseInboxSettingsDefaults(t *testing.T) {
	s, ok, err := parseInboxSettings(sampleInboxAccount(nil, nil))
	if err != nil || !ok {
		t.Fatalf("parse = %v, %v", ok, err)
	}
	if s.inbox != "/incoming/status" || s.port != 22 || s.pattern != "*" || s.archive != "archive" ||
		s.failed != "failed" || s.processing != ".processing" || s.password != "hunter2-SECRET" {
		t.Fatalf("defaults = %+v", s)
	}
	if got := s.leaseKey(); got != "sftp://acme@sftp.carrier.example:22/incoming/status" {
		t.Fatalf("leaseKey = %q", got)
	}
	if _, ok, err := parseInboxSettings(store.Account{Settings: map[string]string{"label": "4x6"}}); ok || err != nil {
		t.Fatalf("an account without sftp_inbox = %v, %v; want no inbox", ok, err)
	}
	s2, _, _ := parseInboxSettings(sampleInboxAccount(map[string]string{
		"sftp_port": "2222", "sftp_pattern": "*.CSV", "sftp_archive": "/incoming/status/done/2026",
		"sftp_failed": "bad", "sftp_processing": "work/"}, map[string]string{"sftp_private_key": "-----BEGIN OPENSSH PRIVATE KEY-----"}))
	if s2 == nil || s2.port != 2222 || s2.archive != "done/2026" || s2.failed != "bad" || s2.processing != "work" || s2.pattern != "*.CSV" {
		t.Fatalf("explicit settings = %+v", s2)
	}
	// A change of any setting or credential changes the fingerprint.
	s3, _, _ := parseInboxSettings(sampleInboxAccount(nil, map[string]string{"sftp_password": "changed"}))
	if s3.fingerprint == s.fingerprint || strings.Contains(s.fingerprint, "hunter2") {
		t.Fatal("fingerprint does not follow the credentials, or holds them")
	}
}

func TestParseInboxSettingsErrors(t *testing.T) {
	cases := []struct {
		name     string
		settings map[string]string
		creds    map[string]string
		key      string
	}{
		{"no host", map[string]string{"sftp_host": "<unset>"}, nil, "sftp_host"},
		{"host with path", map[string]string{"sftp_host": "example.com/x"}, nil, "sftp_host"},
		{"no user", map[string]string{"sftp_user": ""}, nil, "sftp_user"},
		{"port text", map[string]string{"sftp_port": "ssh"}, nil, "sftp_port"},
		{"port zero", map[string]string{"sftp_port": "0"}, nil, "sftp_port"},
		{"port high", map[string]string{"sftp_port": "65536"}, nil, "sftp_port"},
		{"no known hosts", map[string]string{"sftp_known_hosts": " "}, nil, "sftp_known_hosts"},
		{"bad glob", map[string]string{"sftp_pattern": "[a-"}, nil, "sftp_pattern"},
		{"glob with dir", map[string]string{"sftp_pattern": "sub/*.csv"}, nil, "sftp_pattern"},
		{"inbox dotdot", map[string]string{"sftp_inbox": "/incoming/../etc"}, nil, "sftp_inbox"},
		{"inbox control", map[string]string{"sftp_inbox": "in\nbox"}, nil, "sftp_inbox"},
		{"archive outside", map[string]string{"sftp_archive": "/archive"}, nil, "sftp_archive"},
		{"archive is inbox", map[string]string{"sftp_archive": "/incoming/status/"}, nil, "sftp_archive"},
		{"archive dotdot", map[string]string{"sftp_archive": "../archive"}, nil, "sftp_archive"},
		{"failed is dot", map[string]string{"sftp_failed": "."}, nil, "sftp_failed"},
		{"processing is archive", map[string]string{"sftp_processing": "archive"}, nil, "sftp_processing"},
		{"absolute dir under relative inbox", map[string]string{"sftp_inbox": "drop", "sftp_failed": "/drop/failed"}, nil, "sftp_failed"},
		{"no credentials", nil, map[string]string{"sftp_passphrase": "x"}, "credentials"},
	}
	for _, c := range cases {
		_, ok, err := parseInboxSettings(sampleInboxAccount(c.settings, c.creds))
		if !ok || err == nil {
			t.Errorf("%s: parse = %v, %v; want an error", c.name, ok, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), c.key+": ") {
			t.Errorf("%s: error %q does not name %s", c.name, err, c.key)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: error quotes a credential", c.name)
		}
	}
}

func TestContentTypeOf(t *testing.T) {
	for name, want := range map[string]string{
		"status.csv": "text/csv", "STATUS.CSV": "text/csv", "x.edi": "application/edi-x12",
		"x.X12": "application/edi-x12", "0501.214": "application/edi-x12", "notes.txt": "application/octet-stream",
		"noext": "application/octet-stream", "archive.csv.gz": "application/octet-stream",
	} {
		if got := ContentTypeOf(name); got != want {
			t.Errorf("ContentTypeOf(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestJournalKey(t *testing.T) {
	if got := journalKey("file/", "a b.csv:10:1714550400"); got != "file/a b.csv:10:1714550400" {
		t.Fatalf("plain key = %q", got)
	}
	for _, odd := range []string{"line\nbreak.csv:1:2", "\xff\xfe.csv:1:2", strings.Repeat("n", store.MaxSFTPKeyLen) + ":1:2", "c1\u0085.csv:1:2"} {
		got := journalKey("claim/", odd)
		if !strings.HasPrefix(got, "claim/sha256:") || len(got) != len("claim/sha256:")+64 {
			t.Errorf("journalKey(%.20q) = %q; want a hash", odd, got)
		}
	}
	if journalKey("file/", "x\n") == journalKey("file/", "y\n") {
		t.Fatal("two odd keys share a hash")
	}
}
