package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/carrierhub/hub/connectors/delhivery/simulator"
	"github.com/carrierhub/hub/engine/store"
)

// The replica tests run several `hub serve` processes on one Postgres behind a
// real load balancer (Debian's nginx, started as a plain process on loopback;
// .ci/loadbalancer.sh installs it and names it in HUB_NGINX). Without Postgres
// or nginx they skip, except nginx under CI=true, where they fail.

// nginxOrSkip returns the nginx binary, or skips.
func nginxOrSkip(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("HUB_NGINX")
	if bin == "" {
		for _, p := range []string{"/usr/sbin/nginx"} {
			if _, err := os.Stat(p); err == nil {
				bin = p
			}
		}
	}
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("nginx is missing: .ci/loadbalancer.sh installs it")
		}
		t.Skip("nginx is missing (.ci/loadbalancer.sh installs it)")
	}
	return bin
}

// freeLoopbackPort returns a port nothing listens on at the moment.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startNginx runs nginx on a free loopback port in front of the upstream
// ports, trying the next replica when one refuses the connection, and returns
// its URL. It stops with the test.
func startNginx(t *testing.T, bin string, upstreams []int) string {
	t.Helper()
	dir := t.TempDir()
	port := freeLoopbackPort(t)
	var servers strings.Builder
	for _, p := range upstreams {
		fmt.Fprintf(&servers, "    server 127.0.0.1:%d max_fails=1 fail_timeout=1s;\n", p)
	}
	conf := fmt.Sprintf(`worker_processes 1;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  upstream hubs {
%[2]s    keepalive 32;
  }
  server {
    listen 127.0.0.1:%[3]d;
    location / {
      proxy_pass http://hubs;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_next_upstream error timeout;
      proxy_connect_timeout 1s;
      proxy_read_timeout 120s;
    }
  }
}
`, dir, servers.String(), port)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", path)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	dieWithTest(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// SIGTERM is nginx's fast shutdown: the master stops its worker, which
	// holds the output pipe too, and exits.
	cmd.WaitDelay = 10 * time.Second
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return fmt.Sprintf("http://127.0.0.1:%d", port)
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx did not listen: %v\n%s\n%s", err, out, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReplicasBookEachCreateOnce runs three `hub serve` replicas on one
// Postgres behind nginx. Clients send creates with Idempotency-Keys through
// nginx and retry a failed one with the same key (nginx then picks another
// replica); a replica is SIGKILLed mid-run and started again. Every create
// must be answered with its booking, and the carrier must have booked each
// order once, under the waybill the client was given.
func TestReplicasBookEachCreateOnce(t *testing.T) {
	nginx := nginxOrSkip(t)
	b := postgresBackend(t)
	sim := simulator.New()
	defer sim.Close()
	ctx := t.Context()
	st := b.open(t)
	tenant, err := st.CreateTenant(ctx, "replicas")
	if err != nil {
		t.Fatal(err)
	}
	_, apiKey, err := st.CreateAPIKey(ctx, tenant.ID, "load", false)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := st.CreateAccount(ctx, store.Account{TenantID: tenant.ID, ConnectorID: "delhivery_express", Name: "sim",
		Environment: "sandbox", BaseURL: sim.URL(), Credentials: map[string]string{"api_token": sim.Token()},
		Settings: map[string]string{"pickup_location": "Gurugram WH"}})
	if err != nil {
		t.Fatal(err)
	}
	secretKey, err := os.ReadFile(filepath.Join(b.dir, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}

	// Each replica has its own data directory holding the one credentials key.
	ports := []int{freeLoopbackPort(t), freeLoopbackPort(t), freeLoopbackPort(t)}
	dirs := make([]string, len(ports))
	for i := range dirs {
		dirs[i] = t.TempDir()
		if err := os.WriteFile(filepath.Join(dirs[i], "secret.key"), secretKey, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	start := func(i int) *hubProcess {
		return startHub(t, dirs[i], append(b.serveArgs(), "--listen", fmt.Sprintf("127.0.0.1:%d", ports[i]))...)
	}
	replicas := []*hubProcess{start(0), start(1), start(2)}
	lb := startNginx(t, nginx, ports)

	const creates, clients = 150, 6
	var (
		done, retries, badGateway atomic.Int64
		mu                        sync.Mutex
		waybills                  = map[string]string{} // order -> waybill answered
		failures                  []string
	)
	create := func(order string) {
		body := fmt.Sprintf(`{"reference":%q,
			"ship_from":{"name":"Dock 3","phone":"9810000001","lines":["Plot 7, Udyog Vihar"],"city":"Gurugram","state":"Haryana","postal_code":"122016","country_code":"IN"},
			"ship_to":{"name":"R. Iyer","phone":"9876500000","lines":["12 Residency Road"],"city":"Bengaluru","state":"Karnataka","postal_code":"560025","country_code":"IN"},
			"parcels":[{"weight":{"value":0.8,"unit":"kg"},"items":[{"description":"Books","quantity":3}]}],"payment_mode":"prepaid"}`, order)
		deadline := time.Now().Add(4 * time.Minute)
		for attempt := 0; ; attempt++ {
			if attempt > 0 {
				retries.Add(1)
				time.Sleep(250 * time.Millisecond)
			}
			req, _ := http.NewRequestWithContext(ctx, "POST", lb+"/v1/connectors/delhivery_express/create_shipment?account="+acct.ID, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+apiKey)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", order)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				if time.Now().After(deadline) || ctx.Err() != nil {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%s: %v", order, err))
					mu.Unlock()
					return
				}
				continue
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var answer struct {
				TrackingNumber string `json:"tracking_number"`
				Code           string `json:"code"`
			}
			_ = json.Unmarshal(raw, &answer)
			switch {
			case resp.StatusCode == http.StatusOK && answer.TrackingNumber != "":
				mu.Lock()
				waybills[order] = answer.TrackingNumber
				mu.Unlock()
				done.Add(1)
				return
			case resp.StatusCode == http.StatusBadGateway && answer.Code == "":
				badGateway.Add(1) // nginx: the replica died under the request
			}
			// A retry answers the rest: a 502 or 503 from a dying replica, 409
			// while the dead replica's claim on the key lasts, outcome_unknown
			// until the hub settles it.
			if time.Now().After(deadline) {
				mu.Lock()
				failures = append(failures, fmt.Sprintf("%s: %d %s", order, resp.StatusCode, raw))
				mu.Unlock()
				return
			}
		}
	}

	began := time.Now()
	orders := make(chan string)
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range orders {
				create(o)
			}
		}()
	}
	killed := false
	for i := range creates {
		if !killed && done.Load() >= creates/3 {
			killHub(t, replicas[1])
			t.Logf("SIGKILLed replica 2 after %d of %d creates (%s)", done.Load(), creates, time.Since(began).Round(time.Millisecond))
			replicas[1] = start(1)
			killed = true
		}
		orders <- fmt.Sprintf("REP-%04d", i)
	}
	close(orders)
	wg.Wait()
	if !killed {
		t.Fatal("the run ended before a replica was killed")
	}
	t.Logf("%d creates through 3 replicas in %s: %d answered, %d retries, %d 502s from nginx, carrier bookings %d",
		creates, time.Since(began).Round(time.Millisecond), done.Load(), retries.Load(), badGateway.Load(), sim.Bookings())
	for _, f := range failures {
		t.Errorf("create not answered: %s", f)
	}
	if n := sim.Bookings(); n != creates {
		t.Errorf("the carrier booked %d orders, want %d", n, creates)
	}
	for order, wb := range waybills {
		if booked, ok := sim.OrderWaybill(order); !ok || booked != wb {
			t.Errorf("order %s: the client was given %s, the carrier booked %q", order, wb, booked)
		}
	}
}
