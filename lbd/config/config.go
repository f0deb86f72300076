package config

import (
	"cmp"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/lbd-project/lbd/dnsserver"
	"github.com/lbd-project/lbd/dnsupdate"
	"github.com/lbd-project/lbd/heartbeat"
	"github.com/lbd-project/lbd/internal/tomlconf"
	"github.com/lbd-project/lbd/internal/tsig"
	"github.com/lbd-project/lbd/lbd/render"
	"github.com/lbd-project/lbd/lbd/snmp"
)

// Spec is the lbd configuration (docs/design.md §4). Load fills defaults,
// decodes the file, rejects unknown keys and validates.
type Spec struct {
	LBD       LBDSection       `toml:"lbd"`
	Heartbeat HeartbeatSection `toml:"heartbeat"`
	DNS       DNSSection       `toml:"dns"`
	SNMP      snmp.Config      `toml:"snmp"`
	Defaults  AliasDefaults    `toml:"defaults"`
	Aliases   []Alias          `toml:"alias"`
	// Authoritative, when present, runs the embedded authoritative DNS
	// server (package dnsserver) in-process.
	Authoritative *AuthoritativeSection `toml:"authoritative"`
	// Render are the files rendered from the membership after every
	// cycle ([[render]], render.go).
	Render []RenderSection `toml:"render"`

	// File is the path the configuration was read from.
	File string `toml:"-"`
	doc  *tomlconf.Doc
	// warnings are problems that do not stop lbd (Warnings).
	warnings []string
	// renders are the [[render]] sections compiled by Validate.
	renders []*render.Target
}

// LBDSection is [lbd].
type LBDSection struct {
	Master     string `toml:"master"`
	Role       string `toml:"role"` // auto | master | slave
	HTTPListen string `toml:"http_listen"`
	// Workers bounds concurrent name look-ups; SNMP keeps at least
	// MinInFlight polls in flight (waiting is cheap).
	Workers int `toml:"workers"`
	// Tick is how often the scheduler looks for due aliases.
	Tick tomlconf.Duration `toml:"tick"`
	// StaleLoadAfter flags a published member whose load has not changed
	// for this long (a stuck metric) in status and metrics; it stays
	// published. 0 turns the flag off.
	StaleLoadAfter tomlconf.Duration `toml:"stale_load_after"`
	// PushListen, when set ("ip:port", UDP), receives the agents' SNMPv2c
	// "load changed" traps/informs; the aliases they name are
	// re-evaluated at once instead of at their next polling interval.
	PushListen    string `toml:"push_listen"`
	PushCommunity string `toml:"push_community"`
	// PushAllow lists the sources (addresses or prefixes) push
	// notifications are accepted from; empty: the addresses of the
	// configured members as last resolved.
	PushAllow []string `toml:"push_allow"`
	// PushMinInterval is the least time between two push-triggered
	// evaluations of one alias (pushes in between are coalesced);
	// PushMaxRate bounds push-triggered alias evaluations per second in all.
	PushMinInterval tomlconf.Duration `toml:"push_min_interval"`
	PushMaxRate     int               `toml:"push_max_rate"`

	pushAllow []netip.Prefix
	// Group names the instances (master and slaves) that manage the same
	// aliases: the ownership record of every name they write says so
	// (docs/design.md §9). Default: lbd.master, else "lbd".
	Group string `toml:"group"`
	// Instance is this instance's name in zone leases. Default: the host
	// name.
	Instance string `toml:"instance"`
	// Peers, when set, are the other masters sharing this site's zones
	// (docs/design.md §9.7): every instance then writes the zones that
	// rendezvous hashing gives it among the live ones, under their leases.
	Peers []Peer `toml:"peers"`
	// StateDir, when set, is where lbd keeps the list of names it manages
	// (managed.json), so that an alias removed from the configuration while
	// lbd was stopped is still cleaned up. Without it, removals are noticed
	// by a running daemon at reload only.
	StateDir string `toml:"state_dir"`
	// AdminTokenFile, when set, turns on the admin API (drain, undrain) on
	// http_listen: a request must carry one of the file's tokens.
	AdminTokenFile string `toml:"admin_token_file"`
	// AuditLog, when set, is a file lbd appends one JSON line to per
	// membership change, override and role change (reopened on SIGHUP).
	AuditLog string `toml:"audit_log"`
	// RegisterSecretFile holds the secrets of the aliases that take
	// registrations (members_from = "register"): one "alias secret" line
	// each (docs/operations.md, "Self-registration").
	RegisterSecretFile string `toml:"register_secret_file"`

	tokens          map[string]string
	registerSecrets map[string][]byte
}

// Peer is one entry of [lbd] peers: another instance of the shard.
type Peer struct {
	// Instance is the peer's [lbd] instance: the holder name of its
	// leases and the name its heartbeat carries.
	Instance string `toml:"instance"`
	// URL is where its heartbeat is fetched: its http_listen and
	// /load-balancing/heartbeat, or /load-balancing/heartbeat.v2 with a
	// heartbeat secret.
	URL string `toml:"url"`
}

// Sharded reports whether this instance is one of several masters sharing
// the zones ([lbd] peers set).
func (c *Spec) Sharded() bool { return len(c.LBD.Peers) > 0 }

// HeartbeatSection is [heartbeat].
type HeartbeatSection struct {
	URL        string            `toml:"url"`
	Interval   tomlconf.Duration `toml:"interval"`
	StaleAfter tomlconf.Duration `toml:"stale_after"`
	// File, when set, is where the master also writes the legacy heartbeat
	// file (atomically, mode 0644) for a web server and legacy slaves.
	File string `toml:"file"`
	// SecretFile, when set, holds the secret shared by master and slave
	// (its content without surrounding white space; a relative path is
	// relative to the configuration file). The master then also serves
	// the authenticated beat, and a slave fetches and believes only that
	// (docs/protocol.md §9.1). Secret is the same inline, for tests: it is
	// as readable as the configuration file.
	SecretFile string `toml:"secret_file"`
	Secret     string `toml:"secret"`

	key []byte // from SecretFile or Secret, read by Validate
}

// Key is the heartbeat secret, nil when none is configured.
func (h HeartbeatSection) Key() []byte { return h.key }

// DNSSection is [dns].
type DNSSection struct {
	// Server is the one-server form of Servers.
	Server string `toml:"server"`
	// Servers are every DNS server lbd keeps up to date, each reconciled
	// on its own every cycle.
	Servers     []string          `toml:"servers"`
	Timeout     tomlconf.Duration `toml:"timeout"`
	Retries     int               `toml:"retries"`
	InternalKey *tsig.Spec        `toml:"internal_key"`
	ExternalKey *tsig.Spec        `toml:"external_key"`
	// Fencing puts every UPDATE under the zone's lease (docs/design.md §9);
	// false for deployments mixed with writers that know no leases.
	Fencing bool `toml:"fencing"`
	// LeaseTTL is how long a slave's lease lasts without renewal; it is
	// renewed when an alias of the zone is evaluated with less than half of
	// it left. Default: 3 × the longest polling interval, at least 3 ×
	// heartbeat.stale_after.
	LeaseTTL tomlconf.Duration `toml:"lease_ttl"`
	// Stall is how long a server may go without answering any of a
	// cycle's reads before it is marked down for that cycle (the other
	// servers do not wait for it) and then probed with backoff.
	Stall tomlconf.Duration `toml:"stall"`
	// SerialCache is how long what a cycle read in a zone is reused while
	// the zone's SOA serial is unchanged (a cycle then reads the serial
	// alone, docs/design.md §9.8); 0 reads every record every time.
	SerialCache tomlconf.Duration `toml:"serial_cache"`
	// UpdatesInFlight bounds, per server, the zones whose UPDATEs are in
	// flight at once. BIND (9.18 and later) refuses UPDATEs beyond its
	// update-quota, 100 queued by default, across all its clients.
	UpdatesInFlight int `toml:"updates_in_flight"`
}

// BIND's update-quota (9.18 and later): the UPDATEs it queues at once from
// all its clients; it refuses more ("too many DNS UPDATEs queued").
const bindUpdateQuota = 100

// ShardUpdatesInFlight is what the instances of a shard share of a
// server's UPDATEs in flight by default: each has [dns] updates_in_flight
// = ShardUpdatesInFlight / instances (at most DefaultZonesInFlight), so
// that together they stay below BIND's update-quota.
const ShardUpdatesInFlight = 96

// AuthoritativeSection is [authoritative]: the embedded DNS server.
type AuthoritativeSection struct {
	Listen      string      `toml:"listen"`   // "ip:port", UDP and TCP
	DataDir     string      `toml:"data_dir"` // snapshots + journals
	Keys        []tsig.Spec `toml:"keys"`
	Secondaries []string    `toml:"secondaries"` // NOTIFY targets, allowed to transfer
	Zones       []AuthZone  `toml:"zone"`

	// Per-client limits (dnsserver.Config; docs/design.md "Embedded DNS
	// server limits"). 0 or absent = the dnsserver default: 128
	// connections, 16 per source address, 10 s idle timeout.
	TCPMax         int               `toml:"tcp_max"`
	TCPPerSource   int               `toml:"tcp_per_source"`
	TCPIdleTimeout tomlconf.Duration `toml:"tcp_idle_timeout"`
	// UDP response rate limiting per source prefix; absent = the default
	// (100 responses/s, burst 2 × the rate, slip 2); rrl_responses_per_second
	// = 0 disables it, rrl_slip = 0 drops every excess response.
	RRLResponsesPerSecond *int `toml:"rrl_responses_per_second"`
	RRLBurst              *int `toml:"rrl_burst"`
	RRLSlip               *int `toml:"rrl_slip"`
}

// AuthZone is one [[authoritative.zone]].
type AuthZone struct {
	Name       string   `toml:"name"`
	NS         []string `toml:"ns"`
	UpdateKeys []string `toml:"update_keys"`
	// TransferKeys may AXFR/IXFR the zone; update keys may not unless
	// listed here (secondaries may, by address).
	TransferKeys []string `toml:"transfer_keys"`
}

// AliasDefaults is [defaults]: values every alias inherits.
type AliasDefaults struct {
	BestHosts       int               `toml:"best_hosts"`
	TTL             tomlconf.Duration `toml:"ttl"`
	PollingInterval tomlconf.Duration `toml:"polling_interval"`
	Fallback        string            `toml:"fallback"`
	// Hysteresis is the relative margin (0..1) by which a candidate must
	// beat a published member to replace it.
	Hysteresis float64 `toml:"hysteresis"`
	// Adopt lets lbd take over an alias name that holds records it did
	// not write (no ownership record of its group): for a first start on
	// names an older lbd or a person created.
	Adopt bool `toml:"adopt"`
}

// Alias is one [[alias]] table. Pointer fields fall back to [defaults].
type Alias struct {
	Name    string   `toml:"name"`
	Zone    string   `toml:"zone"`
	Members []string `toml:"members"`
	// MembersFrom "register" adds the members that registered themselves
	// (lbclient [agent] register) to the static members, which may then
	// be empty.
	MembersFrom     string             `toml:"members_from"`
	BestHosts       *int               `toml:"best_hosts"`
	External        bool               `toml:"external"`
	TTL             *tomlconf.Duration `toml:"ttl"`
	PollingInterval *tomlconf.Duration `toml:"polling_interval"`
	Fallback        *string            `toml:"fallback"`
	Hysteresis      *float64           `toml:"hysteresis"`
	Adopt           *bool              `toml:"adopt"`
}

// Fallback says what happens to an alias none of whose members is usable.
type Fallback string

// Fallbacks (docs/design.md §5); the legacy metric names are accepted as aliases.
const (
	FallbackKeep      Fallback = "keep"       // leave DNS as it is (legacy cmsfrontier)
	FallbackNone      Fallback = "none"       // publish nothing (legacy minino)
	FallbackAllRandom Fallback = "all-random" // publish N members regardless (legacy minimum)
)

// ParseFallback accepts the names of docs/design.md §5 and the legacy metric names.
func ParseFallback(s string) (Fallback, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "keep", "cmsfrontier":
		return FallbackKeep, nil
	case "none", "minino":
		return FallbackNone, nil
	case "all-random", "minimum":
		return FallbackAllRandom, nil
	}
	return "", fmt.Errorf("unknown fallback %q (keep, none, all-random; legacy cmsfrontier, minino, minimum)", s)
}

// Defaults returns the configuration every file is decoded over.
func Defaults() Spec {
	return Spec{
		LBD: LBDSection{Role: "auto", Workers: 64, Tick: tomlconf.Duration{Duration: time.Second}, PushCommunity: "public",
			StaleLoadAfter: tomlconf.Duration{Duration: 6 * time.Hour}, PushMinInterval: tomlconf.Duration{Duration: time.Second},
			PushMaxRate: 50},
		Heartbeat: HeartbeatSection{Interval: tomlconf.Duration{Duration: 5 * time.Second}, StaleAfter: tomlconf.Duration{Duration: 30 * time.Second}},
		DNS: DNSSection{Timeout: tomlconf.Duration{Duration: 2 * time.Second}, Retries: 2, Fencing: true,
			Stall: tomlconf.Duration{Duration: time.Second}, SerialCache: tomlconf.Duration{Duration: 10 * time.Minute},
			UpdatesInFlight: dnsupdate.DefaultZonesInFlight},
		SNMP: snmp.Config{Version: "3", Port: 161, User: "loadbalancing", AuthProtocol: "md5",
			Timeout: tomlconf.Duration{Duration: 2 * time.Second}, Retries: 1},
		Defaults: AliasDefaults{BestHosts: 2, TTL: tomlconf.Duration{Duration: 60 * time.Second},
			PollingInterval: tomlconf.Duration{Duration: 5 * time.Minute}, Fallback: "keep", Hysteresis: 0.1},
	}
}

func (c *Spec) Errorf(key, format string, args ...any) error {
	if c.doc == nil {
		return fmt.Errorf("key %s: %s", key, fmt.Sprintf(format, args...))
	}
	return c.doc.Errorf(key, format, args...)
}

// Validate checks every value and returns all problems found, each naming
// its key (and file and line when the config came from a file). It reads
// heartbeat.secret_file, and records Warnings.
func (c *Spec) Validate() error {
	c.warnings = nil
	var errs []error
	for _, f := range []func() []error{c.validateLBD, c.validateHeartbeat, c.validatePeers, c.validateDNS, c.validateSNMP,
		c.validateAuthoritative, c.validateAliases, c.validateAdmin, c.validateRegister, c.validateRender} {
		errs = append(errs, f()...)
	}
	return errors.Join(errs...)
}

// collector gathers located errors.
type collector struct {
	c    *Spec
	errs []error
}

func (e *collector) bad(key, format string, args ...any) {
	e.errs = append(e.errs, e.c.Errorf(key, format, args...))
}

func (c *Spec) validateLBD() []error {
	e := &collector{c: c}
	bad := e.bad
	switch c.LBD.Role {
	case "auto", "master", "slave":
	default:
		bad("lbd.role", "must be auto, master or slave, not %q", c.LBD.Role)
	}
	if c.LBD.Role == "auto" && c.LBD.Master == "" && !c.Sharded() {
		bad("lbd.master", "required when role is auto (the master's host name)")
	}
	if c.LBD.HTTPListen != "" {
		if _, _, err := net.SplitHostPort(c.LBD.HTTPListen); err != nil {
			bad("lbd.http_listen", "not host:port: %v", err)
		}
	}
	if c.LBD.PushListen != "" {
		if _, _, err := net.SplitHostPort(c.LBD.PushListen); err != nil {
			bad("lbd.push_listen", "not ip:port: %v", err)
		}
		if c.LBD.PushCommunity == "" {
			bad("lbd.push_community", "required with push_listen")
		}
	}
	c.LBD.pushAllow = nil
	for i, s := range c.LBD.PushAllow {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				bad(fmt.Sprintf("lbd.push_allow[%d]", i), "%q is neither an address nor a prefix", s)
				continue
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		c.LBD.pushAllow = append(c.LBD.pushAllow, p.Masked())
	}
	if c.LBD.PushMinInterval.Duration < 0 || c.LBD.PushMaxRate < 1 {
		bad("lbd.push_max_rate", "push_min_interval must not be negative and push_max_rate must be at least 1")
	}
	if c.LBD.Workers < 1 {
		bad("lbd.workers", "must be at least 1")
	}
	if c.LBD.Tick.Duration <= 0 {
		bad("lbd.tick", "must be positive")
	}
	if c.LBD.StaleLoadAfter.Duration < 0 {
		bad("lbd.stale_load_after", "must not be negative (0 turns the flag off)")
	}
	for key, v := range map[string]string{"lbd.group": c.LBD.Group, "lbd.instance": c.LBD.Instance} {
		if v != "" && !recordWord.MatchString(v) {
			bad(key, "%q: only letters, digits, '.', '_' and '-' (it is written into ownership and lease records)", v)
		}
	}
	return e.errs
}

// validatePeers checks [lbd] peers and what sharding requires of the rest
// (docs/design.md §9.7).
func (c *Spec) validatePeers() []error {
	e := &collector{c: c}
	bad := e.bad
	if !c.Sharded() {
		return nil
	}
	if c.LBD.Role == "slave" {
		bad("lbd.role", "must not be slave with lbd.peers: every instance of a shard is a master of its own zones (use master, or auto)")
	}
	if c.LBD.HTTPListen == "" {
		bad("lbd.http_listen", "required with lbd.peers: the peers fetch this instance's heartbeat there")
	}
	if c.Heartbeat.URL != "" {
		c.warn("heartbeat.url", "ignored with lbd.peers: each peer's heartbeat is fetched at its lbd.peers url")
	}
	if !c.DNS.Fencing {
		bad("dns.fencing", "must be true with lbd.peers: the zone leases are what keeps two instances from writing one zone")
	}
	if n := len(c.LBD.Peers) + 1; n*c.DNS.UpdatesInFlight > bindUpdateQuota {
		c.warn("dns.updates_in_flight", "%d instances × %d: up to %d UPDATEs in flight at one server, more than BIND's default update-quota (%d), which refuses the excess (lbd retries it later); unset, it is %d / instances",
			n, c.DNS.UpdatesInFlight, n*c.DNS.UpdatesInFlight, bindUpdateQuota, ShardUpdatesInFlight)
	}
	if ttl := c.DNS.LeaseTTL.Duration; ttl != 0 && ttl < 2*c.Heartbeat.Interval.Duration {
		bad("dns.lease_ttl", "must be at least 2 × heartbeat.interval (%s) with lbd.peers: the leases are renewed every interval", 2*c.Heartbeat.Interval.Duration)
	}
	seen := map[string]int{}
	for i, p := range c.LBD.Peers {
		key := fmt.Sprintf("lbd.peers[%d]", i)
		switch {
		case p.Instance == "":
			bad(key+".instance", "required (the peer's [lbd] instance)")
		case !recordWord.MatchString(p.Instance):
			bad(key+".instance", "%q: only letters, digits, '.', '_' and '-' (it names the holder of zone leases)", p.Instance)
		case c.LBD.Instance != "" && p.Instance == c.LBD.Instance:
			bad(key+".instance", "%q is this instance (lbd.instance): list the other instances only", p.Instance)
		default:
			if j, dup := seen[p.Instance]; dup {
				bad(key+".instance", "%q is already lbd.peers[%d]", p.Instance, j)
			}
			seen[p.Instance] = i
		}
		u, err := url.Parse(p.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(key+".url", "not an http(s) URL: %q", p.URL)
			continue
		}
		if c.Heartbeat.key != nil && u.Path != heartbeat.PathV2 {
			bad(key+".url", "with a heartbeat secret only the authenticated beat is believed: point the URL at %s", heartbeat.PathV2)
		}
	}
	return e.errs
}

func (c *Spec) validateHeartbeat() []error {
	e := &collector{c: c}
	bad := e.bad
	if c.Heartbeat.Interval.Duration <= 0 {
		bad("heartbeat.interval", "must be positive")
	}
	// A live master's newest beat, as a slave sees it, can be up to one
	// fetch interval plus one second (whole-second timestamps) old.
	if minStale := 2*c.Heartbeat.Interval.Duration + time.Second; c.Heartbeat.StaleAfter.Duration < minStale {
		bad("heartbeat.stale_after", "must be at least 2 × heartbeat.interval + 1s (%s), or a slave may take over from a live master", minStale)
	}
	if c.LBD.Role == "slave" && c.Heartbeat.URL == "" {
		bad("heartbeat.url", "required when role is slave (where the master's heartbeat is fetched)")
	}
	var u *url.URL
	if c.Heartbeat.URL != "" {
		var err error
		if u, err = url.Parse(c.Heartbeat.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("heartbeat.url", "not an http(s) URL: %q", c.Heartbeat.URL)
			u = nil
		}
	}
	e.errs = append(e.errs, c.validateHeartbeatSecret(u)...)
	return e.errs
}

// validateHeartbeatSecret reads the heartbeat secret into the section (u
// is the parsed heartbeat.url, nil if unset or bad).
func (c *Spec) validateHeartbeatSecret(u *url.URL) []error {
	e := &collector{c: c}
	bad := e.bad
	c.Heartbeat.key = nil
	h := c.Heartbeat
	switch {
	case h.SecretFile != "" && h.Secret != "":
		bad("heartbeat.secret", "set either heartbeat.secret_file or heartbeat.secret, not both")
	case h.SecretFile != "":
		key, warn, err := readSecretFile(c.secretPath())
		if err != nil {
			bad("heartbeat.secret_file", "%v", err)
		} else {
			c.Heartbeat.key = key
		}
		if warn != "" {
			c.warn("heartbeat.secret_file", "%s", warn)
		}
	case h.Secret != "":
		c.Heartbeat.key = []byte(strings.TrimSpace(h.Secret))
		if st, err := statFile(c.File); err == nil && st.Mode().Perm()&0o004 != 0 {
			c.warn("heartbeat.secret", "the heartbeat secret is inline in a world-readable file (mode %04o): prefer heartbeat.secret_file", st.Mode().Perm())
		}
	}
	if k := c.Heartbeat.key; k != nil && len(k) < heartbeat.MinKeyLen {
		key := "heartbeat.secret"
		if h.SecretFile != "" {
			key = "heartbeat.secret_file"
		}
		bad(key, "the secret is %d bytes, at least %d are required (32 or more recommended, RFC 2104 §3)", len(k), heartbeat.MinKeyLen)
		c.Heartbeat.key = nil
	}
	if c.Heartbeat.key != nil && u != nil && u.Path == heartbeat.Path {
		bad("heartbeat.url", "with a heartbeat secret a slave believes only the authenticated beat: point the URL at %s, not the legacy %s", heartbeat.PathV2, heartbeat.Path)
	}
	return e.errs
}

// secretPath resolves heartbeat.secret_file against the configuration
// file's directory.
func (c *Spec) secretPath() string {
	return c.path(c.Heartbeat.SecretFile)
}

// statFile stats the configuration file, if there is one.
func statFile(path string) (os.FileInfo, error) {
	if path == "" {
		return nil, os.ErrNotExist
	}
	return os.Stat(path)
}

// readSecretFile reads a secret file: a regular file, non-empty once
// surrounding white space is trimmed. warn is set when the file is open to
// every user (an operator expects a secret at mode 0600 or 0640).
func readSecretFile(path string) (key []byte, warn string, err error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, "", err
	}
	if !st.Mode().IsRegular() {
		return nil, "", fmt.Errorf("%s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o007 != 0 {
		warn = fmt.Sprintf("%s is accessible to every user (mode %04o): chmod o-rwx it", path, perm)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, warn, err
	}
	key = []byte(strings.TrimSpace(string(b)))
	if len(key) == 0 {
		return nil, warn, fmt.Errorf("%s is empty", path)
	}
	return key, warn, nil
}

// warn records a problem that does not stop lbd, located like an error.
func (c *Spec) warn(key, format string, args ...any) {
	c.warnings = append(c.warnings, c.Errorf(key, format, args...).Error())
}

// warnAnswerSize warns about an alias that can publish more records of a
// type than BIND accepts by default, or more than fit in a 512-byte UDP
// answer (RFC 1035 §4.2.1) or in the 1232-byte EDNS buffer most resolvers
// use (RFC 6891 §6.2.5): such answers are truncated and retried over TCP.
// It counts one address per member and family, so it is a lower bound.
func (c *Spec) warnAnswerSize(key string, p Params) {
	n := p.BestHosts
	if n < 0 || n > len(p.Members) {
		n = len(p.Members)
	}
	// header + question + n AAAA records with a compressed owner name.
	size := 12 + len(p.Name) + 2 + 4 + n*(2+10+16)
	switch {
	case n > 100:
		c.warn(key+".best_hosts", "alias %s can publish %d records of a type: BIND refuses more than max-records-per-type (100 by default) and the update fails", p.Name, n)
	case size > 1232:
		c.warn(key+".best_hosts", "alias %s can publish %d records of a type: an AAAA answer of %d bytes exceeds the 1232-byte EDNS buffer (RFC 6891), so resolvers retry over TCP", p.Name, n, size)
	case size > 512:
		c.warn(key+".best_hosts", "alias %s can publish %d records of a type: an AAAA answer of %d bytes exceeds 512 bytes, so clients without EDNS retry over TCP (RFC 1035 §4.2.1)", p.Name, n, size)
	}
}

// Warnings lists the problems Validate found that do not stop lbd (a
// world-readable heartbeat secret, …), for the daemon's caller to log.
func (c *Spec) Warnings() []string { return c.warnings }

// HeartbeatName is the name this instance's heartbeat carries when it is
// the master: [lbd] master when set — a legacy slave matches the line
// against its own master setting — else hostname (docs/protocol.md §9).
func (c *Spec) HeartbeatName(hostname string) string {
	if c.Sharded() {
		// Its peers know it by its instance name.
		return cmp.Or(c.LBD.Instance, hostname)
	}
	if c.LBD.Master != "" {
		return c.LBD.Master
	}
	return hostname
}

func (c *Spec) validateDNS() []error {
	e := &collector{c: c}
	bad := e.bad
	switch {
	case c.DNS.Server != "" && len(c.DNS.Servers) > 0:
		bad("dns.servers", "set either dns.server or dns.servers, not both")
	case c.DNS.Server == "" && len(c.DNS.Servers) == 0 && c.Authoritative == nil:
		bad("dns.server", "required (host:port of the DNS server to update), or dns.servers, or [authoritative]")
	case c.DNS.Server != "":
		if _, _, err := net.SplitHostPort(c.DNS.Server); err != nil {
			bad("dns.server", "not host:port (IPv6 as [::1]:53): %v", err)
		} else if _, err := dnsupdate.ServerAddr(c.DNS.Server); err != nil {
			bad("dns.server", "%v", err)
		}
	}
	seenSrv := map[string]bool{}
	for i, s := range c.DNS.Servers {
		key := fmt.Sprintf("dns.servers[%d]", i)
		if _, _, err := net.SplitHostPort(s); err != nil {
			bad(key, "not host:port (IPv6 as [::1]:53): %v", err)
		} else if _, err := dnsupdate.ServerAddr(s); err != nil {
			bad(key, "%v", err)
		} else if seenSrv[s] {
			bad(key, "%s listed twice", s)
		}
		seenSrv[s] = true
	}
	if c.DNS.Timeout.Duration <= 0 {
		bad("dns.timeout", "must be positive")
	}
	if c.DNS.Retries < 0 {
		bad("dns.retries", "must not be negative")
	}
	if c.DNS.LeaseTTL.Duration < 0 {
		bad("dns.lease_ttl", "must not be negative")
	}
	if c.DNS.Stall.Duration <= 0 {
		bad("dns.stall", "must be positive")
	}
	if c.DNS.SerialCache.Duration < 0 {
		bad("dns.serial_cache", "must not be negative (0 disables it)")
	}
	if c.DNS.UpdatesInFlight < 1 {
		bad("dns.updates_in_flight", "must be at least 1")
	}
	if c.DNS.InternalKey == nil {
		bad("dns.internal_key", "required: the TSIG key lbd signs updates with")
	} else {
		e.errs = append(e.errs, c.validateKey("dns.internal_key", *c.DNS.InternalKey)...)
	}
	if c.DNS.ExternalKey != nil {
		e.errs = append(e.errs, c.validateKey("dns.external_key", *c.DNS.ExternalKey)...)
	}
	return e.errs
}

func (c *Spec) validateSNMP() []error {
	e := &collector{c: c}
	for _, p := range c.SNMP.Problems() {
		e.bad("snmp."+p.Key, "%s", p.Msg)
	}
	return e.errs
}

func (c *Spec) validateAliases() []error {
	e := &collector{c: c}
	bad := e.bad
	e.errs = append(e.errs, c.validateAliasParams("defaults", c.Defaults.BestHosts, c.Defaults.TTL.Duration,
		c.Defaults.PollingInterval.Duration, c.Defaults.Fallback, c.Defaults.Hysteresis)...)
	seen := map[string]int{}
	for i, a := range c.Aliases {
		key := fmt.Sprintf("alias[%d]", i)
		name := NormName(a.Name)
		if name == "" {
			bad(key+".name", "required")
		} else if _, ok := dnsNameOK(name); !ok {
			bad(key+".name", "%q is not a valid DNS name", a.Name)
		} else if j, dup := seen[name]; dup {
			bad(key+".name", "alias %q is already defined by alias[%d]", a.Name, j)
		} else {
			seen[name] = i
		}
		if a.Zone != "" {
			if _, ok := dnsNameOK(NormName(a.Zone)); !ok {
				bad(key+".zone", "%q is not a valid DNS name", a.Zone)
			} else if name != "" && !inZone(name, NormName(a.Zone)) {
				bad(key+".zone", "alias %q is not inside zone %q", a.Name, a.Zone)
			}
		}
		switch a.MembersFrom {
		case "", MembersStatic:
			if len(a.Members) == 0 {
				bad(key+".members", "at least one member is required (or members_from = \"register\")")
			}
		case MembersRegister:
			if c.LBD.HTTPListen == "" {
				bad(key+".members_from", "registrations arrive over HTTP: set lbd.http_listen")
			}
			if c.LBD.RegisterSecretFile == "" {
				bad(key+".members_from", "registrations are signed: set lbd.register_secret_file")
			}
		default:
			bad(key+".members_from", "want \"register\" (with or without static members), not %q", a.MembersFrom)
		}
		seenMember := map[string]int{}
		for j, m := range a.Members {
			mkey := fmt.Sprintf("%s.members[%d]", key, j)
			if strings.TrimSpace(m) == "" {
				bad(mkey, "empty member")
				continue
			}
			id := memberID(m)
			if k, dup := seenMember[id]; dup {
				other := fmt.Sprintf("%s.members[%d]", key, k)
				bad(mkey, "member %q is listed twice (also %s%s): it would take two best_hosts places", m, other, c.lineOf(other))
				continue
			}
			seenMember[id] = j
		}
		if a.External && c.DNS.ExternalKey == nil {
			bad(key+".external", "external = true needs dns.external_key")
		}
		p, fb := c.params(i)
		e.errs = append(e.errs, c.validateAliasParams(key, p.BestHosts, p.TTL, p.PollingInterval, fb, p.Hysteresis)...)
		c.warnAnswerSize(key, p)
	}
	return e.errs
}

func (c *Spec) validateKey(key string, k tsig.Spec) []error {
	var errs []error
	if k.Name == "" {
		errs = append(errs, c.Errorf(key+".name", "required"))
	}
	if k.Secret == "" {
		errs = append(errs, c.Errorf(key+".secret", "required (base64)"))
	} else if _, err := base64.StdEncoding.DecodeString(k.Secret); err != nil {
		errs = append(errs, c.Errorf(key+".secret", "not valid base64: %v", err))
	}
	if _, err := k.Compile(); err != nil && k.Name != "" && k.Secret != "" {
		errs = append(errs, c.Errorf(key, "%v", err))
	}
	return errs
}

func (c *Spec) validateAliasParams(key string, best int, ttl, poll time.Duration, fb string, hyst float64) []error {
	var errs []error
	if best < -1 || best == 0 {
		errs = append(errs, c.Errorf(key+".best_hosts", "must be -1 (every usable member) or at least 1, not %d", best))
	}
	if ttl < time.Second || ttl > 24*time.Hour || ttl%time.Second != 0 {
		errs = append(errs, c.Errorf(key+".ttl", "must be whole seconds between 1s and 24h, not %s", ttl))
	}
	if poll <= 0 {
		errs = append(errs, c.Errorf(key+".polling_interval", "must be positive"))
	}
	if _, err := ParseFallback(fb); err != nil {
		errs = append(errs, c.Errorf(key+".fallback", "%v", err))
	}
	if hyst < 0 || hyst >= 1 {
		errs = append(errs, c.Errorf(key+".hysteresis", "must be in [0, 1), not %v", hyst))
	}
	return errs
}

// params resolves alias i against [defaults]: its settings and its fallback
// as written (Fallback is set only when that parses). Names are lower-case
// without the trailing dot; Zone defaults to the alias itself.
func (c *Spec) params(i int) (Params, string) {
	a := c.Aliases[i]
	d := c.Defaults
	p := Params{Name: NormName(a.Name), Zone: NormName(a.Zone), Members: a.Members, BestHosts: d.BestHosts,
		TTL: d.TTL.Duration, PollingInterval: d.PollingInterval.Duration, Hysteresis: d.Hysteresis, External: a.External,
		Register: a.MembersFrom == MembersRegister}
	if p.Zone == "" {
		// The alias is its own zone (CERN layout), unless the embedded
		// server serves a zone that contains it.
		p.Zone = p.Name
		if z := c.authZone(p.Name); z != nil {
			p.Zone = NormName(z.Name)
		}
	}
	fb := d.Fallback
	if a.BestHosts != nil {
		p.BestHosts = *a.BestHosts
	}
	if a.TTL != nil {
		p.TTL = a.TTL.Duration
	}
	if a.PollingInterval != nil {
		p.PollingInterval = a.PollingInterval.Duration
	}
	if a.Fallback != nil {
		fb = *a.Fallback
	}
	if a.Hysteresis != nil {
		p.Hysteresis = *a.Hysteresis
	}
	p.Adopt = d.Adopt
	if a.Adopt != nil {
		p.Adopt = *a.Adopt
	}
	if f, err := ParseFallback(fb); err == nil {
		p.Fallback = f
	}
	return p, fb
}

// DNSServers lists the servers to keep up to date, in configuration order:
// dns.servers, dns.server, or else the embedded server.
func (c *Spec) DNSServers() []string {
	if len(c.DNS.Servers) > 0 {
		return c.DNS.Servers
	}
	if c.DNS.Server != "" {
		return []string{c.DNS.Server}
	}
	if c.Authoritative != nil {
		return []string{c.Authoritative.Listen}
	}
	return nil
}

// writesEmbedded reports whether lbd writes only to its embedded server.
func (c *Spec) writesEmbedded() bool {
	return c.Authoritative != nil && c.DNS.Server == "" && len(c.DNS.Servers) == 0
}

func (c *Spec) validateAuthoritative() []error {
	a := c.Authoritative
	if a == nil {
		return nil
	}
	var errs []error
	bad := func(key, format string, args ...any) { errs = append(errs, c.Errorf(key, format, args...)) }
	if host, port, err := net.SplitHostPort(a.Listen); err != nil {
		bad("authoritative.listen", "not ip:port: %v", err)
	} else if _, err := netip.ParseAddr(host); err != nil {
		bad("authoritative.listen", "%q is not an IP address", host)
	} else if port == "0" && c.writesEmbedded() {
		bad("authoritative.listen", "needs a fixed port when lbd writes to the embedded server")
	}
	if a.DataDir == "" {
		bad("authoritative.data_dir", "required (snapshots and journals of the zones)")
	}
	keys := map[string]bool{}
	for i, k := range a.Keys {
		key := fmt.Sprintf("authoritative.keys[%d]", i)
		errs = append(errs, c.validateKey(key, k)...)
		keys[NormName(k.Name)] = true
	}
	for i, s := range a.Secondaries {
		if _, _, err := net.SplitHostPort(s); err != nil {
			bad(fmt.Sprintf("authoritative.secondaries[%d]", i), "not ip:port: %v", err)
		}
	}
	if len(a.Zones) == 0 {
		bad("authoritative.zone", "at least one [[authoritative.zone]] is required")
	}
	seen := map[string]bool{}
	for i, z := range a.Zones {
		key := fmt.Sprintf("authoritative.zone[%d]", i)
		n := NormName(z.Name)
		if _, ok := dnsNameOK(n); !ok {
			bad(key+".name", "%q is not a valid zone name", z.Name)
		} else if seen[n] {
			bad(key+".name", "zone %q listed twice", z.Name)
		}
		seen[n] = true
		for j, k := range z.UpdateKeys {
			if !keys[NormName(k)] {
				bad(fmt.Sprintf("%s.update_keys[%d]", key, j), "key %q is not in authoritative.keys", k)
			}
		}
		for j, k := range z.TransferKeys {
			if !keys[NormName(k)] {
				bad(fmt.Sprintf("%s.transfer_keys[%d]", key, j), "key %q is not in authoritative.keys", k)
			}
		}
	}
	errs = append(errs, c.validateAuthLimits()...)
	if c.writesEmbedded() && c.DNS.InternalKey != nil {
		ik := NormName(c.DNS.InternalKey.Name)
		for i := range c.Aliases {
			p, _ := c.params(i)
			z := c.authZone(p.Name)
			switch {
			case z == nil:
				bad(fmt.Sprintf("alias[%d].name", i), "alias %q is in no [[authoritative.zone]]", c.Aliases[i].Name)
			case !contains(z.UpdateKeys, ik):
				bad(fmt.Sprintf("alias[%d]", i), "dns.internal_key %q may not update zone %q (add it to update_keys)", c.DNS.InternalKey.Name, z.Name)
			case NormName(z.Name) != p.Zone:
				bad(fmt.Sprintf("alias[%d].zone", i), "the embedded server serves zone %q, not %q", z.Name, p.Zone)
			}
		}
	}
	return errs
}

// validateAuthLimits checks the per-client limits of [authoritative].
func (c *Spec) validateAuthLimits() []error {
	a := c.Authoritative
	var errs []error
	bad := func(key, format string, args ...any) { errs = append(errs, c.Errorf(key, format, args...)) }
	if a.TCPMax < 0 || a.TCPMax == 1 {
		bad("authoritative.tcp_max", "%d: want at least 2 (0 = %d)", a.TCPMax, dnsserver.DefaultTCPMax)
	}
	if a.TCPPerSource < 0 {
		bad("authoritative.tcp_per_source", "%d: must not be negative", a.TCPPerSource)
	}
	total, per := a.TCPMax, a.TCPPerSource
	if total == 0 {
		total = dnsserver.DefaultTCPMax
	}
	if per > 0 && total > 1 && per >= total {
		bad("authoritative.tcp_per_source", "%d must be below tcp_max %d (one client could take every connection)", per, total)
	}
	if a.TCPIdleTimeout.Duration < 0 {
		bad("authoritative.tcp_idle_timeout", "must not be negative")
	}
	for _, f := range []struct {
		key string
		v   *int
	}{{"rrl_responses_per_second", a.RRLResponsesPerSecond}, {"rrl_burst", a.RRLBurst}, {"rrl_slip", a.RRLSlip}} {
		if f.v != nil && *f.v < 0 {
			bad("authoritative."+f.key, "%d: must not be negative", *f.v)
		}
	}
	return errs
}

// authZone returns the embedded zone that contains name (the longest match).
func (c *Spec) authZone(name string) *AuthZone {
	if c.Authoritative == nil {
		return nil
	}
	var best *AuthZone
	for i := range c.Authoritative.Zones {
		z := &c.Authoritative.Zones[i]
		if inZone(name, NormName(z.Name)) && (best == nil || len(z.Name) > len(best.Name)) {
			best = z
		}
	}
	return best
}

func contains(list []string, name string) bool {
	for _, s := range list {
		if NormName(s) == name {
			return true
		}
	}
	return false
}

// CheckRole rejects a configuration that makes this host (hostname) a
// slave without heartbeat.url: it could never see the master, would take
// over after stale_after and write DNS alongside it for ever.
func (c *Spec) CheckRole(hostname string) error {
	if c.Sharded() {
		self := cmp.Or(c.LBD.Instance, hostname)
		for i, p := range c.LBD.Peers {
			if p.Instance == self {
				return c.Errorf(fmt.Sprintf("lbd.peers[%d].instance", i), "%q is this instance (lbd.instance, default the host name): list the other instances only", p.Instance)
			}
		}
		return nil
	}
	if c.IsMaster(hostname) || c.Heartbeat.URL != "" {
		return nil
	}
	return c.Errorf("heartbeat.url", "required: this host (%q) is not lbd.master (%q), so it runs as a slave", hostname, c.LBD.Master)
}

// IsMaster resolves the role: explicit, or "auto" comparing lbd.master with
// hostname exactly (docs/protocol.md §9).
func (c *Spec) IsMaster(hostname string) bool {
	if c.Sharded() {
		return true // a master of the zones it owns
	}
	switch c.LBD.Role {
	case "master":
		return true
	case "slave":
		return false
	}
	return c.LBD.Master == hostname
}

// PushAllowed reports whether push_allow lets a notification from a in;
// ok is false when push_allow is empty (the caller decides).
func (l LBDSection) PushAllowed(a netip.Addr) (allowed, configured bool) {
	if len(l.pushAllow) == 0 {
		return false, false
	}
	a = a.Unmap()
	for _, p := range l.pushAllow {
		if p.Contains(a) {
			return true, true
		}
	}
	return false, true
}

// memberID is what makes two member entries the same member: the address
// of an IP literal, else the host name compared as DNS names are.
func memberID(m string) string {
	if a, err := netip.ParseAddr(strings.Trim(strings.TrimSpace(m), "[]")); err == nil {
		return a.Unmap().String()
	}
	return NormName(m)
}

// lineOf is ", line N" for key, or "" when the line is not known.
func (c *Spec) lineOf(key string) string {
	if c.doc == nil {
		return ""
	}
	if n := c.doc.Line(key); n > 0 {
		return fmt.Sprintf(", line %d", n)
	}
	return ""
}

// recordWord is what a group or instance name may be.
var recordWord = regexp.MustCompile(`^[A-Za-z0-9._-]{1,63}$`)

// IsRecordWord reports whether s may name a group or an instance in the
// ownership and lease records.
func IsRecordWord(s string) bool { return recordWord.MatchString(s) }

// NormName is how lbd compares DNS names: lower case, without surrounding
// spaces and the trailing dot.
func NormName(s string) string { return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".") }

func inZone(name, zone string) bool { return name == zone || strings.HasSuffix(name, "."+zone) }

// ValidHostName reports whether s (normalised, see NormName) is a host name
// lbd accepts: labels of letters, digits, '-' and '_', at most 253
// characters; not an address literal.
func ValidHostName(s string) bool {
	_, ok := dnsNameOK(s)
	return ok
}

func dnsNameOK(s string) (string, bool) {
	if s == "" || len(s) > 253 {
		return s, false
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return s, false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 {
			return s, false
		}
		for _, r := range l {
			if !(r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
				return s, false
			}
		}
	}
	return s, true
}

// DNSServerConfig converts [authoritative] for package dnsserver.
func (c *Spec) DNSServerConfig() dnsserver.Config {
	a := c.Authoritative
	sc := dnsserver.Config{Listen: a.Listen, DataDir: a.DataDir, Secondaries: a.Secondaries, Keys: a.Keys,
		TCPMax: a.TCPMax, TCPPerSource: a.TCPPerSource, TCPIdleTimeout: a.TCPIdleTimeout.Duration}
	for _, z := range a.Zones {
		sc.Zones = append(sc.Zones, dnsserver.Zone{Name: z.Name, NS: z.NS, UpdateKeys: z.UpdateKeys, TransferKeys: z.TransferKeys})
	}
	if a.RRLResponsesPerSecond != nil || a.RRLBurst != nil || a.RRLSlip != nil {
		rrl := dnsserver.DefaultRRL()
		if a.RRLResponsesPerSecond != nil {
			rrl.ResponsesPerSecond = *a.RRLResponsesPerSecond
			rrl.Burst = 0 // 2 × the rate unless rrl_burst is set
		}
		if a.RRLBurst != nil {
			rrl.Burst = *a.RRLBurst
		}
		if a.RRLSlip != nil {
			rrl.Slip = *a.RRLSlip
		}
		sc.RRL = &rrl
	}
	return sc
}
