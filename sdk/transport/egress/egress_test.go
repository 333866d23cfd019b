package egress_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/transport/egress"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct{ ip, class string }{
		{"127.0.0.1", "loopback"},
		{"127.8.9.10", "loopback"},
		{"::1", "loopback"},
		{"10.1.2.3", "private (RFC 1918)"},
		{"172.16.0.1", "private (RFC 1918)"},
		{"172.31.255.255", "private (RFC 1918)"},
		{"192.168.1.1", "private (RFC 1918)"},
		{"fc00::1", "unique-local (fc00::/7)"},
		{"fd00:ec2::254", "unique-local (fc00::/7)"},
		{"169.254.169.254", "link-local (the cloud metadata address)"},
		{"169.254.1.1", "link-local (cloud metadata lives here)"},
		{"fe80::1", "link-local (cloud metadata lives here)"},
		{"fe80::1%eth0", "link-local (cloud metadata lives here)"},
		{"100.64.0.1", "shared CGNAT space (100.64.0.0/10)"},
		{"100.127.255.254", "shared CGNAT space (100.64.0.0/10)"},
		{"224.0.0.1", "multicast"},
		{"ff02::1", "multicast"},
		{"0.0.0.0", "unspecified"},
		{"::", "unspecified"},
		{"0.1.2.3", "\"this network\" (0.0.0.0/8)"},
		{"255.255.255.255", "broadcast"},
		{"240.0.0.1", "reserved (240.0.0.0/4)"},
		{"192.0.2.10", "documentation (192.0.2.0/24)"},
		// IPv4-mapped IPv6 forms are judged by the IPv4 address they carry.
		{"::ffff:127.0.0.1", "loopback in IPv4-mapped form"},
		{"::ffff:10.0.0.1", "private (RFC 1918) in IPv4-mapped form"},
		{"::ffff:169.254.169.254", "link-local (the cloud metadata address) in IPv4-mapped form"},
		// NAT64 (64:ff9b::/96) and 6to4 (2002::/16) embed one too.
		{"64:ff9b::7f00:1", "loopback in NAT64 form"},
		{"64:ff9b::a9fe:a9fe", "link-local (the cloud metadata address) in NAT64 form"},
		{"64:ff9b::a00:1", "private (RFC 1918) in NAT64 form"},
		{"64:ff9b::6440:1", "shared CGNAT space (100.64.0.0/10) in NAT64 form"},
		{"2002:7f00:1::", "loopback in 6to4 form"},
		{"2001::1", "Teredo (2001::/32)"},
		{"::7f00:1", "IPv4-compatible (::/96, deprecated)"},
		{"64:ff9b:1::a00:1", "local-use NAT64 (64:ff9b:1::/48)"},
		// Public addresses, including their mapped and NAT64 forms.
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"100.63.255.255", ""},
		{"100.128.0.0", ""},
		{"172.32.0.1", ""},
		{"2606:4700:4700::1111", ""},
		{"::ffff:8.8.8.8", ""},
		{"64:ff9b::808:808", ""},
	} {
		if got := egress.Classify(netip.MustParseAddr(tc.ip)); got != tc.class {
			t.Errorf("Classify(%s) = %q, want %q", tc.ip, got, tc.class)
		}
	}
	if got := egress.Classify(netip.Addr{}); got == "" {
		t.Error("the zero address is classified as public")
	}
}

func TestPolicy(t *testing.T) {
	p, err := egress.Parse([]string{" 127.0.0.0/8 ", "", "10.1.2.3", "fd00::/8", "::ffff:192.168.0.0/112"})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.String(); got != "127.0.0.0/8,10.1.2.3/32,fd00::/8,192.168.0.0/16" {
		t.Errorf("String() = %q", got)
	}
	if got := p.Env(); got != "HUB_EGRESS_ALLOW=127.0.0.0/8,10.1.2.3/32,fd00::/8,192.168.0.0/16" {
		t.Errorf("Env() = %q", got)
	}
	for _, tc := range []struct {
		ip      string
		allowed bool
	}{
		{"127.0.0.1", true},
		{"::ffff:127.0.0.1", true}, // the mapped form of an allowed address
		{"10.1.2.3", true},
		{"10.1.2.4", false},
		{"fd00::1", true},
		{"192.168.7.7", true},
		{"::1", false},
		{"169.254.169.254", false},
		{"64:ff9b::7f00:1", false}, // NAT64 goes elsewhere: only an allowed 64:ff9b:: range admits it
		{"8.8.8.8", true},
	} {
		err := p.Check("h", netip.MustParseAddr(tc.ip))
		if (err == nil) != tc.allowed {
			t.Errorf("Check(%s) = %v, want allowed %v", tc.ip, err, tc.allowed)
		}
	}
	var none *egress.Policy
	if err := none.Check("h", netip.MustParseAddr("127.0.0.1")); err == nil {
		t.Error("a nil policy admitted loopback")
	}
	if err := none.Check("h", netip.MustParseAddr("8.8.8.8")); err != nil {
		t.Errorf("a nil policy refused a public address: %v", err)
	}
	for _, bad := range []string{"10.0.0.0/33", "example.com", "10.0.0.1:80", "fe80::1%eth0"} {
		if _, err := egress.Parse([]string{bad}); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("Parse(%q) = %v, want an error naming it", bad, err)
		}
	}
	if _, err := egress.ParseList("127.0.0.0/8, ::1"); err != nil {
		t.Error(err)
	}
}

func TestCheckHost(t *testing.T) {
	p := egress.MustParse("127.0.0.0/8")
	for host, refused := range map[string]bool{
		"127.0.0.1": false, "169.254.169.254": true, "[::1]": true, "::ffff:10.0.0.1": true,
		"carrier.example": false, "localhost": false, // names are checked when dialled
		"8.8.8.8": false,
	} {
		err := p.CheckHost(host)
		if (err != nil) != refused {
			t.Errorf("CheckHost(%s) = %v, want refused %v", host, err, refused)
		}
	}
}

func TestRefusedError(t *testing.T) {
	err := egress.MustParse().Check("metadata.internal", netip.MustParseAddr("169.254.169.254"))
	wrapped := &url.Error{Op: "Post", URL: "http://metadata.internal/", Err: &net.OpError{Op: "dial", Net: "tcp", Err: err}}
	e := egress.Refused(wrapped)
	if e == nil {
		t.Fatal("Refused found no refusal in the chain")
	}
	if e.Code != sdk.CodeInvalidRequest || e.Source != sdk.SourceConnector || !e.NotSent || e.CarrierMessage != "" {
		t.Errorf("error %+v, want invalid_request from the connector, not sent, no carrier text", e)
	}
	for _, want := range []string{"egress guard", "metadata.internal", "169.254.169.254", "link-local", "HUB_EGRESS_ALLOW"} {
		if !strings.Contains(e.Message, want) {
			t.Errorf("message %q does not name %q", e.Message, want)
		}
	}
	if egress.Refused(errors.New("connection refused")) != nil || egress.Refused(nil) != nil {
		t.Error("Refused classified an error that is no refusal")
	}
}

// TestDialerChecksAfterDNS dials a name that resolves to loopback: the guard
// judges the resolved address, so the name does not get past it.
func TestDialerChecksAfterDNS(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("secret")) }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	target := net.JoinHostPort("localhost", port)

	d := &egress.Dialer{Policy: egress.MustParse()}
	conn, err := d.DialContext(context.Background(), "tcp", target)
	if err == nil {
		conn.Close()
		t.Fatal("dialled localhost through a policy that admits no loopback")
	}
	var re *egress.RefusedError
	if !errors.As(err, &re) || re.Host != "localhost" || !re.Addr.IsLoopback() || re.Class != "loopback" {
		t.Fatalf("error %v (%+v), want a refusal of localhost's loopback address", err, re)
	}

	// Allowed, the connection goes through.
	d = &egress.Dialer{Policy: egress.MustParse("127.0.0.0/8", "::1")}
	conn, err = d.DialContext(context.Background(), "tcp", target)
	if err != nil {
		t.Fatalf("allowed dial: %v", err)
	}
	conn.Close()
}

// TestTransportDefaultsToTheEnvironment checks a guarded transport follows
// HUB_EGRESS_ALLOW at dial time and never sends to a refused address.
func TestTransportDefaultsToTheEnvironment(t *testing.T) {
	hit := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hit = true
		w.WriteHeader(http.StatusTeapot)
	}))
	defer srv.Close()
	t.Setenv(egress.EnvVar, "")
	hc := &http.Client{Transport: egress.NewTransport(nil)}
	_, err := hc.Get(srv.URL)
	if egress.Refused(err) == nil || hit {
		t.Fatalf("default policy: err %v, server reached %v", err, hit)
	}
	t.Setenv(egress.EnvVar, "not a cidr")
	if _, err := egress.FromEnv(); err == nil || !strings.Contains(err.Error(), egress.EnvVar) {
		t.Errorf("FromEnv with a bad value: %v", err)
	}
	if _, err := hc.Get(srv.URL); egress.Refused(err) == nil {
		t.Fatalf("a bad HUB_EGRESS_ALLOW must fail closed: %v", err)
	}
	t.Setenv(egress.EnvVar, "127.0.0.0/8")
	resp, err := hc.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTeapot {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

// TestProxiedTargetsAreChecked: through a proxy the proxy dials, so the guard
// checks the target before handing the request over.
func TestProxiedTargetsAreChecked(t *testing.T) {
	proxied := false
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { proxied = true }))
	defer proxy.Close()
	pu, _ := url.Parse(proxy.URL)
	d := &egress.Dialer{Policy: egress.MustParse("127.0.0.0/8")} // the proxy itself is on loopback
	tr := egress.NewTransport(d)
	tr.Proxy = d.Proxy(http.ProxyURL(pu))
	_, err := (&http.Client{Transport: tr}).Get("http://169.254.169.254/latest/meta-data/")
	if egress.Refused(err) == nil || proxied {
		t.Fatalf("metadata through a proxy: err %v, proxied %v", err, proxied)
	}
}
