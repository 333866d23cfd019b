package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/carrierhub/hub/connectors/delhivery/simulator"
	"github.com/carrierhub/hub/sdk/simulator/faultcarrier"
)

// readyLine is what the carrier and proxy subcommands print on stdout once they
// listen.
type readyLine struct {
	Ready  bool   `json:"ready"`
	URL    string `json:"url"`
	Token  string `json:"token,omitempty"`
	NoFile uint64 `json:"nofile"`
}

func printReady(r readyLine) {
	r.Ready = true
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
}

// waitForSignal blocks until SIGTERM or SIGINT.
func waitForSignal() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	<-ch
}

// runCarrier is `e2e carrier`: Delhivery's simulator with a fixed latency, in
// its own process so that its connections do not count against the load
// generator's file descriptors.
func runCarrier(args []string) error {
	fs := flag.NewFlagSet("carrier", flag.ContinueOnError)
	latency := fs.Duration("latency", 50*time.Millisecond, "delay before every answer")
	faults := fs.Bool("faults", false, "put the fault-injecting carrier (with its /_fault control endpoint) in front, through an in-process reverse proxy")
	if err := fs.Parse(args); err != nil {
		return err
	}
	harnessGC()
	_, hard, err := raiseNoFile()
	if err != nil {
		return err
	}
	sim := simulator.New()
	defer sim.Close()
	base := sim.URL()
	if *faults {
		u, _ := url.Parse(sim.URL())
		fc := faultcarrier.Serve(faultcarrier.Wrap(httputil.NewSingleHostReverseProxy(u)))
		defer fc.Close()
		fc.Carrier.SetLatency(*latency)
		base = fc.URL
	} else {
		sim.SetLatency(*latency)
	}
	printReady(readyLine{URL: base, Token: sim.Token(), NoFile: hard})
	waitForSignal()
	return nil
}

// runProxy is `e2e proxy`: the cheapest hop there is, net/http/httputil's
// ReverseProxy, as the floor the hub is compared with.
func runProxy(args []string) error {
	fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
	target := fs.String("target", "", "base URL to forward to")
	if err := fs.Parse(args); err != nil {
		return err
	}
	u, err := url.Parse(*target)
	if err != nil || u.Host == "" {
		return fmt.Errorf("proxy: target %q is not a base URL", *target)
	}
	_, hard, err := raiseNoFile()
	if err != nil {
		return err
	}
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        0, // no limit
		MaxIdleConnsPerHost: 20000,
		IdleConnTimeout:     90 * time.Second,
	}
	rp := &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(u) },
		Transport: tr,
		ErrorLog:  log.New(os.Stderr, "proxy: ", 0),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("proxy: listening: %w", err)
	}
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(ln) }()
	printReady(readyLine{URL: "http://" + ln.Addr().String(), NoFile: hard})
	waitForSignal()
	return srv.Close()
}

// harnessGCPercent is the GOGC of the harness's own processes, the load
// generator and the fake carrier, unless GOGC is set. They share the machine
// with what is measured, and are the same in every scenario: collecting less
// often leaves more of the two cores to the path under test. The proxy, which
// is measured, keeps Go's default like the hub.
const harnessGCPercent = 400

func harnessGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(harnessGCPercent)
	}
}
