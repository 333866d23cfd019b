package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
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

	"github.com/carrierhub/hub/connectors/builtin"
	"github.com/carrierhub/hub/engine/events"
	"github.com/carrierhub/hub/sdk/model"
)

// TestSFTPInboxEndToEnd runs hub serve with a statusfile account whose inbox is
// on a real OpenSSH server: a carrier CSV dropped there becomes tracking.updated
// events at a webhook endpoint, once, and the file ends in the archive; a file
// the connector refuses ends in failed/.
func TestSFTPInboxEndToEnd(t *testing.T) {
	t.Parallel()
	if _, ok := builtin.Lookup("statusfile"); !ok {
		t.Fatal("the statusfile connector is not among the built-in connectors (connectors/builtin)")
	}
	srv := startInboxSSHD(t)
	inbox := filepath.Join(srv.dir, "root", "acme-status")
	if err := os.MkdirAll(inbox, 0o755); err != nil {
		t.Fatal(err)
	}

	var (
		mu       sync.Mutex
		received []events.Event
	)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var e events.Event
		if err := json.Unmarshal(body, &e); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		received = append(received, e)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(receiver.Close)
	updates := func() map[string][]model.TrackingStatus {
		mu.Lock()
		defer mu.Unlock()
		out := map[string][]model.TrackingStatus{}
		for _, e := range received {
			if e.Type == events.TrackingUpdated {
				var tr model.Tracking
				_ = json.Unmarshal(e.Data, &tr)
				out[e.Subject] = append(out[e.Subject], tr.Status)
			}
		}
		return out
	}

	dir := t.TempDir()
	tc := newTenant(t, dir)
	// The operator's way: the CLI checks the inbox settings as the inbox reads them.
	if r := hub(t, "", "accounts", "create", "--data-dir", dir, "--tenant", tc.Tenant.ID, "--connector", "statusfile",
		"--name", "acme drop", "--environment", "sandbox",
		"--setting", "sftp_inbox="+inbox, "--setting", "sftp_host=127.0.0.1", "--setting", "sftp_port="+strconv.Itoa(srv.port),
		"--setting", "sftp_user="+srv.user, "--setting", "sftp_known_hosts="+srv.knownHosts,
		"--credential", "sftp_private_key="+string(srv.keyPEM)); r.code != 0 {
		t.Fatalf("accounts create: %s", r.err)
	}
	cfg := filepath.Join(dir, "hub.yaml")
	conf := "webhooks:\n  allow_list: [127.0.0.1]\ntracking_polls:\n  enabled: false\nsftp_inbound:\n  interval: 1s\n  lease: 30s\n  dial_timeout: 10s\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	h := startHub(t, dir, "--config", cfg)
	if code, body := post(t, h.url+"/v1/webhooks/endpoints", tc.APIKey.Secret, `{"url":"`+receiver.URL+`/hooks","ordered":true,"event_types":["tracking.*"]}`); code != http.StatusCreated {
		t.Fatalf("create endpoint: %d %s", code, body)
	}

	const statusCSV = "event_time,tracking_number,status_code,carrier_ref\n" +
		"2026-03-05T10:00:00Z,SFTP-1,PICKED_UP,R-1\n" +
		"2026-03-05T11:00:00Z,SFTP-2,IN_TRANSIT,R-2\n"
	if err := os.WriteFile(filepath.Join(inbox, "status-0305.csv"), []byte(statusCSV), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(inbox, "broken.csv"), []byte("not,a,status,file\n1,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("after 60 s, no %s (updates %v); hub log:\n%s", what, updates(), h.logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	exists := func(p string) func() bool {
		return func() bool { _, err := os.Stat(p); return err == nil }
	}
	waitFor("tracking.updated for both shipments", func() bool { u := updates(); return len(u["SFTP-1"]) > 0 && len(u["SFTP-2"]) > 0 })
	waitFor("the status file archived", exists(filepath.Join(inbox, "archive", "status-0305.csv")))
	waitFor("the broken file in failed/", exists(filepath.Join(inbox, "failed", "broken.csv")))
	// A few more passes change nothing: the file was processed once.
	time.Sleep(3 * time.Second)
	u := updates()
	if len(u["SFTP-1"]) != 1 || u["SFTP-1"][0] != model.StatusInTransit || len(u["SFTP-2"]) != 1 {
		t.Fatalf("tracking.updated = %v; want one in_transit per shipment", u)
	}
	if _, err := os.Stat(filepath.Join(inbox, "status-0305.csv")); !os.IsNotExist(err) {
		t.Fatalf("the status file is still in the inbox: %v", err)
	}
	if strings.Contains(h.logs.String(), "PRIVATE KEY") {
		t.Fatal("the private key reached the hub's log")
	}
}

// inboxSSHD is a real OpenSSH server on loopback serving internal-sftp.
type inboxSSHD struct {
	dir, user, knownHosts string
	port                  int
	keyPEM                []byte
}

// startInboxSSHD starts sshd with keys made here; it is killed (with its
// sessions) when the test ends. The test is skipped when sshd is not
// installed, and fails under CI=true.
func startInboxSSHD(t *testing.T) *inboxSSHD {
	t.Helper()
	const bin = "/usr/sbin/sshd"
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing and CI=true: source .ci/openssh.sh first", bin)
		}
		t.Skipf("%s is missing: install openssh-server (source .ci/openssh.sh)", bin)
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Skipf("sshd needs /run/sshd: %v", err)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := &inboxSSHD{dir: dir, user: u.Username}
	key := func(file string) (ssh.PublicKey, []byte) {
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
		sp, err := ssh.NewPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return sp, data
	}
	hostPub, _ := key(filepath.Join(dir, "hostkey"))
	userPub, userPEM := key("")
	s.keyPEM = userPEM
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(userPub), 0o600); err != nil {
		t.Fatal(err)
	}
	for attempt := 1; ; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s.port = l.Addr().(*net.TCPAddr).Port
		l.Close()
		s.knownHosts = knownhosts.Line([]string{net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))}, hostPub)
		conf := fmt.Sprintf("Port %d\nListenAddress 127.0.0.1\nHostKey %s\nPidFile %s\nAuthorizedKeysFile %s\n"+
			"PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"+
			"PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nSubsystem sftp internal-sftp\n",
			s.port, filepath.Join(dir, "hostkey"), filepath.Join(dir, "sshd.pid"), filepath.Join(dir, "authorized_keys"))
		if err := os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-D", "-f", filepath.Join(dir, "sshd_config"), "-E", filepath.Join(dir, "sshd.log"))
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting sshd: %v", err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		stop := func() {
			for _, p := range sshdSessions(cmd.Process.Pid) {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
			_ = cmd.Process.Kill()
			<-exited
		}
		ready := false
		for i := 0; i < 400 && !ready; i++ {
			select {
			case <-exited:
				i = 400
				continue
			default:
			}
			if c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))); err == nil {
				c.Close()
				ready = true
			} else {
				time.Sleep(25 * time.Millisecond)
			}
		}
		if ready {
			t.Cleanup(stop)
			return s
		}
		stop()
		if attempt == 3 {
			log, _ := os.ReadFile(filepath.Join(dir, "sshd.log"))
			t.Fatalf("sshd did not start:\n%s", log)
		}
	}
}

// sshdSessions lists the processes descending from the listening sshd (one
// per open connection, each in a session of its own).
func sshdSessions(pid int) []int {
	parent := map[int]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		if _, rest, ok := bytes.Cut(b, []byte(") ")); ok {
			if f := strings.Fields(string(rest)); len(f) > 1 {
				parent[p], _ = strconv.Atoi(f[1])
			}
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
