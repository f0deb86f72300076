// Package metrics exports lbd's state and activity to Prometheus
// (docs/operations.md "Metrics" lists every metric).
//
// A Collector is fed two ways: by the daemon after every cycle (it is an
// lbd.Observer: cycle duration, polls, DNS drift, per-alias errors and
// writes) and by the DNS clients after every exchange with a server
// (dnsupdate.Client.Observe: updates and queries by server and rcode);
// the rest (role, leases, heartbeat age, per-alias members) is read from
// the daemon's Snapshot at scrape time, so it is never older than the
// scrape.
//
// Label cardinality is bounded by the configuration: alias, DNS server (and
// view), zone and [[render]] output labels only. Members are never a label: a farm has
// thousands, and their loads are in /status.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lbd-project/lbd/dnsupdate"
	"github.com/lbd-project/lbd/lbd"
	"github.com/lbd-project/lbd/lbd/config"
	"github.com/lbd-project/lbd/lbd/snmp"
	"github.com/lbd-project/lbd/lbd/status"
)

// Path is where Register serves the metrics.
const Path = "/metrics"

// Source is what the collector reads at scrape time (*lbd.Daemon).
type Source interface {
	Snapshot() status.Snapshot
}

// Member states of lbd_alias_members.
const (
	StateConfigured = "configured"
	StateUsable     = "usable"
	StatePublished  = "published"
)

// Collector is a prometheus.Collector of one daemon's metrics.
type Collector struct {
	src Source
	// Now is the clock (tests); default time.Now.
	Now func() time.Time

	mu   sync.Mutex
	seen *config.Compiled     // the configuration of the last cycle
	ok   map[string]time.Time // alias → last successful evaluation

	cycle      prometheus.Histogram
	polls      *prometheus.CounterVec
	updates    *prometheus.CounterVec
	queries    *prometheus.CounterVec
	drift      *prometheus.CounterVec
	errors     *prometheus.CounterVec
	writes     *prometheus.CounterVec
	renders    *prometheus.CounterVec
	cached     prometheus.Counter
	counters   []prometheus.Collector
	master     *prometheus.Desc
	writing    *prometheus.Desc
	beatAge    *prometheus.Desc
	lease      *prometheus.Desc
	shardLive  *prometheus.Desc
	shardOwned *prometheus.Desc
	members    *prometheus.Desc
	addresses  *prometheus.Desc
	fallback   *prometheus.Desc
	failed     *prometheus.Desc
	lastUpdate *prometheus.Desc
	lastOK     *prometheus.Desc
	lastEval   *prometheus.Desc
	lastChange *prometheus.Desc
	stale      *prometheus.Desc
	overrides  *prometheus.Desc
	registered *prometheus.Desc
	registers  *prometheus.Desc
}

// New returns a collector reading src at scrape time. Feed it with
// ObserveCycle (AddObserver) and Instrument.
func New(src Source) *Collector {
	c := &Collector{src: src, Now: time.Now, ok: map[string]time.Time{}}
	c.cycle = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "lbd_cycle_duration_seconds",
		Help:    "Duration of an evaluation cycle that evaluated at least one alias: resolve, poll, read DNS, plan and update.",
		Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}})
	c.polls = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lbd_polls_total",
		Help: "SNMP polls of member addresses by result (ok, negative_code, timeout, auth_error, malformed, error)."}, []string{"result"})
	c.updates = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lbd_dns_updates_total",
		Help: "DNS UPDATE exchanges (every try and transport) by server (and view) and reply rcode (none: no usable reply)."},
		[]string{"server", "rcode"})
	c.queries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lbd_dns_queries_total",
		Help: "DNS queries (records served, owner and lease TXT records) by server (and view) and reply rcode (none: no usable reply)."},
		[]string{"server", "rcode"})
	c.drift = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lbd_dns_drift_total",
		Help: "Times a DNS server (or view) was found serving something other than what lbd last found or left there for the alias; a writing instance rewrites it in the same cycle."},
		[]string{"alias"})
	c.errors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lbd_alias_errors_total",
		Help: "Evaluations of the alias that failed on at least one DNS server (read, update or lease)."}, []string{"alias"})
	c.writes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lbd_alias_updates_total",
		Help: "Evaluations of the alias that updated at least one DNS server."}, []string{"alias"})
	c.renders = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lbd_render_total",
		Help: "Rounds of a [[render]] output after a cycle by result (unchanged, replaced, template_error, read_error, write_error, check_failed, reload_failed)."},
		[]string{"output", "result"})
	c.cached = prometheus.NewCounter(prometheus.CounterOpts{Name: "lbd_dns_reads_cached_total",
		Help: "DNS reads ([dns] serial_cache: an alias's records in a server or view, a zone's lease) answered from what an earlier cycle read, the zone's SOA serial being unchanged; each saves the queries lbd_dns_queries_total would otherwise count."})
	c.counters = []prometheus.Collector{c.cycle, c.polls, c.updates, c.queries, c.drift, c.errors, c.writes, c.renders, c.cached}
	for _, r := range snmp.PollResults {
		c.polls.WithLabelValues(r)
	}
	alias := []string{"alias"}
	c.master = prometheus.NewDesc("lbd_master", "1 when this instance is the configured master, 0 for a slave.", nil, nil)
	c.writing = prometheus.NewDesc("lbd_writing", "1 when this instance may write DNS (a master; a slave whose master's heartbeat is stale).", nil, nil)
	c.beatAge = prometheus.NewDesc("lbd_heartbeat_age_seconds", "Seconds since the master's last heartbeat accepted by this slave (absent on a master and before the first beat).", nil, nil)
	c.lease = prometheus.NewDesc("lbd_lease_held", "1 when this instance holds the zone's lease on the DNS server (and view), with [dns] fencing.", []string{"server", "zone"}, nil)
	c.shardLive = prometheus.NewDesc("lbd_shard_live_instances", "With [lbd] peers: the instances this one takes as live (itself included), among which the zones are assigned.", nil, nil)
	c.shardOwned = prometheus.NewDesc("lbd_shard_zone_owned", "With [lbd] peers: 1 when this instance owns the zone under the live set (it writes it once it holds the lease), 0 when another instance does.", []string{"zone"}, nil)
	c.members = prometheus.NewDesc("lbd_alias_members", "Members of the alias: configured, usable (a usable load and an address) and published in DNS, at the last evaluation.", []string{"alias", "state"}, nil)
	c.addresses = prometheus.NewDesc("lbd_alias_published_addresses", "Addresses the alias's last decision publishes.", alias, nil)
	c.fallback = prometheus.NewDesc("lbd_alias_fallback_active", "1 when no member is usable and the alias's fallback rule decides what is published.", alias, nil)
	c.failed = prometheus.NewDesc("lbd_alias_failed", "1 when the alias's last evaluation failed on at least one DNS server.", alias, nil)
	c.lastUpdate = prometheus.NewDesc("lbd_alias_last_update_timestamp_seconds", "Unix time of the last accepted DNS update of the alias by this instance (absent before the first).", alias, nil)
	c.lastOK = prometheus.NewDesc("lbd_alias_last_success_timestamp_seconds", "Unix time of the alias's last evaluation with every DNS server read and in sync or updated (absent before the first).", alias, nil)
	c.lastEval = prometheus.NewDesc("lbd_alias_last_evaluation_timestamp_seconds", "Unix time of the alias's last evaluation (absent before the first).", alias, nil)
	c.lastChange = prometheus.NewDesc("lbd_alias_last_change_timestamp_seconds", "Unix time the alias's published members last changed (absent before the first decision).", alias, nil)
	c.stale = prometheus.NewDesc("lbd_alias_stale_members", "Published members of the alias whose usable load has not changed for [lbd] stale_load_after (a stuck metric?).", alias, nil)
	c.overrides = prometheus.NewDesc("lbd_alias_overrides", "Overrides (drains) in force for members of the alias.", alias, nil)
	c.registered = prometheus.NewDesc("lbd_alias_registered_members", "Members of the alias (members_from = \"register\") whose registration is in force.", alias, nil)
	c.registers = prometheus.NewDesc("lbd_registrations_total", "Member self-registrations received, by result: accepted, or the reason of the refusal (bad_signature, no_secret, alias_not_registering, replay, clock_skew, source_address, invalid, too_many).", []string{"result"}, nil)
	return c
}

// Register builds the collector of d, registers it as an observer, serves
// it at Path on http_listen (with the Go runtime and process collectors)
// and instruments cfg's DNS clients. Call it before d.Run; call Instrument
// with every reloaded configuration before d.SetConfig.
func Register(d *lbd.Daemon, cfg *config.Compiled) (*Collector, error) {
	c := New(d)
	reg := prometheus.NewRegistry()
	for _, col := range []prometheus.Collector{c, collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := reg.Register(col); err != nil {
			return nil, err
		}
	}
	c.Instrument(cfg)
	d.AddObserver(c)
	d.Handle(Path, Handler(reg))
	return c, nil
}

// Handler serves g in the Prometheus exposition formats.
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{})
}

// Instrument sets the Observe hook of every DNS client of cfg that has
// none, so that its exchanges are counted. Call it before the daemon uses
// cfg (the hook is a plain field); ObserveCycle does it for a configuration
// it sees first, which then misses that cycle's exchanges.
func (c *Collector) Instrument(cfg *config.Compiled) {
	if cfg == nil {
		return
	}
	for _, v := range cfg.Views {
		if v.Client == nil || v.Client.Observe != nil {
			continue
		}
		server := v.String()
		v.Client.Observe = func(a dnsupdate.Attempt) { c.observeDNS(server, a) }
	}
}

func (c *Collector) observeDNS(server string, a dnsupdate.Attempt) {
	rcode := "none"
	if a.Rcode >= 0 {
		if s, ok := dns.RcodeToString[a.Rcode]; ok {
			rcode = s
		} else {
			rcode = strconv.Itoa(a.Rcode)
		}
	}
	switch a.Op {
	case "update":
		c.updates.WithLabelValues(server, rcode).Inc()
	case "query":
		c.queries.WithLabelValues(server, rcode).Inc()
	}
}

// ObserveCycle implements lbd.Observer.
func (c *Collector) ObserveCycle(now time.Time, cfg *config.Compiled, rep lbd.CycleReport) {
	c.cycle.Observe(max(c.Now().Sub(now), 0).Seconds())
	c.mu.Lock()
	if cfg != c.seen {
		c.Instrument(cfg)
		c.forgetRemoved(cfg)
		c.seen = cfg
	}
	for _, r := range rep.Aliases {
		if r.Err == nil && r.Decided {
			c.ok[r.Alias] = now
		}
	}
	c.mu.Unlock()
	for _, r := range rep.Polls {
		c.polls.WithLabelValues(r.Result()).Inc()
	}
	c.cached.Add(float64(rep.CachedReads))
	for _, r := range rep.Aliases {
		if r.Err != nil {
			c.errors.WithLabelValues(r.Alias).Inc()
		} else {
			c.errors.WithLabelValues(r.Alias) // the series exists from the first evaluation
		}
		if r.Wrote {
			c.writes.WithLabelValues(r.Alias).Inc()
		} else {
			c.writes.WithLabelValues(r.Alias)
		}
		d := c.drift.WithLabelValues(r.Alias)
		for _, v := range r.Views {
			if v.Drift {
				d.Inc()
			}
		}
	}
}

// ObserveRender counts one round of a [[render]] output with its result
// (a render.Stage).
func (c *Collector) ObserveRender(output, result string) {
	c.renders.WithLabelValues(output, result).Inc()
}

// forgetRemoved deletes the series of aliases and servers cfg no longer
// has (c.mu held), so that a reload does not leave them behind.
func (c *Collector) forgetRemoved(cfg *config.Compiled) {
	if cfg == nil {
		return
	}
	aliases := map[string]bool{}
	for _, p := range cfg.Params {
		aliases[p.Name] = true
	}
	for a := range c.ok {
		if !aliases[a] {
			delete(c.ok, a)
		}
	}

	if c.seen == nil {
		return
	}
	for _, p := range c.seen.Params {
		if !aliases[p.Name] {
			for _, v := range []*prometheus.CounterVec{c.drift, c.errors, c.writes} {
				v.DeleteLabelValues(p.Name)
			}
		}
	}
	outputs := map[string]bool{}
	for _, r := range cfg.Renders {
		outputs[r.Output] = true
	}
	for _, r := range c.seen.Renders {
		if !outputs[r.Output] {
			c.renders.DeletePartialMatch(prometheus.Labels{"output": r.Output})
		}
	}
	servers := map[string]bool{}
	for _, v := range cfg.Views {
		servers[v.String()] = true
	}
	for _, v := range c.seen.Views {
		if s := v.String(); !servers[s] {
			c.updates.DeletePartialMatch(prometheus.Labels{"server": s})
			c.queries.DeletePartialMatch(prometheus.Labels{"server": s})
		}
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, col := range c.counters {
		col.Describe(ch)
	}
	for _, d := range []*prometheus.Desc{c.master, c.writing, c.beatAge, c.lease, c.shardLive, c.shardOwned, c.members, c.addresses,
		c.fallback, c.failed, c.lastUpdate, c.lastOK, c.lastEval, c.lastChange, c.stale, c.overrides, c.registered, c.registers} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: the counters, then the gauges
// of a fresh Snapshot.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, col := range c.counters {
		col.Collect(ch)
	}
	s := c.src.Snapshot()
	now := c.Now()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	stamp := func(d *prometheus.Desc, t time.Time, alias string) {
		if !t.IsZero() {
			gauge(d, float64(t.UnixNano())/1e9, alias)
		}
	}
	gauge(c.master, bool01(s.Master))
	gauge(c.writing, bool01(s.Writing))
	if !s.Master && !s.LastBeat.IsZero() {
		gauge(c.beatAge, max(now.Sub(s.LastBeat), 0).Seconds())
	}
	for server, zones := range s.Leases {
		for zone, l := range zones {
			gauge(c.lease, bool01(l.Writing), server, zone)
		}
	}
	if s.Shard != nil {
		gauge(c.shardLive, float64(len(s.Shard.Live)))
		for _, z := range s.Shard.Zones {
			gauge(c.shardOwned, bool01(z.Mine), z.Zone)
		}
	}
	c.mu.Lock()
	ok := make(map[string]time.Time, len(c.ok))
	for a, t := range c.ok {
		ok[a] = t
	}
	c.mu.Unlock()
	for _, a := range s.Aliases {
		gauge(c.members, float64(a.Configured), a.Name, StateConfigured)
		gauge(c.members, float64(a.Usable), a.Name, StateUsable)
		gauge(c.members, float64(len(a.Hosts)), a.Name, StatePublished)
		gauge(c.addresses, float64(len(a.Addrs)), a.Name)
		gauge(c.fallback, bool01(a.Fallback != ""), a.Name)
		gauge(c.failed, bool01(a.Error != ""), a.Name)
		stamp(c.lastUpdate, a.LastWrite, a.Name)
		stamp(c.lastOK, ok[a.Name], a.Name)
		stamp(c.lastEval, a.LastEval, a.Name)
		stamp(c.lastChange, a.LastChange, a.Name)
		gauge(c.stale, float64(a.StaleMembers), a.Name)
		gauge(c.overrides, float64(len(a.Overrides)), a.Name)
		reg := 0
		for _, m := range a.Members {
			if !m.RegisteredUntil.IsZero() {
				reg++
			}
		}
		gauge(c.registered, float64(reg), a.Name)
	}
	ch <- prometheus.MustNewConstMetric(c.registers, prometheus.CounterValue, float64(s.Register.Accepted), "accepted")
	for reason, n := range s.Register.Refused {
		ch <- prometheus.MustNewConstMetric(c.registers, prometheus.CounterValue, float64(n), reason)
	}
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
