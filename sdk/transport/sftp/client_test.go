package sftp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/carrierhub/hub/sdk"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	s := startSSHD(t)
	c := s.dial(t, nil)
	ctx := context.Background()
	if !c.posixRen || !c.fsync {
		t.Errorf("OpenSSH offers posix-rename and fsync; client saw posix-rename=%v fsync=%v", c.posixRen, c.fsync)
	}
	if err := c.MkdirAll(ctx, "out/2026"); err != nil {
		t.Fatal(err)
	}
	n, err := c.Upload(ctx, "out/2026/manifest.csv", strings.NewReader("awb,pin\n123,110001\n"))
	if err != nil || n != 19 {
		t.Fatalf("upload: %d, %v", n, err)
	}
	got, err := os.ReadFile(s.local("out/2026/manifest.csv"))
	if err != nil || string(got) != "awb,pin\n123,110001\n" {
		t.Fatalf("on the server: %q, %v", got, err)
	}
	data, err := c.Download(ctx, "out/2026/manifest.csv")
	if err != nil || string(data) != string(got) {
		t.Fatalf("download: %q, %v", data, err)
	}
	fi, err := c.Stat(ctx, "out/2026/manifest.csv")
	if err != nil || fi.Size != 19 || !fi.Regular || fi.Name != "manifest.csv" {
		t.Fatalf("stat: %+v, %v", fi, err)
	}
	s.put(t, "out/2026/.hidden.csv", "x")
	s.put(t, "out/2026/other.txt", "x")
	list, err := c.List(ctx, "out/2026", "*.csv")
	if err != nil || len(list) != 1 || list[0].Name != "manifest.csv" {
		t.Fatalf("list *.csv: %+v, %v", list, err)
	}
	if list, _ := c.List(ctx, "out/2026", ".*"); len(list) != 1 || list[0].Name != ".hidden.csv" {
		t.Fatalf("list .*: %+v", list)
	}
	_, err = c.List(ctx, "out", "[")
	wantCode(t, err, sdk.CodeInvalidRequest)

	if err := c.Remove(ctx, "out/2026/manifest.csv"); err != nil {
		t.Fatal(err)
	}
	_, err = c.Download(ctx, "out/2026/manifest.csv")
	wantCode(t, err, sdk.CodeNotFound)
	wantCode(t, c.Remove(ctx, "out/2026/manifest.csv"), sdk.CodeNotFound)
	_, err = c.Stat(ctx, "nope/x.csv")
	wantCode(t, err, sdk.CodeNotFound)
	_, err = c.List(ctx, "nope", "")
	wantCode(t, err, sdk.CodeNotFound)

	// Rename refuses to replace: the claim primitive.
	s.put(t, "a", "1")
	s.put(t, "b", "2")
	wantCode(t, c.Rename(ctx, "a", "b"), sdk.CodeConflict)
	if err := c.Rename(ctx, "a", "c"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.Rename(ctx, "a", "d"), sdk.CodeNotFound)
}

// blockingReader yields first, then blocks until release is closed or fail
// receives an error.
type blockingReader struct {
	first   []byte
	rest    []byte
	blocked bool
	reached chan struct{}
	release chan struct{}
	fail    chan error
}

func newBlockingReader(first, rest string) *blockingReader {
	return &blockingReader{first: []byte(first), rest: []byte(rest), reached: make(chan struct{}),
		release: make(chan struct{}), fail: make(chan error, 1)}
}

func (r *blockingReader) Read(p []byte) (int, error) {
	if len(r.first) > 0 {
		n := copy(p, r.first)
		r.first = r.first[n:]
		return n, nil
	}
	if !r.blocked {
		r.blocked = true
		close(r.reached)
		select {
		case <-r.release:
		case err := <-r.fail:
			return 0, err
		}
	}
	if len(r.rest) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.rest)
	r.rest = r.rest[n:]
	return n, nil
}

// tempFiles lists upload temporaries left in dir.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, ".*.tmp"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestUploadAtomic(t *testing.T) {
	t.Parallel()
	s := startSSHD(t)
	c := s.dial(t, nil)
	ctx := context.Background()

	// A new file: while the upload is half done nothing is under the final name.
	r := newBlockingReader("half of it,", " and the rest\n")
	done := make(chan error, 1)
	go func() { _, err := c.Upload(ctx, "label.pdf", r); done <- err }()
	<-r.reached
	if _, err := os.Stat(s.local("label.pdf")); !os.IsNotExist(err) {
		t.Fatalf("final name exists mid-upload: %v", err)
	}
	if tmp := tempFiles(t, s.root); len(tmp) != 1 {
		t.Fatalf("want one temporary file mid-upload, got %v", tmp)
	}
	close(r.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(s.local("label.pdf")); string(got) != "half of it, and the rest\n" {
		t.Fatalf("final content %q", got)
	}
	if tmp := tempFiles(t, s.root); len(tmp) != 0 {
		t.Fatalf("temporaries left: %v", tmp)
	}

	// Replacing: the old content stays whole until the rename; a failed upload
	// leaves it untouched and removes its temporary.
	r = newBlockingReader("new", " content")
	go func() { _, err := c.Upload(ctx, "label.pdf", r); done <- err }()
	<-r.reached
	if got, _ := os.ReadFile(s.local("label.pdf")); string(got) != "half of it, and the rest\n" {
		t.Fatalf("old content disturbed mid-upload: %q", got)
	}
	r.fail <- errors.New("the caller's reader broke")
	err := <-done
	if err == nil || !strings.Contains(err.Error(), "reader broke") {
		t.Fatalf("want the reader's error, got %v", err)
	}
	if got, _ := os.ReadFile(s.local("label.pdf")); string(got) != "half of it, and the rest\n" {
		t.Fatalf("old content changed by a failed upload: %q", got)
	}
	if tmp := tempFiles(t, s.root); len(tmp) != 0 {
		t.Fatalf("temporaries left after failure: %v", tmp)
	}
	if _, err := c.Upload(ctx, "label.pdf", strings.NewReader("v2")); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(s.local("label.pdf")); string(got) != "v2" {
		t.Fatalf("replaced content %q", got)
	}

	// Over the size limit: refused, nothing left behind.
	small := s.dial(t, func(cfg *Config) { cfg.MaxFileSize = 10 })
	_, err = small.Upload(ctx, "big.csv", bytes.NewReader(make([]byte, 11)))
	wantCode(t, err, sdk.CodeInvalidRequest)
	if _, err := os.Stat(s.local("big.csv")); !os.IsNotExist(err) {
		t.Fatalf("oversized upload left a file: %v", err)
	}
	if tmp := tempFiles(t, s.root); len(tmp) != 0 {
		t.Fatalf("temporaries left after oversize: %v", tmp)
	}
	if _, err := small.Upload(ctx, "ok.csv", bytes.NewReader(make([]byte, 10))); err != nil {
		t.Fatalf("a file exactly at the limit: %v", err)
	}
	s.put(t, "big.csv", "01234567890")
	_, err = small.Download(ctx, "big.csv")
	wantCode(t, err, sdk.CodeInvalidRequest)

	// Into a missing directory: not_found, nothing created.
	_, err = c.Upload(ctx, "missing/x.csv", strings.NewReader("x"))
	wantCode(t, err, sdk.CodeNotFound)
}

func TestPathConfinement(t *testing.T) {
	t.Parallel()
	s := startSSHD(t)
	c := s.dial(t, nil)
	ctx := context.Background()
	outside := filepath.Join(s.Dir, "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("s3cret"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.put(t, "in/file.csv", "inside")
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink(outside, s.local("escape-dir")))
	must(os.Symlink(filepath.Join(outside, "secret"), s.local("escape-file")))
	must(os.Symlink("../../outside/secret", s.local("in/relative-escape")))
	must(os.Symlink("in", s.local("inside-dir")))
	must(os.Symlink("file.csv", s.local("in/inside-file")))

	for _, p := range []string{
		"../outside/secret", "/etc/passwd", "in/../../outside/secret", "in/..", "..", "",
		`in\..\..\x`, "in/\x00", "escape-dir/secret", "escape-file", "in/relative-escape",
		"escape-dir",
	} {
		_, err := c.Download(ctx, p)
		se := wantCode(t, err, sdk.CodeInvalidRequest)
		if !se.NotSent {
			t.Errorf("%q: a refused path is NotSent", p)
		}
		_, err = c.Upload(ctx, p+"/x", strings.NewReader("x"))
		wantCode(t, err, sdk.CodeInvalidRequest)
		_, err = c.List(ctx, p, "")
		if p != "" {
			wantCode(t, err, sdk.CodeInvalidRequest)
		}
	}
	// Writing through a symlinked directory that leaves the root is refused and
	// writes nothing outside.
	_, err := c.Upload(ctx, "escape-dir/planted", strings.NewReader("x"))
	wantCode(t, err, sdk.CodeInvalidRequest)
	if _, err := os.Stat(filepath.Join(outside, "planted")); !os.IsNotExist(err) {
		t.Fatal("a file was written outside the root")
	}
	wantCode(t, c.Rename(ctx, "in/file.csv", "escape-dir/moved"), sdk.CodeInvalidRequest)
	wantCode(t, c.Remove(ctx, "escape-dir/secret"), sdk.CodeInvalidRequest)
	wantCode(t, c.MkdirAll(ctx, "escape-dir/new"), sdk.CodeInvalidRequest)
	wantCode(t, c.MkdirAll(ctx, "../new"), sdk.CodeInvalidRequest)

	// Symlinks that stay inside are fine, and "." components are harmless.
	for _, p := range []string{"inside-dir/file.csv", "in/inside-file", "./in/./file.csv"} {
		data, err := c.Download(ctx, p)
		if err != nil || string(data) != "inside" {
			t.Errorf("%q: %q, %v", p, data, err)
		}
	}

	// A root that is itself a symlink resolves to its target.
	must(os.Symlink(s.root, filepath.Join(s.Dir, "root-link")))
	c2 := s.dial(t, func(cfg *Config) { cfg.Root = filepath.Join(s.Dir, "root-link") })
	if c2.Root() != s.root {
		t.Fatalf("root %q, want %q", c2.Root(), s.root)
	}
	if _, err := c2.Download(ctx, "escape-file"); err == nil {
		t.Fatal("escape through a symlinked root")
	}
	_, err = Dial(ctx, func() Config { cfg := s.config(); cfg.Root = s.local("in/file.csv"); return cfg }())
	wantCode(t, err, sdk.CodeInvalidRequest)
}

func TestHostKeyRefused(t *testing.T) {
	t.Parallel()
	s := startSSHD(t)
	ctx := context.Background()
	other, _ := newKey(t)

	// The host is on file with a different key: a possible man in the middle.
	cfg := s.config()
	cfg.KnownHosts = []byte(knownhosts.Line([]string{s.addr()}, other) + "\n")
	_, err := Dial(ctx, cfg)
	se := wantCode(t, err, sdk.CodeAuthFailed)
	if !strings.Contains(se.Message, "does not match known_hosts") || !se.NotSent {
		t.Errorf("mismatch: %+v", se)
	}
	// The host is not on file at all.
	cfg.KnownHosts = []byte(knownhosts.Line([]string{"127.0.0.2:22"}, other) + "\n")
	_, err = Dial(ctx, cfg)
	se = wantCode(t, err, sdk.CodeAuthFailed)
	if !strings.Contains(se.Message, "not in known_hosts") {
		t.Errorf("unknown host: %+v", se)
	}
	// The right key, marked revoked.
	fields := strings.Fields(string(s.knownHosts))
	cfg.KnownHosts = []byte("@revoked * " + fields[1] + " " + fields[2] + "\n" + string(s.knownHosts))
	_, err = Dial(ctx, cfg)
	se = wantCode(t, err, sdk.CodeAuthFailed)
	if !strings.Contains(se.Message, "revoked") {
		t.Errorf("revoked: %+v", se)
	}
	// A hashed known_hosts entry for the right key works.
	cfg.KnownHosts = []byte(knownhosts.HashHostname(knownhosts.Normalize(s.addr())) + " " + fields[1] + " " + fields[2] + "\n")
	c, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("hashed entry: %v", err)
	}
	c.Close()

	// No known_hosts: refused before connecting, unless the test-only switch is on.
	cfg.KnownHosts = nil
	_, err = Dial(ctx, cfg)
	wantCode(t, err, sdk.CodeInvalidRequest)
	cfg.InsecureIgnoreHostKeyForTestsOnly = true
	c, err = Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("insecure dial: %v", err)
	}
	c.Close()
	cfg.InsecureIgnoreHostKeyForTestsOnly = false

	cfg.KnownHosts = []byte("127.0.0.1 ssh-ed25519 not-base64!\n")
	_, err = Dial(ctx, cfg)
	wantCode(t, err, sdk.CodeInvalidRequest)
}

func TestCredentialsRefused(t *testing.T) {
	t.Parallel()
	s := startSSHD(t, true)
	ctx := context.Background()
	const password = "hunter2-do-not-log"
	_, strangerKey := newKey(t)

	for name, mutate := range map[string]func(*Config){
		"unknown key":    func(c *Config) { c.PrivateKeyPEM = writeKey(t, "", strangerKey) },
		"wrong password": func(c *Config) { c.PrivateKeyPEM = nil; c.Password = password },
		"wrong user":     func(c *Config) { c.User = "nobody-here" },
		"wrong passphrase": func(c *Config) {
			c.PrivateKeyPEM = s.encKeyPEM
			c.Passphrase = []byte(password)
		},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := s.config()
			mutate(&cfg)
			_, err := Dial(ctx, cfg)
			se := wantCode(t, err, sdk.CodeAuthFailed)
			if !se.NotSent {
				t.Error("refused credentials are NotSent")
			}
			if strings.Contains(err.Error(), password) || strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Errorf("secret in the error: %v", err)
			}
		})
	}

	cfg := s.config()
	cfg.PrivateKeyPEM = s.encKeyPEM
	cfg.Passphrase = nil
	_, err := Dial(ctx, cfg)
	wantCode(t, err, sdk.CodeInvalidRequest)
	cfg.PrivateKeyPEM = []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nbm90IGEga2V5\n-----END OPENSSH PRIVATE KEY-----\n")
	_, err = Dial(ctx, cfg)
	se := wantCode(t, err, sdk.CodeInvalidRequest)
	if strings.Contains(se.Message, "bm90IGEga2V5") {
		t.Errorf("key material in the error: %v", se)
	}
	cfg.PrivateKeyPEM = s.encKeyPEM
	cfg.Passphrase = s.encKeyPass
	c, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("encrypted key with its passphrase: %v", err)
	}
	c.Close()
}

func TestServerGone(t *testing.T) {
	t.Parallel()
	s := startSSHD(t)
	ctx := context.Background()
	c := s.dial(t, nil)
	if _, err := c.List(ctx, ".", ""); err != nil {
		t.Fatal(err)
	}
	s.stop()

	// The open session's server process is gone: the request may have been sent.
	_, err := c.List(ctx, ".", "")
	se := wantCode(t, err, sdk.CodeCarrierUnavailable)
	if se.NotSent {
		t.Error("a request on a dropped connection may have reached the server; NotSent must be false")
	}
	// Nothing listens any more: provably not sent.
	_, err = Dial(ctx, s.config())
	se = wantCode(t, err, sdk.CodeCarrierUnavailable)
	if !se.NotSent || !se.Code.Retryable() {
		t.Errorf("connection refused: %+v", se)
	}
}

func TestOperationDeadline(t *testing.T) {
	t.Parallel()
	s := startSSHD(t)
	c := s.dial(t, nil)
	// Freeze the server's session process: requests go unanswered.
	sessions := s.sessions()
	if len(sessions) == 0 {
		t.Fatal("no sshd session process found")
	}
	for _, p := range sessions {
		if err := syscall.Kill(p, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, p := range sessions {
			_ = syscall.Kill(p, syscall.SIGCONT)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := c.Stat(ctx, "anything")
	wantCode(t, err, sdk.CodeTimeout)
	// The connection was abandoned; later calls fail fast instead of hanging.
	_, err = c.Stat(context.Background(), "anything")
	wantCode(t, err, sdk.CodeCarrierUnavailable)

	cancelled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	se := wantCode(t, func() error { _, err := c.Stat(cancelled, "x"); return err }(), sdk.CodeTimeout)
	if !se.NotSent {
		t.Error("a call whose context ended before it started is NotSent")
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := Config{Host: "127.0.0.1", User: "u", Password: "p", KnownHosts: []byte("x")}
	for name, mutate := range map[string]func(*Config){
		"no host":     func(c *Config) { c.Host = "" },
		"bad host":    func(c *Config) { c.Host = "a b" },
		"bad port":    func(c *Config) { c.Port = 70000 },
		"no user":     func(c *Config) { c.User = "" },
		"no auth":     func(c *Config) { c.Password = "" },
		"no known":    func(c *Config) { c.KnownHosts = nil },
		"neg size":    func(c *Config) { c.MaxFileSize = -1 },
		"nul in root": func(c *Config) { c.Root = "a\x00" },
	} {
		cfg := base
		mutate(&cfg)
		_, err := Dial(ctx, cfg)
		se := wantCode(t, err, sdk.CodeInvalidRequest)
		if !se.NotSent || strings.Contains(se.Message, "p\"") {
			t.Errorf("%s: %+v", name, se)
		}
	}
}
