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
// accepts no UPDATE).
type Zone struct {
	Name       string
	NS         []string
	UpdateKeys []string
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
}

type compiledZone struct {
	name       string // canonical
	ns         []string
	updateKeys map[string]bool
	clock      func() time.Time // nil = time.Now
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
		name := strings.TrimSpace(z.Name)
		if _, ok := dns.IsDomainName(name); !ok || name == "" {
			return nil, fmt.Errorf("dnsserver: zone[%d] %q: not a domain name", i, z.Name)
		}
		name = dns.CanonicalName(name)
		if seen[name] {
			return nil, fmt.Errorf("dnsserver: zone[%d] %q: duplicate zone", i, z.Name)
		}
		seen[name] = true
		cz := compiledZone{name: name, updateKeys: map[string]bool{}, clock: c.SerialClock}
		for j, ns := range z.NS {
			ns = strings.TrimSpace(ns)
			if _, ok := dns.IsDomainName(ns); !ok || ns == "" {
				return nil, fmt.Errorf("dnsserver: zone %q: ns[%d] %q: not a domain name", z.Name, j, ns)
			}
			cz.ns = append(cz.ns, dns.CanonicalName(ns))
		}
		for j, kn := range z.UpdateKeys {
			if strings.TrimSpace(kn) == "" {
				return nil, fmt.Errorf("dnsserver: zone %q: update_keys[%d]: empty", z.Name, j)
			}
			kn = dns.CanonicalName(strings.TrimSpace(kn))
			if cc.keys[kn] == nil {
				return nil, fmt.Errorf("dnsserver: zone %q: update_keys[%d] %q: no such key", z.Name, j, z.UpdateKeys[j])
			}
			cz.updateKeys[kn] = true
		}
		cc.zones = append(cc.zones, cz)
	}
	if c.CompactAfter < 0 || c.CompactInterval < 0 {
		return nil, errors.New("dnsserver: compaction settings must not be negative")
	}
	return cc, nil
}
