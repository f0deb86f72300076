package config

import (
	"cmp"
	"fmt"
	"os"
	"time"

	"github.com/lbd-project/lbd/dnsupdate"
	"github.com/lbd-project/lbd/internal/tomlconf"
	"github.com/lbd-project/lbd/lbd/render"
)

// Compiled is a validated configuration compiled once into what the daemon
// runs on: every alias's effective settings, the TSIG keys, and one DNS
// client per server and view. It is immutable; a reload swaps in a new one.
type Compiled struct {
	// Spec is the configuration as written (read-only).
	Spec
	// Params holds alias i's effective settings, as Config.Aliases[i].
	Params []Params
	// Views are every DNS server seen with the internal key, in
	// DNSServers order, then (with dns.external_key) every server seen
	// with the external key.
	Views []*View
	// internal is how many of Views are internal.
	internal int
	// Owner is the text of the ownership record of every name this
	// instance group writes.
	Owner string
	// LeaseTTL is a slave's (or a shard's) lease lifetime (dns.lease_ttl
	// or its default: 2 × heartbeat.interval with lbd.peers).
	LeaseTTL time.Duration
	// Renders are the [[render]] sections compiled, in file order.
	Renders []*render.Target
}

// MaxFileSize bounds lbd's configuration file: it lists every member of
// every alias, so it is larger than lbclient's (100,000 members take about
// 2.3 MB); the nesting limit of tomlconf applies as to every file.
const MaxFileSize = 16 << 20

// OwnerPrefix starts every ownership record (docs/design.md §9).
const OwnerPrefix = "lbd-owner v=1 "

// View is one DNS server seen with one key: the internal view (reads and
// updates signed with the internal key) or the external view (signed with
// the external key), so that a server selecting views by key answers each
// from its own view.
type View struct {
	Server   string
	External bool
	Client   *dnsupdate.Client
}

// String names the view in logs, errors and status.
func (v *View) String() string {
	if v.External {
		return v.Server + " (external view)"
	}
	return v.Server
}

// Load reads, decodes, validates and compiles the configuration file at
// path.
func Load(path string) (*Compiled, error) {
	if st, err := os.Stat(path); err == nil && st.Size() > MaxFileSize {
		return nil, &tomlconf.Error{File: path, Msg: fmt.Sprintf("file of %d bytes: larger than the %d bytes a configuration may have", st.Size(), MaxFileSize)}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes data (named file in errors) over the defaults, rejects
// unknown keys, validates and compiles.
func Parse(file string, data []byte) (*Compiled, error) {
	cfg := Defaults()
	doc, err := tomlconf.DecodeLimited(file, data, &cfg, MaxFileSize)
	if err != nil {
		return nil, err
	}
	cfg.File, cfg.doc = file, doc
	if cfg.Sharded() && !doc.Meta.IsDefined("heartbeat", "stale_after") {
		// A shard that dies has its zones taken once its beat is stale
		// (docs/design.md §9.7): by default as soon as that is safe for
		// the beat's resolution, about 2 intervals, not the 30 s a
		// master/slave pair waits. The lease, not the beat, is what keeps
		// two instances from writing one zone.
		cfg.Heartbeat.StaleAfter.Duration = 2*cfg.Heartbeat.Interval.Duration + time.Second
	}
	if cfg.Sharded() && !doc.Meta.IsDefined("dns", "updates_in_flight") {
		// Every instance of a shard writes to the same servers at once:
		// by default they share one bound below BIND's update-quota
		// (docs/design.md §9.7).
		cfg.DNS.UpdatesInFlight = max(1, min(dnsupdate.DefaultZonesInFlight, ShardUpdatesInFlight/(len(cfg.LBD.Peers)+1)))
	}
	return Compile(cfg)
}

// Compile validates cfg and compiles it.
func Compile(cfg Spec) (*Compiled, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Compiled{Spec: cfg, Renders: cfg.renders}
	for i := range cfg.Aliases {
		p, _ := cfg.params(i)
		c.Params = append(c.Params, p)
	}
	group := cmp.Or(cfg.LBD.Group, cfg.LBD.Master, "lbd")
	c.Owner = OwnerPrefix + "group=" + group
	c.LeaseTTL = cfg.DNS.LeaseTTL.Duration
	if c.LeaseTTL == 0 && cfg.Sharded() {
		// Renewed every heartbeat interval (docs/design.md §9.7).
		c.LeaseTTL = 2 * cfg.Heartbeat.Interval.Duration
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = 3 * cfg.Heartbeat.StaleAfter.Duration
		for _, p := range c.Params {
			c.LeaseTTL = max(c.LeaseTTL, 3*p.PollingInterval)
		}
	}
	internal, err := cfg.DNS.InternalKey.Compile()
	if err != nil {
		return nil, cfg.Errorf("dns.internal_key", "%v", err)
	}
	retries := cfg.DNS.Retries
	if retries == 0 {
		retries = -1 // dnsupdate: 0 means its default, negative means none
	}
	// One bound per server, shared by its internal and external views:
	// the server's update quota counts both.
	inFlight := map[string]dnsupdate.InFlight{}
	client := func(server string) *dnsupdate.Client {
		if inFlight[server] == nil {
			inFlight[server] = dnsupdate.NewInFlight(cfg.DNS.UpdatesInFlight)
		}
		return &dnsupdate.Client{Server: server, Timeout: cfg.DNS.Timeout.Duration, Retries: retries, Key: internal,
			InFlight: inFlight[server]}
	}
	for _, srv := range cfg.DNSServers() {
		c.Views = append(c.Views, &View{Server: srv, Client: client(srv)})
	}
	c.internal = len(c.Views)
	if cfg.DNS.ExternalKey != nil {
		external, err := cfg.DNS.ExternalKey.Compile()
		if err != nil {
			return nil, cfg.Errorf("dns.external_key", "%v", err)
		}
		for _, srv := range cfg.DNSServers() {
			cl := client(srv)
			cl.Key = external
			c.Views = append(c.Views, &View{Server: srv, External: true, Client: cl})
		}
	}
	return c, nil
}

// ViewsOf lists the indexes (into Views) of the views alias p is published
// in: every internal view, and the external ones for an external alias.
func (c *Compiled) ViewsOf(p *Params) []int {
	n := c.internal
	if p.External {
		n = len(c.Views)
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// Params is an alias's effective settings: its own values over [defaults].
type Params struct {
	Name, Zone      string
	Members         []string
	BestHosts       int
	TTL             time.Duration
	PollingInterval time.Duration
	Fallback        Fallback
	Hysteresis      float64
	External        bool
	Adopt           bool
	// Register: the alias takes registered members too (members_from).
	Register bool
}
