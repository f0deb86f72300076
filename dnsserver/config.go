package dnsserver

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/lbd-project/lbd/internal/tsig"
)

// Zone is one zone served with authority. NS seeds the apex NS RRset when
// the zone is created (a zone already on disk keeps its own); UpdateKeys
// names the keys allowed to update names in the zone (none = the zone
// accepts no UPDATE); TransferKeys names the keys allowed to transfer it
// (AXFR, RFC 5936; IXFR, RFC 1995). A key in UpdateKeys only may not
// transfer the zone; Config.Secondaries may, by address, without TSIG.
type Zone struct {
	Name         string
	NS           []string
	UpdateKeys   []string
	TransferKeys []string
}

// RRL is the UDP response rate limit (in the style of BIND's RRL): each
// source prefix (/24 for IPv4, /56 for IPv6) gets a token bucket of Burst
// responses refilled at ResponsesPerSecond. A response over the limit is
// dropped, except that every Slip-th dropped response is sent truncated
// (TC=1, no records; RFC 1035 §4.2.1) so that a real client retries over
// TCP (RFC 7766), which is not rate-limited. Requests with a valid TSIG
// are not limited (they cannot be forged to reflect at a victim).
type RRL struct {
	ResponsesPerSecond int // 0 disables the limiter
	Burst              int // bucket depth in responses; 0 = 2 × ResponsesPerSecond
	Slip               int // every Slip-th dropped response is sent truncated; 0 = none
	// Clock is the limiter's clock (nil = time.Now); tests inject one.
	Clock func() time.Time
}

// Defaults of the per-client limits (Config.TCPMax, TCPPerSource,
// TCPIdleTimeout and RRL).
const (
	DefaultTCPMax                = 128
	DefaultTCPPerSource          = 16
	DefaultTCPIdleTimeout        = 10 * time.Second // RFC 7766 §6.2.3: "a few seconds" to tens
	DefaultRRLResponsesPerSecond = 100
	DefaultRRLBurst              = 2 * DefaultRRLResponsesPerSecond
	DefaultRRLSlip               = 2
)

// DefaultRRL returns the default response rate limit.
func DefaultRRL() RRL {
	return RRL{ResponsesPerSecond: DefaultRRLResponsesPerSecond, Burst: DefaultRRLBurst, Slip: DefaultRRLSlip}
}

// Config configures a Server.
type Config struct {
	// Listen is "ip:port" for UDP and TCP; port 0 picks a free port (the
	// same one for both), see Server.Addr.
	Listen string
	// DataDir holds one snapshot and one journal per zone; it is created if
	// missing and locked (flock) against a second server.
	DataDir string
	Keys    []tsig.Spec // TSIG keys (RFC 8945) that may update or transfer
	// Secondaries are "ip:port" NOTIFY targets; their IP addresses may
	// transfer zones (AXFR/IXFR) without TSIG.
	Secondaries []string
	Zones       []Zone

	// Log, when set, receives diagnostics (recovered panics, NOTIFY and
	// compaction failures). The package never logs otherwise.
	Log func(format string, args ...any)
	// CompactAfter is the number of journal records after which the journal
	// is compacted into a new snapshot (0 = 1000). Compaction also runs
	// every CompactInterval (0 = 1 minute) when the journal is not empty.
	CompactAfter    int
	CompactInterval time.Duration

	// SerialClock is the clock SOA serials are derived from (nil =
	// time.Now): a new zone starts at its Unix time and a change moves the
	// serial forward to it when it is ahead (see serial.go and the package
	// documentation). It is not used for TSIG. Tests inject a fixed clock.
	SerialClock func() time.Time

	// Per-client limits (see docs/design.md, "Embedded DNS server
	// limits"). TCPMax caps the TCP connections served at once (0 =
	// DefaultTCPMax); TCPPerSource caps those of one source address (an
	// IPv6 source counts per /64; 0 = DefaultTCPPerSource) and must be
	// below TCPMax, so that one client cannot take them all: a connection
	// over its source's cap is closed at once, and one arriving at the
	// global cap replaces the connection idle for the longest time (RFC
	// 7766 §6.2.3), or is closed when none is idle. TCPIdleTimeout closes
	// a connection on which no complete message arrived for that long (0
	// = DefaultTCPIdleTimeout).
	TCPMax         int
	TCPPerSource   int
	TCPIdleTimeout time.Duration
	// RRL limits UDP responses per source prefix; nil = DefaultRRL().
	RRL *RRL
}

const (
	defaultCompactAfter    = 1000
	defaultCompactInterval = time.Minute
)

// Validate checks the whole configuration and reports the first problem.
func (c Config) Validate() error {
	_, err := c.compile()
	return err
}

type compiledConfig struct {
	listen      string
	keys        tsig.Keyring
	secondaries []netip.AddrPort
	zones       []compiledZone
	limits      limits
}

// limits are the per-client limits with the defaults applied.
type limits struct {
	tcpMax, tcpPerSource int
	tcpIdle              time.Duration
	rrl                  RRL // ResponsesPerSecond 0 = off
}

type compiledZone struct {
	name         string // canonical
	ns           []string
	updateKeys   map[string]bool
	transferKeys map[string]bool
	clock        func() time.Time // nil = time.Now
}

// now is the time for time-derived serials.
func (cz compiledZone) now() time.Time {
	if cz.clock != nil {
		return cz.clock()
	}
	return time.Now()
}

func (c Config) compile() (*compiledConfig, error) {
	cc := &compiledConfig{keys: tsig.Keyring{}}
	if c.Listen == "" {
		return nil, errors.New("dnsserver: listen: empty")
	}
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return nil, fmt.Errorf("dnsserver: listen %q: %w", c.Listen, err)
	}
	if host != "" {
		if _, err := netip.ParseAddr(host); err != nil {
			return nil, fmt.Errorf("dnsserver: listen %q: not an IP address: %w", c.Listen, err)
		}
	}
	cc.listen = c.Listen
	if strings.TrimSpace(c.DataDir) == "" {
		return nil, errors.New("dnsserver: data_dir: empty")
	}
	for i, k := range c.Keys {
		ck, err := k.Compile()
		if err != nil {
			return nil, fmt.Errorf("dnsserver: keys[%d]: %w", i, err)
		}
		if cc.keys[ck.Name] != nil {
			return nil, fmt.Errorf("dnsserver: keys[%d]: duplicate key %q", i, k.Name)
		}
		cc.keys[ck.Name] = ck
	}
	for i, s := range c.Secondaries {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return nil, fmt.Errorf("dnsserver: secondaries[%d] %q: want ip:port: %w", i, s, err)
		}
		cc.secondaries = append(cc.secondaries, ap)
	}
	if len(c.Zones) == 0 {
		return nil, errors.New("dnsserver: no zones")
	}
	seen := map[string]bool{}
	for i, z := range c.Zones {
		cz, err := c.compileZone(cc, i, z, seen)
		if err != nil {
			return nil, err
		}
		cc.zones = append(cc.zones, cz)
	}
	if c.CompactAfter < 0 || c.CompactInterval < 0 {
		return nil, errors.New("dnsserver: compaction settings must not be negative")
	}
	lim, err := c.compileLimits()
	if err != nil {
		return nil, err
	}
	cc.limits = lim
	return cc, nil
}

// compileZone checks and compiles zone i (its keys must be in cc.keys).
func (c Config) compileZone(cc *compiledConfig, i int, z Zone, seen map[string]bool) (compiledZone, error) {
	name := strings.TrimSpace(z.Name)
	if _, ok := dns.IsDomainName(name); !ok || name == "" {
		return compiledZone{}, fmt.Errorf("dnsserver: zone[%d] %q: not a domain name", i, z.Name)
	}
	name = dns.CanonicalName(name)
	if seen[name] {
		return compiledZone{}, fmt.Errorf("dnsserver: zone[%d] %q: duplicate zone", i, z.Name)
	}
	seen[name] = true
	cz := compiledZone{name: name, updateKeys: map[string]bool{}, transferKeys: map[string]bool{}, clock: c.SerialClock}
	for j, ns := range z.NS {
		ns = strings.TrimSpace(ns)
		if _, ok := dns.IsDomainName(ns); !ok || ns == "" {
			return compiledZone{}, fmt.Errorf("dnsserver: zone %q: ns[%d] %q: not a domain name", z.Name, j, ns)
		}
		cz.ns = append(cz.ns, dns.CanonicalName(ns))
	}
	for _, list := range []struct {
		key   string
		names []string
		into  map[string]bool
	}{{"update_keys", z.UpdateKeys, cz.updateKeys}, {"transfer_keys", z.TransferKeys, cz.transferKeys}} {
		for j, kn := range list.names {
			if strings.TrimSpace(kn) == "" {
				return compiledZone{}, fmt.Errorf("dnsserver: zone %q: %s[%d]: empty", z.Name, list.key, j)
			}
			canon := dns.CanonicalName(strings.TrimSpace(kn))
			if cc.keys[canon] == nil {
				return compiledZone{}, fmt.Errorf("dnsserver: zone %q: %s[%d] %q: no such key", z.Name, list.key, j, kn)
			}
			list.into[canon] = true
		}
	}
	return cz, nil
}

func (c Config) compileLimits() (limits, error) {
	l := limits{tcpMax: c.TCPMax, tcpPerSource: c.TCPPerSource, tcpIdle: c.TCPIdleTimeout, rrl: DefaultRRL()}
	if c.TCPMax < 0 || c.TCPPerSource < 0 || c.TCPIdleTimeout < 0 {
		return l, errors.New("dnsserver: tcp limits must not be negative")
	}
	if l.tcpMax == 0 {
		l.tcpMax = DefaultTCPMax
	}
	if l.tcpMax < 2 {
		return l, fmt.Errorf("dnsserver: tcp_max %d: at least 2 (the per-source cap must be below it)", l.tcpMax)
	}
	if l.tcpPerSource == 0 {
		l.tcpPerSource = min(DefaultTCPPerSource, l.tcpMax-1)
	}
	if l.tcpIdle == 0 {
		l.tcpIdle = DefaultTCPIdleTimeout
	}
	if l.tcpPerSource >= l.tcpMax {
		return l, fmt.Errorf("dnsserver: tcp_per_source %d must be below tcp_max %d (one client could take every connection)", l.tcpPerSource, l.tcpMax)
	}
	if c.RRL != nil {
		l.rrl = *c.RRL
	}
	r := &l.rrl
	if r.ResponsesPerSecond < 0 || r.Burst < 0 || r.Slip < 0 {
		return l, errors.New("dnsserver: rrl settings must not be negative")
	}
	if r.Burst == 0 {
		r.Burst = 2 * r.ResponsesPerSecond
	}
	return l, nil
}
