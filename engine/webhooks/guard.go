package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/carrierhub/hub/sdk/transport/egress"
)

// ErrBlockedAddress is the dial error for an address the SSRF guard refuses.
var ErrBlockedAddress = errors.New("address refused by the webhook SSRF guard")

// Guard is the dial-time SSRF check of webhook deliveries. It judges the address
// actually connected to, after DNS resolution, so a name that resolves (or
// rebinds) to an internal address is refused; which addresses are internal is
// egress.Classify, the classification connectors' egress guard uses too. An
// operator allow-list names
// exceptions: CIDRs ("10.20.0.0/16"), addresses ("127.0.0.1"), address:port pairs
// ("10.1.2.3:8443") or host:port pairs ("erp.internal:443", trusted by name).
type Guard struct {
	prefixes  []netip.Prefix
	addrPorts map[netip.AddrPort]bool
	hostPorts map[string]bool
	dialer    net.Dialer
	trusted   net.Dialer
}

// NewGuard returns a guard with the allow-list and connect timeout (5 s when zero).
func NewGuard(allow []string, connectTimeout time.Duration) (*Guard, error) {
	if connectTimeout <= 0 {
		connectTimeout = 5 * time.Second
	}
	g := &Guard{addrPorts: map[netip.AddrPort]bool{}, hostPorts: map[string]bool{}}
	for _, a := range allow {
		a = strings.TrimSpace(a)
		if p, err := netip.ParsePrefix(a); err == nil {
			g.prefixes = append(g.prefixes, p.Masked())
		} else if ip, err := netip.ParseAddr(a); err == nil {
			g.prefixes = append(g.prefixes, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
		} else if ap, err := netip.ParseAddrPort(a); err == nil {
			g.addrPorts[netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())] = true
		} else if host, port, err := net.SplitHostPort(a); err == nil && host != "" && port != "" {
			g.hostPorts[strings.ToLower(a)] = true
		} else {
			return nil, fmt.Errorf("webhook allow-list entry %q: not a CIDR, an address, address:port or host:port", a)
		}
	}
	g.dialer = net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second, ControlContext: g.control}
	g.trusted = net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second}
	return g, nil
}

// Allowed reports whether the guard lets a connection to ap through.
func (g *Guard) Allowed(ap netip.AddrPort) error {
	ip := ap.Addr().Unmap()
	why := egress.Classify(ap.Addr())
	if why == "" || g.addrPorts[netip.AddrPortFrom(ip, ap.Port())] {
		return nil
	}
	for _, p := range g.prefixes {
		if p.Contains(ip) {
			return nil
		}
	}
	return fmt.Errorf("%s is %s: %w", ip, why, ErrBlockedAddress)
}

// control runs for every address the dialer tries, after resolution.
func (g *Guard) control(_ context.Context, _, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dialing %q: %w", address, ErrBlockedAddress)
	}
	return g.Allowed(ap)
}

// DialContext dials addr for a delivery, refusing blocked addresses; it fits
// http.Transport.DialContext.
func (g *Guard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if g.hostPorts[strings.ToLower(addr)] {
		return g.trusted.DialContext(ctx, network, addr)
	}
	return g.dialer.DialContext(ctx, network, addr)
}
