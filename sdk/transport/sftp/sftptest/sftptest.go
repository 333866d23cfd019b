// Package sftptest starts a real OpenSSH server (sshd with internal-sftp) on
// 127.0.0.1 for tests of SFTP code: the transport's own, the hub's SFTP inbox,
// end-to-end runs of hub serve. A test without sshd installed is skipped, or
// fails when CI=true, where the SFTP tests must run (.ci/openssh.sh installs it).
package sftptest

import (
	"bytes"
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

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHD is where the server is looked for.
const SSHD = "/usr/sbin/sshd"

// Options choose what Start sets up beyond the defaults.
type Options struct {
	// EncryptedKey also authorises a passphrase-protected user key
	// (Server.EncryptedKeyPEM, Server.EncryptedKeyPassphrase). Making and
	// opening one is slow, so only tests that need it ask.
	EncryptedKey bool
}

// Server is a running sshd. Clients log in as User with KeyPEM (password
// authentication is on too, so a wrong password is refused by the server
// rather than never tried) and see the whole file system; Root is an empty
// directory for a test's files.
type Server struct {
	// Dir holds the server's own files: keys, configuration, log.
	Dir string
	// Root is an empty directory the test may use as the clients' tree.
	Root string
	// Port is the port sshd listens on at 127.0.0.1.
	Port int
	// User is the user clients log in as: the one running the test.
	User string
	// KeyPEM is the user's unencrypted private key (OpenSSH PEM).
	KeyPEM []byte
	// EncryptedKeyPEM and EncryptedKeyPassphrase are a second authorised key
	// and its passphrase, with Options.EncryptedKey.
	EncryptedKeyPEM, EncryptedKeyPassphrase []byte
	// KnownHosts is a known_hosts line (with its newline) for the server's host
	// key at 127.0.0.1:Port.
	KnownHosts string

	logFile string
	pidFile string
	cmd     *exec.Cmd
	exited  chan struct{}
	once    sync.Once
}

// Require skips the test when sshd cannot run here, or fails it under CI=true.
func Require(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(SSHD); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing and CI=true: source .ci/openssh.sh first", SSHD)
		}
		t.Skipf("%s is missing: install openssh-server (source .ci/openssh.sh) to run the SFTP tests against a real server", SSHD)
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("sshd needs /run/sshd: %v", err)
		}
		t.Skipf("sshd needs /run/sshd, which cannot be created: %v", err)
	}
}

// Start starts sshd with an ed25519 host key and user key made here; the
// test's cleanup stops it with every session it opened.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	Require(t)
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := &Server{Dir: dir, Root: filepath.Join(dir, "root"), User: u.Username,
		pidFile: filepath.Join(dir, "sshd.pid"), logFile: filepath.Join(dir, "sshd.log")}
	if err := os.Mkdir(s.Root, 0o755); err != nil {
		t.Fatal(err)
	}
	hostPub, hostPEM := newKey(t)
	if err := os.WriteFile(filepath.Join(dir, "hostkey"), hostPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	userPub, userPEM := newKey(t)
	s.KeyPEM = userPEM
	auth := ssh.MarshalAuthorizedKey(userPub)
	if opts.EncryptedKey {
		// ssh-keygen with one KDF round: x/crypto's own encrypter uses 16, which
		// takes seconds under -race.
		s.EncryptedKeyPassphrase = []byte("correct horse battery staple")
		keyFile := filepath.Join(dir, "enckey")
		out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-a", "1", "-N", string(s.EncryptedKeyPassphrase), "-f", keyFile).CombinedOutput()
		if err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
		if s.EncryptedKeyPEM, err = os.ReadFile(keyFile); err != nil {
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
		s.Port = freePort(t)
		s.KnownHosts = knownhosts.Line([]string{s.Addr()}, hostPub) + "\n"
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
`, s.Port, filepath.Join(dir, "hostkey"), s.pidFile, filepath.Join(dir, "authorized_keys"))
		cfgPath := filepath.Join(dir, "sshd_config")
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		// -D keeps sshd a child of the test, so it is reaped when killed;
		// Pdeathsig ends it with the test binary.
		cmd := exec.Command(SSHD, "-D", "-f", cfgPath, "-E", s.logFile)
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting sshd: %v", err)
		}
		s.cmd, s.exited, s.once = cmd, make(chan struct{}), sync.Once{}
		go func(exited chan struct{}) { _ = cmd.Wait(); close(exited) }(s.exited)
		err := s.waitReady()
		if err == nil {
			break
		}
		s.Stop()
		if attempt == 3 {
			log, _ := os.ReadFile(s.logFile)
			t.Fatalf("starting sshd: %v\nlog:\n%s", err, log)
		}
	}
	t.Cleanup(s.Stop)
	return s
}

// Addr is host:port of the server.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// PID is the listening sshd's process id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Log returns what sshd logged so far, for a failing test's message.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.logFile)
	return string(b)
}

// Sessions lists the processes serving open connections (sshd runs each in a
// session of its own under the listener).
func (s *Server) Sessions() []int { return Descendants(s.PID()) }

// Stop kills the sessions' processes, deepest first so each is reaped by its
// parent (and continued first, in case a test stopped one), then the listener,
// and waits for it. Later calls do nothing.
func (s *Server) Stop() {
	s.once.Do(func() {
		pid := s.PID()
		for range 10 {
			leaves := leafDescendants(pid)
			if len(leaves) == 0 {
				break
			}
			for _, p := range leaves {
				_ = syscall.Kill(p, syscall.SIGCONT)
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
			for _, p := range leaves {
				for i := 0; i < 200 && exists(p); i++ {
					time.Sleep(5 * time.Millisecond)
				}
			}
		}
		_ = s.cmd.Process.Kill()
		<-s.exited
		os.Remove(s.pidFile)
	})
}

// exists reports whether pid is still in the process table (zombies included).
func exists(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}

// leafDescendants lists pid's descendants that have no children of their own.
func leafDescendants(pid int) []int {
	all := Descendants(pid)
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

// parentOf reads a process's parent id from /proc; 0 when it is gone.
func parentOf(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
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

// waitReady waits for the PidFile and for the port to accept connections.
func (s *Server) waitReady() error {
	for range 400 {
		select {
		case <-s.exited:
			return errors.New("sshd exited")
		default:
		}
		if _, err := os.Stat(s.pidFile); err == nil {
			if c, err := net.Dial("tcp", s.Addr()); err == nil {
				c.Close()
				return nil
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	return errors.New("sshd did not start listening")
}

// Descendants lists the processes whose parent chain leads to pid, read from
// /proc.
func Descendants(pid int) []int {
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

func newKey(t testing.TB) (ssh.PublicKey, []byte) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return sp, pem.EncodeToMemory(block)
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
