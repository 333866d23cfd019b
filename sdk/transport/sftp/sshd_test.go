package sftp

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/transport/sftp/sftptest"
	"golang.org/x/crypto/ssh"
)

// sshdServer is a real OpenSSH sshd on 127.0.0.1 (sftptest), started for one
// test, with the fields and helpers these tests use.
type sshdServer struct {
	*sftptest.Server
	root       string // the directory clients are confined to
	port       int
	user       string
	userKeyPEM []byte
	encKeyPEM  []byte // another authorised key, encrypted with encKeyPass
	encKeyPass []byte
	knownHosts []byte
}

// startSSHD starts sshd (see sftptest.Start); with withEncryptedKey it also
// authorises a passphrase-protected key. It is stopped by t.Cleanup.
func startSSHD(t *testing.T, withEncryptedKey ...bool) *sshdServer {
	t.Helper()
	srv := sftptest.Start(t, sftptest.Options{EncryptedKey: len(withEncryptedKey) > 0 && withEncryptedKey[0]})
	return &sshdServer{Server: srv, root: srv.Root, port: srv.Port, user: srv.User, userKeyPEM: srv.KeyPEM,
		encKeyPEM: srv.EncryptedKeyPEM, encKeyPass: srv.EncryptedKeyPassphrase, knownHosts: []byte(srv.KnownHosts)}
}

func (s *sshdServer) addr() string    { return s.Addr() }
func (s *sshdServer) stop()           { s.Stop() }
func (s *sshdServer) sessions() []int { return s.Sessions() }

// newKey makes an ed25519 key pair.
func newKey(t *testing.T) (ssh.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return sp, priv
}

// writeKey returns key as OpenSSH PEM, also written to name when it is set.
func writeKey(t *testing.T, name string, key ed25519.PrivateKey) []byte {
	t.Helper()
	block, err := ssh.MarshalPrivateKey(key, "")
	if err != nil {
		t.Fatal(err)
	}
	data := pem.EncodeToMemory(block)
	if name != "" {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return data
}

// config returns a Config for the server's user key, confined to its root.
func (s *sshdServer) config() Config {
	return Config{Host: "127.0.0.1", Port: s.port, User: s.user, PrivateKeyPEM: s.userKeyPEM,
		KnownHosts: s.knownHosts, Root: s.root, DialTimeout: 10 * time.Second}
}

func (s *sshdServer) dial(t *testing.T, mutate func(*Config)) *Client {
	t.Helper()
	cfg := s.config()
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// local returns the server-side path of a root-relative name, for checking the
// server's disk directly.
func (s *sshdServer) local(rel string) string { return filepath.Join(s.root, filepath.FromSlash(rel)) }

func (s *sshdServer) put(t *testing.T, rel, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(s.local(rel)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.local(rel), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// wantCode fails unless err is an *sdk.Error with code.
func wantCode(t *testing.T, err error, code sdk.Code) *sdk.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	var se *sdk.Error
	if !errors.As(err, &se) {
		t.Fatalf("got %T %v, want *sdk.Error %s", err, err, code)
	}
	if se.Code != code {
		t.Fatalf("got code %s (%v), want %s", se.Code, se, code)
	}
	return se
}
