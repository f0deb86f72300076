package lbd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"reflect"
	"sort"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/lbd-project/lbd/dnsupdate"
	"github.com/lbd-project/lbd/heartbeat"
	"github.com/lbd-project/lbd/lbd/snmp"
)

// Daemon is one lbd instance (master or slave). Run owns its tickers, HTTP
// listener and goroutines; Cycle is one evaluation, usable on its own (-once).
type Daemon struct {
	log      logrus.FieldLogger
	hostname string

	// DryRun prints the DNS changes to Out instead of sending them.
	DryRun bool
	Out    io.Writer
	// HTTPClient fetches the master's heartbeat (slave).
	HTTPClient *http.Client

	pub *heartbeat.Publisher

	mu       sync.Mutex
	cfg      *Config
	poller   *snmp.Poller
	follower heartbeat.Follower
	aliases  map[string]*aliasState
	fetchErr error
	wake     chan struct{} // Poke → Run: aliases became due
}

type aliasState struct {
	nextDue time.Time
	// poked is set by Poke; a cycle running meanwhile must leave the
	// alias due rather than schedule it a polling interval later.
	poked     bool
	usable    map[string]bool // member host → usable, for in/out log lines
	decision  Decision
	lastEval  time.Time
	lastWrite time.Time
	lastErr   error
	servers   map[string]error // per DNS server (and external view): last outcome
	failures  int
}

// New builds a daemon for cfg. hostname decides the role when lbd.role is
// "auto".
func New(cfg *Config, hostname string, log logrus.FieldLogger) (*Daemon, error) {
	d := &Daemon{log: log, hostname: hostname, Out: io.Discard,
		HTTPClient: &http.Client{Timeout: 10 * time.Second},
		pub:        &heartbeat.Publisher{Host: hostname},
		aliases:    map[string]*aliasState{}, wake: make(chan struct{}, 1)}
	if err := d.SetConfig(cfg); err != nil {
		return nil, err
	}
	return d, nil
}

// SetConfig swaps in a new, already validated configuration (reload). State
// of aliases that still exist is kept.
func (d *Daemon) SetConfig(cfg *Config) error {
	if err := cfg.checkRole(d.hostname); err != nil {
		return err
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
	if old := d.poller; old != nil {
		p.Resolve = old.Resolve
		old.Close() // closes once the polls of a running cycle are done
	}
	d.cfg, d.poller = cfg, p
	d.follower.StaleAfter = cfg.Heartbeat.StaleAfter.Duration
	keep := map[string]*aliasState{}
	for i := range cfg.Aliases {
		n := cfg.Params(i).Name
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
	d.poller.Resolve = f
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
	Members  []Member
	Decision Decision
	// Change is the change for the first server (the others get their
	// own diff against what they serve).
	Change dnsupdate.Change
	// Wrote is set when at least one server was written.
	Wrote bool
	// Passive counts the servers (and views) with a change this instance
	// did not write because it is a passive slave.
	Passive int
	// Decided is false when no DNS server could be read, so nothing was
	// decided (Decision is then empty).
	Decided bool
	// Servers is each server's outcome (nil = in sync or written).
	Servers map[string]error
	Err     error
}

// CycleReport summarises one cycle.
type CycleReport struct {
	MayWrite bool
	Aliases  []AliasResult
}

// Err joins the errors of every alias.
func (r CycleReport) Err() error {
	var errs []error
	for _, a := range r.Aliases {
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
	d.follower.Observe(time.Now(), beat, err == nil)
	d.fetchErr = err
	d.mu.Unlock()
}

// FetchHeartbeat fetches the master's heartbeat once and observes it.
func (d *Daemon) FetchHeartbeat(ctx context.Context) error {
	d.mu.Lock()
	url, master := d.cfg.Heartbeat.URL, d.cfg.LBD.Master
	d.mu.Unlock()
	if url == "" {
		err := errors.New("heartbeat.url not configured")
		d.ObserveHeartbeat(time.Time{}, err)
		return err
	}
	beat, err := heartbeat.Fetch(ctx, d.HTTPClient, url, master)
	d.ObserveHeartbeat(beat, err)
	return err
}

// mayWrite decides whether this instance writes DNS at now; tookOver is
// set when a slave has just become active (every alias must then be
// evaluated at once, not at its next polling interval).
func (d *Daemon) mayWrite(now time.Time) (active, tookOver bool) {
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
	return active, active && changed
}

// Cycle evaluates the aliases due at now (all of them when all is set):
// resolve and poll their members once each, select, and write DNS where this
// instance may write.
func (d *Daemon) Cycle(ctx context.Context, now time.Time, all bool) CycleReport {
	mayWrite, tookOver := d.mayWrite(now)
	all = all || tookOver
	d.mu.Lock()
	cfg, poller := d.cfg, d.poller
	// Hold the poller for the whole cycle: a reload meanwhile closes it
	// only when the cycle is done, instead of failing every poll (every
	// member unusable would fire the fallback).
	release, err := poller.Hold()
	if err != nil {
		d.mu.Unlock()
		return d.failedCycle(cfg, mayWrite, fmt.Errorf("poller: %w", err))
	}
	defer release()
	var due []Params
	for i := range cfg.Aliases {
		p := cfg.Params(i)
		st := d.aliases[p.Name]
		if all || !now.Before(st.nextDue) {
			due = append(due, p)
			st.poked = false
		}
	}
	d.mu.Unlock()

	rep := CycleReport{MayWrite: mayWrite}
	if len(due) == 0 {
		return rep
	}

	// Poll every distinct member once, whatever the number of its aliases.
	hostSet := map[string]bool{}
	var hosts []string
	for _, p := range due {
		for _, m := range p.Members {
			if !hostSet[m] {
				hostSet[m] = true
				hosts = append(hosts, m)
			}
		}
	}
	start := time.Now()
	resolved, rerrs := poller.ResolveAll(ctx, hosts)
	for h, err := range rerrs {
		d.log.WithFields(logrus.Fields{"member": h}).Debug(err)
	}
	var addrs []netip.Addr
	for _, h := range hosts {
		addrs = append(addrs, resolved[h]...)
	}
	replies := make(map[netip.Addr]snmp.Reply, len(addrs))
	poller.PollInto(ctx, addrs, replies)

	polled := time.Now()
	results := d.reconcile(ctx, cfg, due, resolved, replies, rep.MayWrite)
	rep.Aliases = results
	failed := 0
	for _, r := range replies {
		if r.Err != nil {
			failed++
		}
	}
	d.log.WithFields(logrus.Fields{"aliases": len(due), "members": len(hosts), "addresses": len(addrs),
		"failed_addresses": failed, "poll_seconds": polled.Sub(start).Seconds(),
		"dns_seconds": time.Since(polled).Seconds(), "cycle_seconds": time.Since(start).Seconds()}).Debug("cycle")

	d.mu.Lock()
	for i, r := range results {
		p := due[i] // reconcile keeps the order of due
		st := d.aliases[r.Alias]
		if st == nil {
			continue // removed by a reload meanwhile
		}
		st.lastEval = now
		if r.Decided {
			st.decision = r.Decision // else keep showing the last one made
		}
		st.lastErr = r.Err
		st.servers = r.Servers
		if r.Wrote {
			st.lastWrite = now
		}
		switch {
		case st.poked:
			// Poked while this cycle ran: due again at once.
		case r.Err != nil:
			// Retry soon, with backoff, rather than at the next polling interval.
			st.failures++
			back := cfg.LBD.Tick.Duration << min(st.failures-1, 6)
			st.nextDue = now.Add(min(back, p.PollingInterval))
		default:
			st.failures = 0
			st.nextDue = now.Add(p.PollingInterval)
		}
		d.logMembers(r.Alias, st, r.Members)
	}
	d.mu.Unlock()
	return rep
}

// failedCycle reports every alias failed with err, evaluating none (Run
// has ended and closed the poller).
func (d *Daemon) failedCycle(cfg *Config, mayWrite bool, err error) CycleReport {
	rep := CycleReport{MayWrite: mayWrite}
	for i := range cfg.Aliases {
		name := cfg.Params(i).Name
		rep.Aliases = append(rep.Aliases, AliasResult{Alias: name, Err: fmt.Errorf("alias %s: %w", name, err)})
	}
	return rep
}

func (d *Daemon) logMembers(alias string, st *aliasState, members []Member) {
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

func client(cfg *Config, server string, k Key) *dnsupdate.Client {
	retries := cfg.DNS.Retries
	if retries == 0 {
		retries = -1 // dnsupdate: 0 means its default, negative means none
	}
	return &dnsupdate.Client{Server: server, Timeout: cfg.DNS.Timeout.Duration, Retries: retries,
		Key: dnsupdate.Key{Name: k.Name, Algorithm: k.Algorithm, Secret: k.Secret}}
}

func sameAddrs(a, b []netip.Addr) bool {
	x := append([]netip.Addr(nil), a...)
	y := append([]netip.Addr(nil), b...)
	sort.Slice(x, func(i, j int) bool { return x[i].Less(x[j]) })
	sort.Slice(y, func(i, j int) bool { return y[i].Less(y[j]) })
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}

// Once runs a single cycle over every alias (lbd -once / -dry-run). A slave
// fetches the heartbeat first. The error joins every alias's error.
func (d *Daemon) Once(ctx context.Context) (CycleReport, error) {
	stop, err := d.startAuthoritative(ctx)
	if err != nil {
		return CycleReport{}, err
	}
	defer stop()
	if !d.IsMaster() && !d.DryRun {
		if err := d.FetchHeartbeat(ctx); err != nil {
			d.log.Warn(err)
		}
	}
	rep := d.Cycle(ctx, time.Now(), true)
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
	for {
		d.mu.Lock()
		cfg := d.cfg
		master := cfg.IsMaster(d.hostname)
		d.mu.Unlock()
		interval := cfg.Heartbeat.Interval.Duration
		wait := interval
		if master {
			now := time.Now()
			d.pub.Beat(now)
			if cfg.Heartbeat.File != "" {
				if err := heartbeat.WriteFile(cfg.Heartbeat.File, heartbeat.Line(d.hostname, now)); err != nil {
					d.log.Error(err)
				}
			}
		} else {
			d.pub.Stop()
			if time.Since(lastFetch) >= interval {
				lastFetch = time.Now()
				fctx, cancel := context.WithTimeout(ctx, interval)
				if err := d.FetchHeartbeat(fctx); err != nil {
					d.log.Debug(err)
				}
				cancel()
			}
			// Between fetches, look at the role often: the heartbeat goes
			// stale at a precise moment (last beat + stale_after), and the
			// slave takes over then, not at its next fetch or tick.
			if _, tookOver := d.mayWrite(time.Now()); tookOver {
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
