// Package egress is the guard every outbound connection of a connector passes:
// one classification of addresses that are not on the public internet, the
// operator's allow-list of exceptions (a Policy), and a Dialer that checks the
// address actually connected to, after DNS, so a name that resolves (or
// rebinds) to an internal address is refused like the address itself.
//
// Refused unless the allow-list admits them: loopback, RFC 1918 private,
// unique-local (fc00::/7), link-local (169.254.0.0/16, where cloud metadata
// lives, and fe80::/10), shared CGNAT (100.64.0.0/10), multicast, unspecified,
// broadcast, the reserved and documentation ranges, and the IPv4-mapped, NAT64
// (64:ff9b::/96) and 6to4 forms of all of those.
//
// The hub hands a connector process its policy at start in the environment
// variable HUB_EGRESS_ALLOW (comma-separated CIDRs, from the hub's egress.allow
// setting); Default reads it. The SDK's transports (rest, soap, xmlhttp, odata,
// sftp, nic) dial through the guard by default. A connector that sends with an
// http.Client of its own making dials around the policy, and conformance
// catches it.
//
// The webhook dispatcher (engine/webhooks) judges addresses with the same
// Classify.
//
// The package is SDK code: it imports sdk, never engine.
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/carrierhub/hub/sdk"
)

// EnvVar is the environment variable a connector process reads its allow-list
// from: CIDRs (or single addresses) separated by commas. Unset or empty admits
// nothing beyond the public internet.
const EnvVar = "HUB_EGRESS_ALLOW"

// blocked are non-public ranges beyond those netip's predicates name, with the
// class a refusal gives them.
var blocked = []struct {
	prefix netip.Prefix
	class  string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "\"this network\" (0.0.0.0/8)"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared CGNAT space (100.64.0.0/10)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "reserved for IETF protocols (192.0.0.0/24)"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation (192.0.2.0/24)"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking (198.18.0.0/15)"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation (198.51.100.0/24)"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation (203.0.113.0/24)"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved (240.0.0.0/4)"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation (2001:db8::/32)"},
	{netip.MustParsePrefix("100::/64"), "discard-only (100::/64)"},
	{netip.MustParsePrefix("2001::/32"), "Teredo (2001::/32)"},
	{netip.MustParsePrefix("::/96"), "IPv4-compatible (::/96, deprecated)"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64 (64:ff9b:1::/48)"},
	{netip.MustParsePrefix("fec0::/10"), "site-local (fec0::/10)"},
}

var (
	loopbackV4 = netip.MustParsePrefix("127.0.0.0/8")
	nat64      = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour  = netip.MustParsePrefix("2002::/16")
	broadcast  = netip.AddrFrom4([4]byte{255, 255, 255, 255})
	metadata   = netip.AddrFrom4([4]byte{169, 254, 169, 254})
)

// Classify returns the class of an address that is not on the public internet
// ("loopback", "private (RFC 1918)", "link-local (cloud metadata lives here)",
// ...), or "" for a global unicast address. Addresses that embed an IPv4
// address (IPv4-mapped, NAT64, 6to4) are judged by it and say so. A zone is
// ignored.
func Classify(ip netip.Addr) string {
	ip = ip.WithZone("")
	if ip.Is4In6() {
		if class := Classify(ip.Unmap()); class != "" {
			return class + " in IPv4-mapped form"
		}
		return ""
	}
	switch {
	case !ip.IsValid():
		return "not a valid address"
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsLoopback() || loopbackV4.Contains(ip):
		return "loopback"
	case ip == broadcast:
		return "broadcast"
	case ip.Is4() && ip.IsPrivate():
		return "private (RFC 1918)"
	case ip.IsPrivate():
		return "unique-local (fc00::/7)"
	case ip == metadata:
		return "link-local (the cloud metadata address)"
	case ip.IsLinkLocalUnicast():
		return "link-local (cloud metadata lives here)"
	case ip.IsMulticast():
		return "multicast"
	}
	for _, b := range blocked {
		if b.prefix.Contains(ip) {
			return b.class
		}
	}
	if ip.Is6() {
		b := ip.As16()
		var v4 [4]byte
		var form string
		switch {
		case nat64.Contains(ip):
			copy(v4[:], b[12:])
			form = "NAT64"
		case sixToFour.Contains(ip):
			copy(v4[:], b[2:6])
			form = "6to4"
		default:
			return ""
		}
		if class := Classify(netip.AddrFrom4(v4)); class != "" {
			return class + " in " + form + " form"
		}
	}
	return ""
}

// Policy is the operator's allow-list: the non-public ranges connectors may
// reach. Public addresses are always allowed. A nil *Policy admits nothing
// beyond the public internet. A Policy is immutable.
type Policy struct {
	allow []netip.Prefix
}

// Parse builds a policy from CIDRs ("10.20.0.0/16") or single addresses
// ("127.0.0.1"); blank entries are skipped. An entry that is neither is an
// error naming it.
func Parse(entries []string) (*Policy, error) {
	p := &Policy{}
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if pfx, err := netip.ParsePrefix(e); err == nil {
			p.allow = append(p.allow, unmapPrefix(pfx.Masked()))
		} else if ip, err := netip.ParseAddr(e); err == nil && ip.Zone() == "" {
			ip = ip.Unmap()
			p.allow = append(p.allow, netip.PrefixFrom(ip, ip.BitLen()))
		} else {
			return nil, fmt.Errorf("egress allow-list entry %q is not a CIDR (such as 10.0.0.0/8) or an IP address", e)
		}
	}
	return p, nil
}

// ParseList is Parse over a comma-separated list, as HUB_EGRESS_ALLOW holds.
func ParseList(s string) (*Policy, error) { return Parse(strings.Split(s, ",")) }

// MustParse is Parse for allow-lists written in code; it panics on a bad entry.
func MustParse(entries ...string) *Policy {
	p, err := Parse(entries)
	if err != nil {
		panic(err)
	}
	return p
}

// unmapPrefix turns ::ffff:a.b.c.d/n (n >= 96) into a.b.c.d/(n-96), so an
// allow-list written with mapped addresses matches the addresses dialled.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p
}

// String returns the allow-list comma-separated, as HUB_EGRESS_ALLOW takes it.
func (p *Policy) String() string {
	if p == nil {
		return ""
	}
	parts := make([]string, len(p.allow))
	for i, a := range p.allow {
		parts[i] = a.String()
	}
	return strings.Join(parts, ",")
}

// Env returns the HUB_EGRESS_ALLOW=... entry that hands p to a connector process.
func (p *Policy) Env() string { return EnvVar + "=" + p.String() }

// Check reports whether the guard lets a connection to ip through: nil, or a
// *RefusedError naming host (the name or address asked for), ip and its class.
func (p *Policy) Check(host string, ip netip.Addr) error {
	class := Classify(ip)
	if class == "" {
		return nil
	}
	bare := ip.WithZone("").Unmap()
	if p != nil {
		for _, a := range p.allow {
			if a.Contains(bare) {
				return nil
			}
		}
	}
	return &RefusedError{Host: host, Addr: ip, Class: class}
}

// CheckHost checks a URL's host (a name, an address, or [an IPv6 address])
// without resolving it: a literal address outside the policy is refused, a name
// passes (it is checked when dialled). Account validation uses it.
func (p *Policy) CheckHost(host string) error {
	h := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	ip, err := netip.ParseAddr(h)
	if err != nil {
		return nil
	}
	return p.Check(h, ip)
}

// RefusedError is a connection the guard refused. Nothing was sent.
type RefusedError struct {
	// Host is what was dialled: a name, or the address itself.
	Host string
	// Addr is the address refused (what Host resolved to).
	Addr netip.Addr
	// Class says why: "loopback", "private (RFC 1918)", ...
	Class string
}

// Error names the guard, the host, the address and its class.
func (e *RefusedError) Error() string {
	what := e.Host
	if addr := e.Addr.String(); e.Addr.IsValid() && addr != strings.Trim(e.Host, "[]") {
		what += " (" + addr + ")"
	}
	return fmt.Sprintf("the egress guard refused the connection to %s: the address is %s; "+
		"the hub's egress.allow (%s) admits non-public ranges", what, e.Class, EnvVar)
}

// Refused returns the classified error of a connection the guard refused
// anywhere in err's chain, or nil: invalid_request from the connector, NotSent
// (nothing left the process), never the target's words. Transports call it
// first when classifying a transport failure.
func Refused(err error) *sdk.Error {
	var re *RefusedError
	if err == nil || !errors.As(err, &re) {
		return nil
	}
	return &sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceConnector, NotSent: true, Message: re.Error()}
}

// fromEnv caches the policy parsed from HUB_EGRESS_ALLOW, keyed by its value.
var fromEnv struct {
	sync.Mutex
	raw    string
	parsed bool
	p      *Policy
	err    error
}

// FromEnv returns the policy in HUB_EGRESS_ALLOW. A bad value is an error, and
// the policy returned with it admits nothing beyond the public internet.
func FromEnv() (*Policy, error) {
	raw := os.Getenv(EnvVar)
	fromEnv.Lock()
	defer fromEnv.Unlock()
	if !fromEnv.parsed || fromEnv.raw != raw {
		p, err := ParseList(raw)
		if err != nil {
			p, err = &Policy{}, fmt.Errorf("%s: %w", EnvVar, err)
		}
		fromEnv.raw, fromEnv.parsed, fromEnv.p, fromEnv.err = raw, true, p, err
	}
	return fromEnv.p, fromEnv.err
}

// Default is the process's policy: FromEnv, failing closed on a bad value. The
// SDK's transports read it at every dial.
func Default() *Policy {
	p, _ := FromEnv()
	return p
}

// Dialer dials through the guard. Its zero value uses Default and no timeout.
type Dialer struct {
	// Policy is the allow-list; nil reads Default at every dial.
	Policy *Policy
	// Timeout bounds the connect, as net.Dialer's.
	Timeout time.Duration
	// KeepAlive is the TCP keep-alive period, as net.Dialer's.
	KeepAlive time.Duration
	// Resolver resolves names; nil is net.DefaultResolver.
	Resolver *net.Resolver
}

func (d *Dialer) policy() *Policy {
	if d.Policy != nil {
		return d.Policy
	}
	return Default()
}

// DialContext dials address, checking every address it tries after
// resolution; it fits http.Transport.DialContext. A refused address is a
// *RefusedError in the returned error's chain (see Refused).
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	p := d.policy()
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		host = address
	}
	nd := net.Dialer{
		Timeout: d.Timeout, KeepAlive: d.KeepAlive, Resolver: d.Resolver,
		ControlContext: func(_ context.Context, _, resolved string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(resolved)
			if err != nil {
				return &RefusedError{Host: host, Class: "not an IP address"}
			}
			return p.Check(host, ap.Addr())
		},
	}
	return nd.DialContext(ctx, network, address)
}

// Proxy wraps a transport's Proxy function (http.ProxyFromEnvironment, say):
// when a request goes through a proxy, the proxy dials the target, so the
// guard checks the target here: a literal address, or every address the name
// resolves to. A name that does not resolve here is left to the proxy (split
// DNS). A nil next is http.ProxyFromEnvironment.
func (d *Dialer) Proxy(next func(*http.Request) (*url.URL, error)) func(*http.Request) (*url.URL, error) {
	if next == nil {
		next = http.ProxyFromEnvironment
	}
	return func(req *http.Request) (*url.URL, error) {
		u, err := next(req)
		if err != nil || u == nil {
			return u, err
		}
		p, host := d.policy(), req.URL.Hostname()
		if ip, err := netip.ParseAddr(host); err == nil {
			if err := p.Check(host, ip); err != nil {
				return nil, err
			}
			return u, nil
		}
		r := d.Resolver
		if r == nil {
			r = net.DefaultResolver
		}
		addrs, err := r.LookupNetIP(req.Context(), "ip", host)
		if err != nil {
			return u, nil
		}
		for _, a := range addrs {
			if err := p.Check(host, a); err != nil {
				return nil, err
			}
		}
		return u, nil
	}
}

// NewTransport returns a clone of http.DefaultTransport that dials through d
// (the zero Dialer with a 10 s connect timeout and 30 s keep-alive when nil)
// and checks proxied targets too.
func NewTransport(d *Dialer) *http.Transport {
	if d == nil {
		d = &Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = d.DialContext
	tr.Proxy = d.Proxy(tr.Proxy)
	return tr
}

var shared = sync.OnceValue(func() *http.Transport { return NewTransport(nil) })

// Transport returns one guarded transport, shared by the SDK's transports that
// have no tuned client of their own, so they share connections. It follows
// Default at every dial.
func Transport() *http.Transport { return shared() }
