package lbd

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/sirupsen/logrus"

	"github.com/lbd-project/lbd/dnsserver"
	"github.com/lbd-project/lbd/dnsupdate"
	"github.com/lbd-project/lbd/heartbeat"
	"github.com/lbd-project/lbd/lbd/admin"
	"github.com/lbd-project/lbd/lbd/choice"
	"github.com/lbd-project/lbd/lbd/config"
	"github.com/lbd-project/lbd/lbd/cycle"
	"github.com/lbd-project/lbd/lbd/health"
	"github.com/lbd-project/lbd/lbd/lease"
	"github.com/lbd-project/lbd/lbd/managed"
	"github.com/lbd-project/lbd/lbd/override"
	"github.com/lbd-project/lbd/lbd/push"
	"github.com/lbd-project/lbd/lbd/registry"
	"github.com/lbd-project/lbd/lbd/snmp"
)

// Daemon is one lbd instance (master or slave). Run owns its tickers, HTTP
// listener and goroutines; Cycle is one evaluation, usable on its own (-once).
type Daemon struct {
	log      logrus.FieldLogger
	hostname string

	// DryRun plans the DNS changes without sending them (they are in the
	// cycle report's ViewResults, Action DryRun).
	DryRun bool
	// HTTPClient fetches the master's heartbeat (slave).
	HTTPClient *http.Client

	pub *heartbeat.Publisher

	mu     sync.Mutex
	cfg    *config.Compiled
	poller Poller
	// resolve, when set (SetResolver), replaces the pollers' resolver.
	resolve  func(ctx context.Context, host string) ([]netip.Addr, error)
	follower heartbeat.Follower
	verifier heartbeat.Verifier // authenticated beats (heartbeat secret)
	aliases  map[string]*aliasState
	fetchErr error
	wake     chan struct{} // Poke → Run: aliases became due
	// names are the names this instance group manages (package managed).
	names managed.Set
	// seen are the zones (canonical) not written on a fresh presumption
	// (cycle.FreshZones): those of the managed names loaded at start, and
	// every zone decided since.
	seen map[string]bool
	// leases is the last lease decision per view and zone, for status
	// and for logging a change of holder.
	leases map[string]map[string]lease.Plan
	// writing is the role at the last cycle: this instance may write DNS.
	writing   bool
	observers []Observer
	routes    []route
	// edits are operators' override edits waiting for their alias's cycle.
	edits admin.Queue
	push  push.Limiter
	// reg holds the members' self-registrations; regEvents are changes
	// not yet told to the observers.
	reg       *registry.Registry
	regEvents []registry.Event
	// silent are the member addresses whose last poll failed, with when.
	silent map[netip.Addr]time.Time
	// embedded is the embedded DNS server while it runs (for /healthz).
	embedded *dnsserver.Server
	// health is each DNS server's (view's) health (package lbd/health).
	health map[string]health.Server
	// shard is the sharding state ([lbd] peers, sharding.go).
	shard shardState
	// zones is what the cycles read in each zone, reused while its SOA
	// serial is unchanged ([dns] serial_cache); emptied by a reload.
	zones *cycle.ZoneCache
}

// Poller is what the daemon needs of the SNMP manager (*snmp.Poller).
type Poller interface {
	// Hold keeps the poller usable until release, even across Close.
	Hold() (release func(), err error)
	// ResolveAll maps member names to addresses (cached).
	ResolveAll(ctx context.Context, hosts []string) (map[string][]netip.Addr, map[string]error)
	// PollEach polls every address (distinct) once, under Hold, with at
	// most limit in flight (0: its default), telling each reply as soon as
	// it is known (from several goroutines).
	PollEach(ctx context.Context, addrs []netip.Addr, limit int, each func(i int, r snmp.Reply))
	Close() error
}

type aliasState struct {
	sched     cycle.Schedule
	usable    map[string]bool // member host → usable, for in/out log lines
	decision  choice.Decision
	lastEval  time.Time
	lastWrite time.Time
	lastErr   error
	servers   map[string]error // per DNS server (and external view): last outcome
	// known is what each view (by View.String()) was last found or left
	// serving for the alias: the base of drift detection.
	known map[string][]netip.Addr
	// members are the members as evaluated last; lastChange is when the
	// published hosts last changed, memberChange when each member last
	// entered or left them.
	members      []choice.Member
	lastChange   time.Time
	memberChange map[string]time.Time
	// overrides are the alias's overrides in force at the last cycle.
	overrides override.Set
	// loadSince is, per member, its last load and since when it has had it.
	loadSince map[string]loadMark
}

// loadMark is a member's load and the moment it took that value.
type loadMark struct {
	load  int
	since time.Time
}

// noteLoads records since when each member has had its load.
func (st *aliasState) noteLoads(now time.Time, members []choice.Member) {
	next := make(map[string]loadMark, len(members))
	for _, m := range members {
		if prev, ok := st.loadSince[m.Host]; ok && prev.load == m.Load {
			next[m.Host] = prev
		} else {
			next[m.Host] = loadMark{m.Load, now}
		}
	}
	st.loadSince = next
}

// New builds a daemon for cfg. hostname decides the role when lbd.role is
// "auto".
func New(cfg *config.Compiled, hostname string, log logrus.FieldLogger) (*Daemon, error) {
	d := &Daemon{log: log, hostname: hostname,
		HTTPClient: &http.Client{Timeout: 10 * time.Second},
		pub:        &heartbeat.Publisher{},
		aliases:    map[string]*aliasState{}, wake: make(chan struct{}, 1)}
	if err := d.SetConfig(cfg); err != nil {
		return nil, err
	}
	d.loadEngines(cfg.LBD.StateDir, d.poller)
	d.loadSilent(cfg.LBD.StateDir)
	m, err := managed.Load(cfg.LBD.StateDir)
	if err != nil {
		return nil, err
	}
	d.names = m
	d.seen = map[string]bool{}
	for n := range m {
		d.seen[dns.CanonicalName(n.Zone)] = true
	}
	if d.reg, err = registry.Load(cfg.LBD.StateDir); err != nil {
		return nil, err
	}
	return d, nil
}

// Instance is this instance's name in leases and in the audit log.
func (d *Daemon) Instance() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.instance(d.cfg)
}

// instance is this instance's name in leases.
func (d *Daemon) instance(cfg *config.Compiled) string {
	if cfg.LBD.Instance != "" {
		return cfg.LBD.Instance
	}
	return d.hostname
}

// noteLeases logs every change of a zone's lease as this instance sees it
// and keeps the decisions for status.
func (d *Daemon) noteLeases(cfg *config.Compiled, plan cycle.Plan, applied cycle.Report) {
	if plan.DryRun {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.leases == nil {
		d.leases = map[string]map[string]lease.Plan{}
	}
	for v, zones := range plan.Leases {
		view := cfg.Views[v].String()
		if d.leases[view] == nil {
			d.leases[view] = map[string]lease.Plan{}
		}
		for zone, lp := range zones {
			if err := applied.Leases[v][zone]; err != nil {
				lp = lease.Plan{Why: fmt.Sprintf("lease change failed: %v", err)}
			}
			prev, seen := d.leases[view][zone]
			d.leases[view][zone] = lp
			f := d.log.WithFields(logrus.Fields{"zone": zone, "server": view})
			switch {
			case lp.Write && (!seen || !prev.Write):
				f.Info("lease held: this instance writes the zone")
			case lp.HandsBack && seen && prev.Write:
				f.Info("lease handed back")
			case !lp.Write && (seen && prev.Write || !seen && !lp.Passive) && lp.Holder != "" && lp.Holder != d.instance(cfg):
				f.WithField("holder", lp.Holder).Warn("lease lost: another instance writes the zone; this one stops writing it (" + lp.Why + ")")
			}
		}
	}
}

// SetConfig swaps in a new, already validated configuration (reload). State
// of aliases that still exist is kept.
func (d *Daemon) SetConfig(cfg *config.Compiled) error {
	if err := cfg.CheckRole(d.hostname); err != nil {
		return err
	}
	if inst := d.instance(cfg); cfg.DNS.Fencing && !config.IsRecordWord(inst) {
		return cfg.Errorf("lbd.instance", "required: the host name %q cannot name this instance in zone leases", inst)
	}
	d.mu.Lock()
	old := d.cfg
	d.mu.Unlock()
	if old != nil {
		// The embedded server keeps its sockets and data directory until
		// restart: writing to a new [authoritative] while the old one
		// serves would be wrong, so such a reload is refused.
		if !reflect.DeepEqual(old.Authoritative, cfg.Authoritative) {
			return errors.New("[authoritative] changed: restart lbd to apply it (running configuration kept)")
		}
		for key, changed := range map[string]bool{
			"lbd.http_listen":    old.LBD.HTTPListen != cfg.LBD.HTTPListen,
			"lbd.push_listen":    old.LBD.PushListen != cfg.LBD.PushListen || old.LBD.PushCommunity != cfg.LBD.PushCommunity,
			"lbd.tick":           old.LBD.Tick != cfg.LBD.Tick,
			"heartbeat.interval": old.Heartbeat.Interval != cfg.Heartbeat.Interval,
		} {
			if changed {
				d.log.WithField("key", key).Warn("reload: this setting takes effect only after a restart")
			}
		}
	}
	p, err := snmp.NewPoller(cfg.SNMP, cfg.LBD.Workers)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.resolve != nil {
		p.Resolve = d.resolve
	}
	if old := d.poller; old != nil {
		if k, ok := old.(engineKeeper); ok {
			p.AddEngines(k.Engines(), time.Now()) // no rediscovery after a reload
		}
		old.Close() // closes once the polls of a running cycle are done
	}
	d.cfg, d.poller = cfg, p
	d.zones = cycle.NewZoneCache() // the views may have changed
	d.setShardPeers(cfg, time.Now())
	d.follower.StaleAfter = cfg.Heartbeat.StaleAfter.Duration
	keep := map[string]*aliasState{}
	for _, p := range cfg.Params {
		n := p.Name
		if st, ok := d.aliases[n]; ok {
			keep[n] = st
		} else {
			keep[n] = &aliasState{}
		}
	}
	d.aliases = keep
	return nil
}

// SetResolver replaces the member name resolver (tests).
func (d *Daemon) SetResolver(f func(ctx context.Context, host string) ([]netip.Addr, error)) {
	d.mu.Lock()
	d.resolve = f
	if p, ok := d.poller.(*snmp.Poller); ok {
		p.Resolve = f
	}
	d.mu.Unlock()
}

// IsMaster reports the configured role.
func (d *Daemon) IsMaster() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg.IsMaster(d.hostname)
}

// AliasResult is the outcome of one alias's evaluation in a cycle.
type AliasResult struct {
	Alias    string
	Members  []choice.Member
	Decision choice.Decision
	// Change is the change for the first server (the others get their
	// own diff against what they serve).
	Change dnsupdate.Change
	// Wrote is set when at least one server was written.
	Wrote bool
	// Passive counts the servers (and views) with a change this instance
	// did not write because it is a passive slave.
	Passive int
	// Decided is false when no DNS server could be read, so nothing was
	// decided (choice.Decision is then empty).
	Decided bool
	// Servers is each server's outcome (nil = in sync or written).
	Servers map[string]error
	Err     error
	// Views is the plan of each of the alias's views (what -dry-run prints).
	Views []ViewResult
	// Overrides are the alias's overrides in force; DrainEmptied is set
	// when they leave no usable member (the fallback decided).
	Overrides    override.Set
	DrainEmptied bool
	// Written names the views written, with the zone serial after the
	// update (0 when it could not be read).
	Written map[string]uint32
}

// Outcome classifies the result for Reschedule (cycle.OutcomeOf).
func (r AliasResult) Outcome() cycle.Outcome { return cycle.OutcomeOf(r.Err, r.Servers) }

// ViewResult is one view's part of an AliasResult.
type ViewResult struct {
	View   string
	Action cycle.Action
	Change dnsupdate.Change
	// Drift: the view served something other than what lbd last found or
	// left there (ViewPlan.Drift).
	Drift bool
}

// CycleReport summarises one cycle.
type CycleReport struct {
	MayWrite bool
	Aliases  []AliasResult
	// Registrations are the changes of the registered members since the
	// last cycle (added, changed, expired), for the audit log.
	Registrations []registry.Event
	// Polls are the cycle's SNMP replies by member address (metrics:
	// Reply.Result); read-only.
	Polls map[netip.Addr]snmp.Reply
	// Removals are the names the configuration no longer has.
	Removals []RemovalResult
	// CachedReads are the DNS reads the serial cache answered ([dns]
	// serial_cache: an alias's records in a view, a zone's lease).
	CachedReads int
}

// RemovalResult is the outcome of deleting one name lbd no longer manages.
type RemovalResult struct {
	Name  string
	Views []ViewResult
	Err   error
}

// errOf is the error of alias in the cycle (nil: evaluated and written,
// or not evaluated).
func (r CycleReport) errOf(alias string) error {
	for _, a := range r.Aliases {
		if a.Alias == alias {
			return a.Err
		}
	}
	return nil
}

// Err joins the errors of every alias.
func (r CycleReport) Err() error {
	var errs []error
	for _, a := range r.Aliases {
		if a.Err != nil {
			errs = append(errs, a.Err)
		}
	}
	for _, a := range r.Removals {
		if a.Err != nil {
			errs = append(errs, a.Err)
		}
	}
	return errors.Join(errs...)
}

// ObserveHeartbeat feeds one heartbeat fetch result to the slave's role
// state machine.
func (d *Daemon) ObserveHeartbeat(beat time.Time, err error) {
	d.mu.Lock()
	d.observeLocked(time.Now(), beat, err)
	d.mu.Unlock()
}

func (d *Daemon) observeLocked(now, beat time.Time, err error) {
	d.follower.Observe(now, beat, err == nil)
	d.fetchErr = err
}

// FetchHeartbeat fetches the master's heartbeat once and observes it. With
// a heartbeat secret it fetches the authenticated beat and observes only
// one that verifies: a forged, altered, replayed, foreign or badly timed
// beat is no beat (the error wraps heartbeat.ErrRejected), so it cannot
// keep this slave passive (docs/protocol.md §9.1).
func (d *Daemon) FetchHeartbeat(ctx context.Context) error {
	d.mu.Lock()
	hb, master := d.cfg.Heartbeat, d.cfg.LBD.Master
	d.mu.Unlock()
	if hb.URL == "" {
		err := errors.New("heartbeat.url not configured")
		d.ObserveHeartbeat(time.Time{}, err)
		return err
	}
	key := hb.Key()
	if key == nil {
		beat, err := heartbeat.Fetch(ctx, d.HTTPClient, hb.URL, master)
		d.ObserveHeartbeat(beat, err)
		return err
	}
	body, err := heartbeat.FetchSigned(ctx, d.HTTPClient, hb.URL)
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	var beat heartbeat.Beat
	if err == nil {
		// The window is stale_after: an older beat could not keep the
		// slave passive anyway, and clocks further apart already break
		// the legacy rule that skew counts against stale_after.
		d.verifier.Key, d.verifier.Instance, d.verifier.MaxSkew = key, master, hb.StaleAfter.Duration
		if beat, err = d.verifier.Accept(body, now); err != nil {
			err = fmt.Errorf("heartbeat %s: %w", hb.URL, err)
		}
	}
	d.observeLocked(now, beat.Time, err)
	return err
}

// mayWrite decides whether this instance writes DNS at now; roleChanged is
// set when a slave has just become active or passive (every alias must then
// be evaluated at once, not at its next polling interval).
func (d *Daemon) mayWrite(now time.Time) (active, roleChanged bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cfg.IsMaster(d.hostname) {
		return true, false
	}
	active, changed := d.follower.Active(now)
	if changed {
		f := d.log.WithFields(logrus.Fields{"last_beat": d.follower.LastBeat(), "stale_after": d.follower.StaleAfter})
		if d.fetchErr != nil {
			f = f.WithField("fetch_error", d.fetchErr.Error())
		}
		if active {
			f.Warn("master heartbeat stale: slave takes over DNS writes")
		} else {
			f.Info("master heartbeat fresh: slave is passive")
		}
	}
	// Both directions evaluate every alias at once: taking over must
	// write at once, and handing back must release the zones' leases at
	// once so that the master writes again.
	return active, changed
}

// readModes says how this cycle reads each view, with the health it used.
func (d *Daemon) readModes(now time.Time, cfg *config.Compiled) ([]health.Mode, map[string]health.Server) {
	d.mu.Lock()
	defer d.mu.Unlock()
	h := maps.Clone(d.health)
	return health.Modes(now, cfg, h), h
}

// noteHealth records each view's health after the cycle's reads and logs
// every change.
func (d *Daemon) noteHealth(now time.Time, cfg *config.Compiled, modes []health.Mode, outcomes []health.Outcome) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.health == nil {
		d.health = map[string]health.Server{}
	}
	for v, view := range cfg.Views {
		name := view.String()
		prev := d.health[name]
		next := health.Next(now, prev, modes[v], outcomes[v])
		d.health[name] = next
		switch {
		case next.Down && !prev.Down:
			d.log.WithFields(logrus.Fields{"server": name, "error": next.LastErr, "next_probe": next.NextProbe}).
				Warn("DNS server marked down: the others are not held up by it; probing it with backoff")
		case !next.Down && prev.Down:
			d.log.WithField("server", name).Info("DNS server answers again")
		}
	}
}

// mayWriteNow tells Apply, at the moment of sending, whether this instance
// may still write: a master always, a slave while the heartbeat is stale.
func (d *Daemon) mayWriteNow() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg.IsMaster(d.hostname) || d.follower.Stale(time.Now())
}

// batchLinger is how long a streaming cycle waits, once an alias is
// complete, for more to complete before deciding them together (one UPDATE
// per zone for all of them).
const batchLinger = 10 * time.Millisecond

// Cycle evaluates the aliases due at now (all of them when all is set):
// resolve and poll their members once each and, streaming, as soon as
// every member of an alias has answered or failed, read what DNS serves
// for it, plan (Decide) and apply the plan where this instance may write.
// Aliases complete at about the same time are decided together (within
// batchLinger, and while the previous batch is written); an alias never
// waits for members it does not contain. Removals are planned with the
// first batch of the first stream. While aliases of the cycle still wait
// for their polls (a silent member costs its aliases one SNMP deadline),
// a push or poke (d.wake) starts another stream of the aliases due then,
// polled and decided beside them (stream.go): the cycle does not hold
// them up. Observers see the whole cycle once it is over.
func (d *Daemon) Cycle(ctx context.Context, now time.Time, all bool) CycleReport {
	mayWrite, roleChanged := d.mayWrite(now)
	all = all || roleChanged
	d.mu.Lock()
	static := d.cfg
	d.mu.Unlock()
	registrations := d.expireRegistrations(now, static)
	cfg, regAddrs := d.withRegistered(static)
	d.mu.Lock()
	poller := d.poller
	// Hold the poller for the whole cycle: a reload meanwhile closes it
	// only when the cycle is done, instead of failing every poll (every
	// member unusable would fire the fallback).
	release, err := poller.Hold()
	if err != nil {
		d.mu.Unlock()
		return d.failedCycle(cfg, mayWrite, fmt.Errorf("poller: %w", err))
	}
	defer release()
	due, sched, known := d.takeDueLocked(cfg, now, all, nil)
	d.mu.Unlock()

	rep := CycleReport{MayWrite: mayWrite, Registrations: registrations}
	if len(due) == 0 {
		d.mu.Lock()
		d.regEvents = registrations // for the next cycle's observers
		d.mu.Unlock()
		return CycleReport{MayWrite: mayWrite}
	}

	start := time.Now()
	hosts, registered := memberHosts(static, cfg, due, regAddrs)
	in := cycle.Input{Now: now, Config: cfg, Schedule: sched, All: all, Due: due,
		Known: known, MayWrite: mayWrite, DryRun: d.DryRun,
		Role: lease.Role{Instance: d.instance(cfg), Master: cfg.IsMaster(d.hostname), Active: mayWrite, TTL: cfg.LeaseTTL, Sharded: cfg.Sharded()}}
	q := newReadyQueue()
	first := newStream(in, true)
	first.hosts = len(hosts) + len(registered)
	// The first stream's names are resolved before its polls start (a
	// resolver failure is logged here).
	resolved := d.resolveMembers(ctx, poller, hosts, registered)
	go d.runStream(ctx, first, poller, func() map[string][]netip.Addr { return resolved }, q)
	streams := []*stream{first}

	batches, woke := 0, false
	var dnsTime time.Duration
	var answeredDone time.Time // when the last alias all of whose addresses answered was written
	for left := len(first.pending); left > 0; {
		var wake <-chan struct{}
		if len(streams) < maxStreams {
			wake = d.wake
		}
		items, poked := q.collect(left, wake)
		if poked {
			woke = true
			if s := d.pokedStream(ctx, static, in, streams, poller, q); s != nil {
				streams = append(streams, s)
				left += len(s.pending)
			}
		}
		for _, b := range byStream(items) {
			batches++
			left -= len(b.aliases)
			t0 := time.Now()
			bin := b.s.input(b.aliases)
			aliases, removals, cached := d.decideAndApply(ctx, bin, b.s.takeRemovals())
			rep.CachedReads += cached
			dnsTime += time.Since(t0)
			if allAnswered(bin) {
				answeredDone = time.Now()
			}
			d.log.WithFields(logrus.Fields{"aliases": len(b.aliases), "started_seconds": t0.Sub(start).Seconds(),
				"written_seconds": time.Since(start).Seconds()}).Debug("cycle batch")
			rep.Aliases = append(rep.Aliases, aliases...)
			rep.Removals = append(rep.Removals, removals...)
		}
	}
	var pollEnd time.Time
	replies := map[netip.Addr]snmp.Reply{}
	aliases, members, addrs := 0, 0, 0
	for _, s := range streams {
		if t := <-s.polled; t.After(pollEnd) {
			pollEnd = t
		}
		maps.Copy(replies, s.replies) // a later stream's poll is the newer one
		aliases += len(s.in.Due)
		members += s.hosts
		addrs += s.addrs
	}
	if woke {
		// A poke this cycle took may name aliases it was still waiting
		// for: they are due again, at once.
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
	rep.Polls = replies
	d.noteSilent(now, replies)
	order := make(map[string]int, len(cfg.Params))
	for i, p := range cfg.Params {
		order[p.Name] = i
	}
	slices.SortStableFunc(rep.Aliases, func(a, b AliasResult) int { return order[a.Alias] - order[b.Alias] })

	failed := 0
	for _, r := range replies {
		if r.Err != nil {
			failed++
		}
	}
	d.log.WithFields(logrus.Fields{"aliases": aliases, "members": members, "addresses": addrs,
		"failed_addresses": failed, "batches": batches, "streams": len(streams), "poll_seconds": pollEnd.Sub(start).Seconds(),
		"dns_seconds": dnsTime.Seconds(), "answered_written_seconds": secondsSince(start, answeredDone), "cached_reads": rep.CachedReads,
		"cycle_seconds": time.Since(start).Seconds()}).Debug("cycle")

	d.mu.Lock()
	d.writing = mayWrite
	d.mu.Unlock()
	d.observe(now, static, rep)
	return rep
}

// takeDueLocked lists the aliases due at now (all: every one) that this
// instance evaluates, but those skip reports (nil: none), clears their
// poke, and snapshots every alias's schedule and known servings for
// cycle.Input; d.mu is held.
func (d *Daemon) takeDueLocked(cfg *config.Compiled, now time.Time, all bool, skip func(i int) bool) (due []int, sched map[string]cycle.Schedule, known map[string]map[string][]netip.Addr) {
	sched = make(map[string]cycle.Schedule, len(d.aliases))
	known = make(map[string]map[string][]netip.Addr, len(d.aliases))
	for name, st := range d.aliases {
		sched[name], known[name] = st.sched, st.known
	}
	due = d.shardDue(cfg, now, cycle.Due(now, cfg, sched, all))
	due = slices.DeleteFunc(due, func(i int) bool {
		// cfg is older than d.aliases after a reload meanwhile: an alias
		// it no longer has is not evaluated.
		return d.aliases[cfg.Params[i].Name] == nil || skip != nil && skip(i)
	})
	for _, i := range due {
		st := d.aliases[cfg.Params[i].Name]
		st.sched.Poked = false
		sched[cfg.Params[i].Name] = st.sched
	}
	return due, sched, known
}

// memberHosts lists the members to poll for the due aliases, each once
// whatever the number of its aliases: the static members (looked up), and
// the registered members that are not also static members of a due alias,
// polled at the addresses they registered (regAddrs).
func memberHosts(static, cfg *config.Compiled, due []int, regAddrs map[string][]netip.Addr) (hosts []string, registered map[string][]netip.Addr) {
	hostSet := map[string]bool{}
	registered = map[string][]netip.Addr{}
	for _, i := range due {
		for _, m := range static.Params[i].Members {
			if !hostSet[m] {
				hostSet[m] = true
				hosts = append(hosts, m)
			}
		}
	}
	for _, i := range due {
		for _, m := range cfg.Params[i].Members {
			if !hostSet[m] {
				hostSet[m] = true
				registered[m] = regAddrs[m]
			}
		}
	}
	return hosts, registered
}

// resolveMembers looks the hosts up (logging failures) and adds the registered
// members' addresses.
func (d *Daemon) resolveMembers(ctx context.Context, poller Poller, hosts []string, registered map[string][]netip.Addr) map[string][]netip.Addr {
	resolved, rerrs := poller.ResolveAll(ctx, hosts)
	for h, a := range registered {
		resolved[h] = a
	}
	for h, err := range rerrs {
		d.log.WithFields(logrus.Fields{"member": h}).Debug(err)
	}
	return resolved
}

// observe tells the observers about a cycle (not in a dry run).
func (d *Daemon) observe(now time.Time, cfg *config.Compiled, rep CycleReport) {
	if d.DryRun {
		return
	}
	d.mu.Lock()
	observers := slices.Clone(d.observers)
	d.mu.Unlock()
	for _, o := range observers {
		o.ObserveCycle(now, cfg, rep)
	}
}

// allAnswered reports whether some alias of in.Due had every address of
// its members answer (no failed poll in in.Replies).
func allAnswered(in cycle.Input) bool {
	for _, i := range in.Due {
		ok, any := true, false
		for _, h := range in.Config.Params[i].Members {
			for _, a := range in.Resolved[h] {
				any = true
				ok = ok && in.Replies[a].Err == nil
			}
		}
		if ok && any {
			return true
		}
	}
	return false
}

// secondsSince is t - start in seconds, 0 for a zero t.
func secondsSince(start, t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return t.Sub(start).Seconds()
}

// splitSilent splits addrs for polling: those that answered their last
// poll (or were never polled), and those that failed it (remembered for
// silentMemory), in the order given.
func (d *Daemon) splitSilent(addrs []netip.Addr) (answering, silent []netip.Addr) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.silent) == 0 {
		return addrs, nil
	}
	answering = make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if _, ok := d.silent[a]; ok {
			silent = append(silent, a)
		} else {
			answering = append(answering, a)
		}
	}
	return answering, silent
}

// maxSilentInFlight bounds the polls of previously silent addresses in
// flight at once (each is a goroutine waiting for its deadline).
const maxSilentInFlight = 16384

// noteSilent records which addresses failed this cycle's poll at now (for
// splitSilent); an address not polled keeps its mark for silentMemory (a
// member every alias of which was removed is forgotten then).
func (d *Daemon) noteSilent(now time.Time, replies map[netip.Addr]snmp.Reply) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.silent == nil {
		d.silent = map[netip.Addr]time.Time{}
	}
	for a, r := range replies {
		if r.Err != nil {
			d.silent[a] = now
		} else {
			delete(d.silent, a)
		}
	}
	for a, t := range d.silent {
		if now.Sub(t) > silentMemory {
			delete(d.silent, a)
		}
	}
}

// silentMemory is how long a failed poll keeps its address last in line.
const silentMemory = time.Hour

// decideAndApply reads what DNS serves for the aliases in.Due (whose polls
// are complete), plans them (with the removals when withRemovals), applies
// the plan and keeps the outcome in each alias's state.
func (d *Daemon) decideAndApply(ctx context.Context, in cycle.Input, withRemovals bool) ([]AliasResult, []RemovalResult, int) {
	cfg, now, due := in.Config, in.Now, in.Due
	var removed []cycle.Managed
	d.mu.Lock()
	if withRemovals {
		removed = d.names.Removed(cfg)
	}
	rd := &cycle.Reads{Cache: d.zones, Now: now, MaxAge: cfg.DNS.SerialCache.Duration}
	d.mu.Unlock()
	dueNames := make([]string, len(due))
	for n, i := range due {
		dueNames[n] = cfg.Params[i].Name
	}
	edits, taken := d.edits.Take(dueNames)
	modes, hs := d.readModes(now, cfg)
	in.Removed, in.Edits = removed, edits
	d.mu.Lock()
	rd.Fresh = cycle.FreshZones(in, due, modes, d.seen)
	d.mu.Unlock()
	plan, applied := d.planAndApply(ctx, in, rd, modes, hs)
	if again := cycle.Unconfirmed(plan, applied); len(again) > 0 {
		// Written on a presumption the server did not bear out: read and
		// decided like any other zone.
		d.log.WithField("aliases", len(again)).Debug("zones presumed new hold records: read and decided again")
		in.Due, in.Removed = again, nil
		rd.Fresh = nil
		modes, hs = d.readModes(now, cfg) // a server the first pass found down is not read in full again
		plan2, applied2 := d.planAndApply(ctx, in, rd, modes, hs)
		plan, applied = cycle.Merge(plan, applied, plan2, applied2)
	}
	d.mu.Lock()
	for _, i := range due {
		d.seen[dns.CanonicalName(cfg.Params[i].Zone)] = true
	}
	d.mu.Unlock()
	aliases := results(cfg, plan, applied)
	removals := removalResults(cfg, plan, applied)
	d.edits.Settle(taken, CycleReport{Aliases: aliases}.errOf)
	d.logPlan(cfg, plan, applied, aliases)
	d.logRemovals(removals)
	d.noteLeases(cfg, plan, applied)
	d.mu.Lock()
	next, changed := d.names.Next(cfg, plan, func(i int) bool { return removals[i].Err != nil })
	d.names = next
	d.mu.Unlock()
	if changed {
		if err := next.Save(cfg.LBD.StateDir); err != nil {
			d.log.Error(err)
		}
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	for n, r := range aliases {
		st := d.aliases[r.Alias]
		if st == nil {
			continue // removed by a reload meanwhile
		}
		st.lastEval = now
		if r.Decided {
			st.noteMembership(now, r.Decision.Hosts)
			st.decision = r.Decision // else keep showing the last one made
		}
		st.members = r.Members
		st.noteLoads(now, r.Members)
		if r.Decided {
			st.overrides = r.Overrides
		}
		if r.DrainEmptied {
			d.log.WithFields(logrus.Fields{"alias": r.Alias, "fallback": string(r.Decision.Fallback)}).
				Warn("the overrides in force leave no usable member: the fallback decides")
		}
		st.lastErr = r.Err
		st.servers = r.Servers
		if r.Wrote {
			st.lastWrite = now
		}
		st.sched = cycle.Reschedule(now, cfg.LBD.Tick.Duration, &cfg.Params[plan.Aliases[n].Alias], st.sched, r.Outcome())
		st.known = nextKnown(cfg, st.known, plan.Aliases[n], applied.Aliases[n])
		d.logMembers(r.Alias, st, r.Members)
	}
	return aliases, removals, rd.Hits()
}

// planAndApply reads what the due aliases of in need (through rd), decides
// and applies the plan.
func (d *Daemon) planAndApply(ctx context.Context, in cycle.Input, rd *cycle.Reads, modes []health.Mode, hs map[string]health.Server) (cycle.Plan, cycle.Report) {
	cfg, now := in.Config, in.Now
	served, outcomes := rd.Served(ctx, cfg, in.Due, modes, hs)
	d.noteHealth(now, cfg, modes, outcomes)
	down := health.DownViews(modes, outcomes)
	in.Served = served
	in.Owned = d.ownedZones(cfg, now, in.Removed...)
	in.RemovedServed = cycle.ReadRemoved(ctx, cfg, in.Removed, down)
	unlock := d.shardLeaseLock(cfg)
	defer unlock()
	if cfg.DNS.Fencing {
		in.Leases = rd.Leases(ctx, cfg, in.Due, in.Removed, down)
	}
	plan := cycle.Decide(in)
	return plan, d.apply(ctx, cfg, rd.Cache, plan, d.mayWriteNow, rd.SerialWanted(cfg, cfg.LBD.AuditLog != ""))
}

// apply is cycle.Apply followed by what the zone cache zc must forget of
// the zones written (ZoneCache.Forget), for every plan the daemon applies.
func (d *Daemon) apply(ctx context.Context, cfg *config.Compiled, zc *cycle.ZoneCache, plan cycle.Plan, allow func() bool, serial func(view int, zone string) bool) cycle.Report {
	applied := cycle.Apply(ctx, cfg, plan, allow, serial)
	for _, view := range zc.Forget(cfg, plan, applied) {
		d.log.WithField("server", view).Warn("the zone's SOA serial did not change when lbd updated it: what is read from this server is no longer cached ([dns] serial_cache)")
	}
	return applied
}

func hostsDiffer(a, b map[string]bool) bool {
	for h := range a {
		if !b[h] {
			return true
		}
	}
	return false
}

// noteMembership records when the published hosts, and each member's place
// in them, change.
func (st *aliasState) noteMembership(now time.Time, hosts []string) {
	if st.memberChange == nil {
		st.memberChange = map[string]time.Time{}
	}
	was := map[string]bool{}
	for _, h := range st.decision.Hosts {
		was[h] = true
	}
	is := map[string]bool{}
	for _, h := range hosts {
		is[h] = true
		if !was[h] {
			st.memberChange[h] = now
		}
	}
	for h := range was {
		if !is[h] {
			st.memberChange[h] = now
		}
	}
	if changed := len(was) != len(is) || hostsDiffer(was, is); changed || st.lastChange.IsZero() {
		st.lastChange = now
	}
}

// nextKnown is what each view of an alias is known to serve after a cycle:
// what was found in sync or written; nothing for a view this instance did
// not write (passive, dry run) or whose update failed.
func nextKnown(cfg *config.Compiled, prev map[string][]netip.Addr, ap cycle.AliasPlan, ar cycle.AliasReport) map[string][]netip.Addr {
	next := make(map[string][]netip.Addr, len(ap.Views))
	for _, vp := range ap.Views {
		name := cfg.Views[vp.View].String()
		switch {
		case vp.Action == cycle.InSync || vp.Action == cycle.Kept:
			next[name] = vp.Served
		case vp.Action == cycle.Write && slices.Contains(ar.Written, vp.View):
			next[name] = vp.Change.Desired
		case vp.Action == cycle.Unread:
			if old, ok := prev[name]; ok {
				next[name] = old
			}
		}
	}
	return next
}

// failedCycle reports every alias failed with err, evaluating none (Run
// has ended and closed the poller).
func (d *Daemon) failedCycle(cfg *config.Compiled, mayWrite bool, err error) CycleReport {
	rep := CycleReport{MayWrite: mayWrite}
	for _, p := range cfg.Params {
		rep.Aliases = append(rep.Aliases, AliasResult{Alias: p.Name, Err: fmt.Errorf("alias %s: %w", p.Name, err)})
	}
	return rep
}

func (d *Daemon) logMembers(alias string, st *aliasState, members []choice.Member) {
	now := map[string]bool{}
	for _, m := range members {
		now[m.Host] = m.Usable()
		prev, known := st.usable[m.Host]
		if known && prev == now[m.Host] || !known && now[m.Host] {
			continue
		}
		f := d.log.WithFields(logrus.Fields{"alias": alias, "member": m.Host, "load": m.Load})
		if now[m.Host] {
			f.Info("member usable again")
		} else {
			f.Warn("member not usable")
		}
	}
	st.usable = now
}

// Once runs a single cycle over every alias (lbd -once / -dry-run). A slave
// fetches the heartbeat first. The error joins every alias's error.
func (d *Daemon) Once(ctx context.Context) (CycleReport, error) {
	// A dry run reads the embedded server over DNS, as every other server:
	// the running daemon serves it (its data directory is locked by it).
	if !d.DryRun {
		stop, err := d.startAuthoritative(ctx)
		if err != nil {
			return CycleReport{}, err
		}
		defer stop()
	}
	if !d.IsMaster() && !d.DryRun {
		if err := d.FetchHeartbeat(ctx); err != nil {
			d.log.Warn(err)
		}
	}
	rep := d.Cycle(ctx, time.Now(), true)
	if !d.DryRun {
		d.saveEngines()
		d.saveSilent()
	}
	return rep, rep.Err()
}

// Run serves HTTP, beats (master) or watches the master (slave), and runs a
// cycle every lbd.tick for the aliases that are due, until ctx ends.
func (d *Daemon) Run(ctx context.Context) error {
	d.mu.Lock()
	cfg := d.cfg
	d.mu.Unlock()
	stopAuth, err := d.startAuthoritative(ctx)
	if err != nil {
		return err
	}
	defer stopAuth()
	defer func() {
		d.saveEngines()
		d.saveSilent()
		d.mu.Lock()
		d.poller.Close()
		d.mu.Unlock()
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()

	if cfg.LBD.HTTPListen != "" {
		ln, err := net.Listen("tcp", cfg.LBD.HTTPListen)
		if err != nil {
			return fmt.Errorf("http listen %s: %w", cfg.LBD.HTTPListen, err)
		}
		srv := &http.Server{Handler: d.Handler(), ReadHeaderTimeout: 5 * time.Second}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				d.log.Error("http: ", err)
			}
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ctx.Done()
			sctx, c := context.WithTimeout(context.Background(), 2*time.Second)
			defer c()
			srv.Shutdown(sctx)
		}()
	}

	if !cfg.IsMaster(d.hostname) {
		// Start as a passive slave: the master has stale_after to be seen.
		d.mu.Lock()
		d.follower.Grace(time.Now())
		d.mu.Unlock()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.heartbeatLoop(ctx)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.shardLoop(ctx)
	}()

	if cfg.LBD.PushListen != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := snmp.ListenPush(ctx, cfg.LBD.PushListen, cfg.LBD.PushCommunity, d.onPush); err != nil {
				d.log.Error(err)
			}
		}()
	}

	tick := time.NewTicker(cfg.LBD.Tick.Duration)
	defer tick.Stop()
	for {
		d.Cycle(ctx, time.Now(), false)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-d.wake:
		}
	}
}

func (d *Daemon) heartbeatLoop(ctx context.Context) {
	var lastFetch time.Time
	var warnedName string // the [lbd] master last warned about
	rejecting := false    // the last fetch's beat did not verify
	for {
		d.mu.Lock()
		cfg := d.cfg
		master := cfg.IsMaster(d.hostname)
		d.mu.Unlock()
		interval := cfg.Heartbeat.Interval.Duration
		wait := interval
		if master {
			name := cfg.HeartbeatName(d.hostname)
			if name != d.hostname && name != warnedName && !cfg.Sharded() {
				// A legacy slave matches the line against its own master
				// setting, so the line names [lbd] master; say so once.
				d.log.WithFields(logrus.Fields{"hostname": d.hostname, "lbd.master": name}).
					Warn("this master's host name differs from [lbd] master: its heartbeat names " + name)
			}
			warnedName = name
			now := time.Now()
			d.pub.Beat(name, cfg.Heartbeat.Key(), now)
			if cfg.Heartbeat.File != "" {
				if err := heartbeat.WriteFile(cfg.Heartbeat.File, heartbeat.Line(name, now)); err != nil {
					d.log.Error(err)
				}
			}
		} else {
			d.pub.Stop()
			warnedName = ""
			if time.Since(lastFetch) >= interval {
				lastFetch = time.Now()
				fctx, cancel := context.WithTimeout(ctx, interval)
				err := d.FetchHeartbeat(fctx)
				cancel()
				switch {
				case errors.Is(err, heartbeat.ErrRejected) && !rejecting:
					// Forged, replayed or a master with another secret:
					// worth a warning, once per run of rejections.
					d.log.Warn(err, " (counted as no beat)")
				case err != nil:
					d.log.Debug(err)
				}
				rejecting = errors.Is(err, heartbeat.ErrRejected)
			}
			// Between fetches, look at the role often: the heartbeat goes
			// stale at a precise moment (last beat + stale_after), and the
			// slave takes over then, not at its next fetch or tick.
			if _, roleChanged := d.mayWrite(time.Now()); roleChanged {
				d.pokeAll()
			}
			wait = min(interval/4, 250*time.Millisecond)
		}
		select {
		case <-ctx.Done():
			d.pub.Stop()
			return
		case <-time.After(wait):
		}
	}
}
