package dnsserver

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Key is a TSIG key (RFC 8945). Name is the key name ("lbd-internal." or
// without the final dot), Algorithm one of hmac-md5, hmac-sha1,
// hmac-sha224, hmac-sha256, hmac-sha384, hmac-sha512 ("" = hmac-sha256),
// Secret the base64 shared secret.
type Key struct{ Name, Algorithm, Secret string }

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
	Keys    []Key
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
}

const (
	defaultCompactAfter    = 1000
	defaultCompactInterval = time.Minute
)

var hashes = map[string]func() hash.Hash{
	dns.HmacMD5:    md5.New,
	dns.HmacSHA1:   sha1.New,
	dns.HmacSHA224: sha256.New224,
	dns.HmacSHA256: sha256.New,
	dns.HmacSHA384: sha512.New384,
	dns.HmacSHA512: sha512.New,
}

// canonicalAlgorithm returns the wire name of a TSIG algorithm.
func canonicalAlgorithm(alg string) (string, error) {
	a := strings.ToLower(strings.TrimSpace(alg))
	if a == "" {
		a = "hmac-sha256"
	}
	a = dns.Fqdn(a)
	if a == "hmac-md5." {
		a = dns.HmacMD5
	}
	if _, ok := hashes[a]; !ok {
		return "", fmt.Errorf("unknown TSIG algorithm %q", alg)
	}
	return a, nil
}

type compiledKey struct {
	name, alg string
	secret    []byte
}

func (k Key) compile() (*compiledKey, error) {
	name := strings.TrimSpace(k.Name)
	if name == "" {
		return nil, errors.New("key: empty name")
	}
	if _, ok := dns.IsDomainName(name); !ok {
		return nil, fmt.Errorf("key %q: not a domain name", k.Name)
	}
	alg, err := canonicalAlgorithm(k.Algorithm)
	if err != nil {
		return nil, fmt.Errorf("key %q: %w", k.Name, err)
	}
	secret, err := base64.StdEncoding.DecodeString(strings.TrimSpace(k.Secret))
	if err != nil {
		return nil, fmt.Errorf("key %q: secret is not base64: %w", k.Name, err)
	}
	if len(secret) == 0 {
		return nil, fmt.Errorf("key %q: empty secret", k.Name)
	}
	return &compiledKey{name: dns.CanonicalName(name), alg: alg, secret: secret}, nil
}

func (k *compiledKey) mac(msg []byte) []byte {
	h := hmac.New(hashes[k.alg], k.secret)
	h.Write(msg)
	return h.Sum(nil)
}

// Validate checks the whole configuration and reports the first problem.
func (c Config) Validate() error {
	_, err := c.compile()
	return err
}

type compiledConfig struct {
	listen      string
	keys        map[string]*compiledKey
	secondaries []netip.AddrPort
	zones       []compiledZone
}

type compiledZone struct {
	name       string // canonical
	ns         []string
	updateKeys map[string]bool
}

func (c Config) compile() (*compiledConfig, error) {
	cc := &compiledConfig{keys: map[string]*compiledKey{}}
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
		ck, err := k.compile()
		if err != nil {
			return nil, fmt.Errorf("dnsserver: keys[%d]: %w", i, err)
		}
		if cc.keys[ck.name] != nil {
			return nil, fmt.Errorf("dnsserver: keys[%d]: duplicate key %q", i, k.Name)
		}
		cc.keys[ck.name] = ck
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
		cz := compiledZone{name: name, updateKeys: map[string]bool{}}
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
