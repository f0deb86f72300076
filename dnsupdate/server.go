package dnsupdate

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// DefaultPort is the port used when a server address has none.
const DefaultPort = "53"

// ServerAddr normalises a DNS server address to "host:port": "host:port"
// and "[v6]:port" are kept, a bare host name or IPv4 address gets ":53",
// and a bare or bracketed IPv6 address becomes "[v6]:53" (D12).
func ServerAddr(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("DNS server address: empty")
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return net.JoinHostPort(a.String(), DefaultPort), nil
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		inner := s[1 : len(s)-1]
		a, err := netip.ParseAddr(inner)
		if err != nil || !a.Is6() {
			return "", fmt.Errorf("DNS server address %q: %q is not an IPv6 address", s, inner)
		}
		return net.JoinHostPort(a.String(), DefaultPort), nil
	}
	if !strings.Contains(s, ":") {
		return net.JoinHostPort(s, DefaultPort), nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("DNS server address %q: %w", s, err)
	}
	if host == "" {
		return "", fmt.Errorf("DNS server address %q: empty host", s)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return "", fmt.Errorf("DNS server address %q: bad port %q", s, port)
	}
	if strings.HasPrefix(s, "[") {
		if a, err := netip.ParseAddr(host); err != nil || !a.Is6() {
			return "", fmt.Errorf("DNS server address %q: %q is not an IPv6 address", s, host)
		}
	}
	return net.JoinHostPort(host, port), nil
}
