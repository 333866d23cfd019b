package inbound_test

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
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sshd is a real OpenSSH server on 127.0.0.1 serving internal-sftp, started
// for one test and stopped by its cleanup.
type sshd struct {
	dir        string
	port       int
	user       string
	keyPEM     []byte // the user's private key
	knownHosts string // a known_hosts line for the server's host key
	pidFile    string
	cmd        *exec.Cmd
	exited     chan struct{}
}

const sshdBinary = "/usr/sbin/sshd"

// startSSHD starts sshd, or skips the test when it is not installed (fails
// under CI=true, where the SFTP tests must run).
func startSSHD(t *testing.T) *sshd {
	t.Helper()
	if _, err := os.Stat(sshdBinary); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing and CI=true: source .ci/openssh.sh first", sshdBinary)
		}
		t.Skipf("%s is missing: install openssh-server (source .ci/openssh.sh) to run the SFTP inbox tests", sshdBinary)
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Skipf("sshd needs /run/sshd: %v", err)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := &sshd{dir: dir, user: u.Username, pidFile: filepath.Join(dir, "sshd.pid")}
	hostPub := genKey(t, filepath.Join(dir, "hostkey"), nil)
	userPub := genKey(t, "", &s.keyPEM)
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(userPub), 0o600); err != nil {
		t.Fatal(err)
	}
	for attempt := 1; ; attempt++ {
		s.port = freeTCPPort(t)
		s.knownHosts = knownhosts.Line([]string{net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))}, hostPub) + "\n"
		cfg := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
AuthorizedKeysFile %s
PubkeyAuthentication yes
PasswordAuthentication no
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
		// -D keeps sshd a child of the test; Pdeathsig ends it with the test binary.
		cmd := exec.Command(sshdBinary, "-D", "-f", cfgPath, "-E", filepath.Join(dir, "sshd.log"))
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting sshd: %v", err)
		}
		s.cmd, s.exited = cmd, make(chan struct{})
		go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(s.exited)
		err := s.waitReady()
		if err == nil {
			break
		}
		s.stop()
		if attempt == 3 {
			log, _ := os.ReadFile(filepath.Join(dir, "sshd.log"))
			t.Fatalf("starting sshd: %v\n%s", err, log)
		}
	}
	t.Cleanup(s.stop)
	return s
}

func genKey(t *testing.T, file string, pemOut *[]byte) ssh.PublicKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	data := pem.EncodeToMemory(block)
	if file != "" {
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if pemOut != nil {
		*pemOut = data
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (s *sshd) waitReady() error {
	for range 400 {
		select {
		case <-s.exited:
			return errors.New("sshd exited")
		default:
		}
		if _, err := os.Stat(s.pidFile); err == nil {
			if c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))); err == nil {
				c.Close()
				return nil
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	return errors.New("sshd did not start listening")
}

// stop kills the sessions' processes (sshd puts each in a session of its own),
// then the listener, and waits for it.
func (s *sshd) stop() {
	pid := s.cmd.Process.Pid
	for _, p := range descendantsOf(pid) {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	<-s.exited
}

// descendantsOf lists the processes whose parent chain leads to pid.
func descendantsOf(pid int) []int {
	parent := map[int]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		_, rest, ok := bytes.Cut(b, []byte(") "))
		if f := strings.Fields(string(rest)); ok && len(f) > 1 {
			parent[p], _ = strconv.Atoi(f[1])
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

// inbox makes a directory for an account's inbox on the server's disk and
// returns its absolute path.
func (s *sshd) inbox(t *testing.T, name string) string {
	t.Helper()
	d := filepath.Join(s.dir, "root", name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// settings returns an account's inbox settings for dir.
func (s *sshd) settings(dir string) map[string]string {
	return map[string]string{"sftp_inbox": dir, "sftp_host": "127.0.0.1", "sftp_port": strconv.Itoa(s.port),
		"sftp_user": s.user, "sftp_known_hosts": s.knownHosts}
}
