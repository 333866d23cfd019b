package sftp

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/carrierhub/hub/sdk"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

const sshdPath = "/usr/sbin/sshd"

// sshdServer is a real OpenSSH sshd on 127.0.0.1, started for one test.
type sshdServer struct {
	dir        string // the server's own files
	root       string // the directory clients are confined to
	port       int
	user       string
	userKeyPEM []byte
	encKeyPEM  []byte // another authorised key, encrypted with encKeyPass
	encKeyPass []byte
	knownHosts []byte
	pidFile    string
	logFile    string
	cmd        *exec.Cmd
	exited     chan struct{} // closed when cmd has been reaped
	once       sync.Once
}

// requireSSHD skips the test when sshd is not installed, except in CI, where it
// fails: CI must run the SFTP suite.
func requireSSHD(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(sshdPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing and CI=true: source .ci/openssh.sh first", sshdPath)
		}
		t.Skipf("%s is missing: install openssh-server (source .ci/openssh.sh) to run the SFTP tests against a real server", sshdPath)
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("sshd needs /run/sshd: %v", err)
		}
		t.Skipf("sshd needs /run/sshd, which cannot be created: %v", err)
	}
}

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

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startSSHD starts sshd with an ed25519 host key and a user key generated here,
// internal-sftp, and password authentication enabled (so wrong passwords are
// refused by the server rather than never tried). It is stopped by t.Cleanup.
// With withEncryptedKey it also authorises a passphrase-protected key (slow to
// make and to open, so only the tests that need it ask).
func startSSHD(t *testing.T, withEncryptedKey ...bool) *sshdServer {
	t.Helper()
	requireSSHD(t)
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := &sshdServer{dir: dir, root: filepath.Join(dir, "root"), user: u.Username,
		pidFile: filepath.Join(dir, "sshd.pid"), logFile: filepath.Join(dir, "sshd.log")}
	if err := os.Mkdir(s.root, 0o755); err != nil {
		t.Fatal(err)
	}
	hostPub, hostPriv := newKey(t)
	writeKey(t, filepath.Join(dir, "hostkey"), hostPriv)
	userPub, userPriv := newKey(t)
	s.userKeyPEM = writeKey(t, "", userPriv)
	auth := ssh.MarshalAuthorizedKey(userPub)
	if len(withEncryptedKey) > 0 && withEncryptedKey[0] {
		// ssh-keygen with one KDF round: x/crypto's own encrypter uses 16, which
		// takes seconds under -race.
		s.encKeyPass = []byte("correct horse battery staple")
		keyFile := filepath.Join(dir, "enckey")
		out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-a", "1", "-N", string(s.encKeyPass), "-f", keyFile).CombinedOutput()
		if err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
		if s.encKeyPEM, err = os.ReadFile(keyFile); err != nil {
			t.Fatal(err)
		}
		pubLine, err := os.ReadFile(keyFile + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		auth = append(auth, pubLine...)
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), auth, 0o600); err != nil {
		t.Fatal(err)
	}

	for attempt := 1; ; attempt++ {
		s.port = freePort(t)
		s.knownHosts = []byte(knownhosts.Line([]string{fmt.Sprintf("127.0.0.1:%d", s.port)}, hostPub) + "\n")
		cfg := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
AuthorizedKeysFile %s
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
Subsystem sftp internal-sftp
`, s.port, filepath.Join(dir, "hostkey"), s.pidFile, filepath.Join(dir, "authorized_keys"))
		cfgPath := filepath.Join(dir, "sshd_config")
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		// -D keeps sshd a child of the test, so that it is reaped when killed.
		cmd := exec.Command(sshdPath, "-D", "-f", cfgPath, "-E", s.logFile)
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting sshd: %v", err)
		}
		s.exited = make(chan struct{})
		s.once = sync.Once{}
		go func(exited chan struct{}) { _ = cmd.Wait(); close(exited) }(s.exited)
		s.cmd = cmd
		err := s.waitReady()
		if err == nil {
			break
		}
		s.stop()
		if attempt == 3 {
			log, _ := os.ReadFile(s.logFile)
			t.Fatalf("starting sshd: %v\nlog:\n%s", err, log)
		}
	}
	t.Cleanup(s.stop)
	return s
}

// waitReady waits for the PidFile and for the port to accept connections.
func (s *sshdServer) waitReady() error {
	for i := 0; i < 400; i++ {
		select {
		case <-s.exited:
			return errors.New("sshd exited")
		default:
		}
		if _, err := os.Stat(s.pidFile); err == nil {
			c, err := net.Dial("tcp", s.addr())
			if err == nil {
				c.Close()
				return nil
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	return errors.New("sshd did not start listening")
}

func (s *sshdServer) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

func (s *sshdServer) pid() int {
	b, err := os.ReadFile(s.pidFile)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// stop kills the session processes, deepest first so each is reaped by its
// parent, then the listening sshd by the pid in its PidFile, and waits for it.
// Later calls do nothing.
func (s *sshdServer) stop() {
	s.once.Do(func() {
		pid := s.pid()
		if pid <= 0 {
			pid = s.cmd.Process.Pid
		}
		for round := 0; round < 10; round++ {
			leaves := leafDescendants(pid)
			if len(leaves) == 0 {
				break
			}
			for _, p := range leaves {
				_ = syscall.Kill(p, syscall.SIGCONT) // in case a test froze it
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
			for _, p := range leaves {
				for i := 0; i < 200 && exists(p); i++ {
					time.Sleep(5 * time.Millisecond)
				}
			}
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
		<-s.exited
		os.Remove(s.pidFile)
	})
}

// sessions returns the pids of the processes serving open connections.
func (s *sshdServer) sessions() []int { return descendants(s.pid()) }

// exists reports whether pid is still in the process table (zombies included).
func exists(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return err == nil
}

// leafDescendants lists pid's descendants that have no children of their own.
func leafDescendants(pid int) []int {
	all := descendants(pid)
	isParent := map[int]bool{}
	for _, p := range all {
		isParent[parentOf(p)] = true
	}
	var out []int
	for _, p := range all {
		if !isParent[p] {
			out = append(out, p)
		}
	}
	return out
}

func parentOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	_, rest, ok := bytes.Cut(b, []byte(") "))
	if !ok {
		return 0
	}
	f := strings.Fields(string(rest))
	if len(f) < 2 {
		return 0
	}
	pp, _ := strconv.Atoi(f[1])
	return pp
}

// descendants lists the pids whose parent chain leads to pid, from /proc.
func descendants(pid int) []int {
	parent := map[int]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if p, err := strconv.Atoi(e.Name()); err == nil {
			parent[p] = parentOf(p)
		}
	}
	var out []int
	for p := range parent {
		for q := parent[p]; q > 1; q = parent[q] {
			if q == pid {
				out = append(out, p)
				break
			}
		}
	}
	return out
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
