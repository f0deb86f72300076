package lbd

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/lbd-project/lbd/dnsupdate"
	"github.com/lbd-project/lbd/heartbeat"
	"github.com/lbd-project/lbd/lbd/config"
	"github.com/lbd-project/lbd/lbd/cycle"
	"github.com/lbd-project/lbd/lbd/health"
	"github.com/lbd-project/lbd/lbd/lease"
	"github.com/lbd-project/lbd/lbd/shard"
	"github.com/lbd-project/lbd/lbd/status"
)

// shardState is the daemon's part of sharding (docs/design.md §9.7): the
// peers' liveness and the live set the zones are assigned over.
type shardState struct {
	mu    sync.Mutex
	peers shard.Peers
	live  []string // the last live set computed (status)
	// assign is the assignment the loop last acted on (pokes, logs), over
	// the live set assignedLive.
	assign       map[string]string
	assignedLive []string
	// leaseMu makes the lease step and a cycle's read-plan-apply of the
	// leases take turns: each swaps the lease the other read, so running
	// them at once would only fail one of them on its prerequisite.
	leaseMu sync.Mutex
	// steps counts the lease steps (under leaseMu): every
	// leaseSweepEvery-th, the first included, reads every zone's lease.
	steps int
}

// leaseSweepEvery: one lease step in this many reads the lease of every
// zone of the site; the others read only the zones this instance owns or
// holds the lease of (leaseStepZones).
const leaseSweepEvery = 12

// shardPeers converts the configured peers.
func shardPeers(cfg *config.Compiled) []shard.Peer {
	out := make([]shard.Peer, len(cfg.LBD.Peers))
	for i, p := range cfg.LBD.Peers {
		out[i] = shard.Peer{Instance: p.Instance, URL: p.URL}
	}
	return out
}

// shardZones lists the distinct zones of the configuration, sorted.
func shardZones(cfg *config.Compiled) []string {
	var zones []string
	for i := range cfg.Params {
		zones = append(zones, cfg.Params[i].Zone)
	}
	slices.Sort(zones)
	return slices.Compact(zones)
}

// setShardPeers makes the peers those of cfg (SetConfig): a peer seen for
// the first time has its grace period, live for stale_after unless its
// beats say otherwise.
func (d *Daemon) setShardPeers(cfg *config.Compiled, now time.Time) {
	s := &d.shard
	s.mu.Lock()
	defer s.mu.Unlock()
	s.peers.StaleAfter = cfg.Heartbeat.StaleAfter.Duration
	s.peers.Set(now, shardPeers(cfg))
}

// shardLive is the live set at now among the configured peers.
func (d *Daemon) shardLive(cfg *config.Compiled, now time.Time) []string {
	s := &d.shard
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live = s.peers.Live(d.instance(cfg), now)
	return slices.Clone(s.live)
}

// ownedZones are the zones this instance owns at now, of the
// configuration's and of the names removed from it (nil unless sharded).
func (d *Daemon) ownedZones(cfg *config.Compiled, now time.Time, removed ...cycle.Managed) map[string]bool {
	if !cfg.Sharded() {
		return nil
	}
	self, live := d.instance(cfg), d.shardLive(cfg, now)
	zones := shardZones(cfg)
	for _, m := range removed {
		zones = append(zones, m.Zone)
	}
	owned := map[string]bool{}
	for _, z := range zones {
		if shard.Owner(z, live) == self {
			owned[z] = true
		}
	}
	return owned
}

// shardDue keeps, of the due aliases, those of the zones this instance
// owns: a sharded instance polls and writes only its own zones' aliases.
// The others stay due, so that they are evaluated at once when their zone
// becomes this instance's.
func (d *Daemon) shardDue(cfg *config.Compiled, now time.Time, due []int) []int {
	if !cfg.Sharded() {
		return due
	}
	owned := d.ownedZones(cfg, now)
	return slices.DeleteFunc(due, func(i int) bool { return !owned[cfg.Params[i].Zone] })
}

// shardLeaseLock takes the lease lock when sharded; call the result to
// release it.
func (d *Daemon) shardLeaseLock(cfg *config.Compiled) (unlock func()) {
	if !cfg.Sharded() {
		return func() {}
	}
	d.shard.leaseMu.Lock()
	return d.shard.leaseMu.Unlock
}

// shardLoop runs while the daemon runs: when sharded, it fetches every
// peer's heartbeat every heartbeat interval, looks at the live set every
// min(interval/4, 250 ms) (a peer goes stale at a precise moment), and
// runs the lease step every interval, at once when the live set changes,
// and when a lease it waits for expires.
func (d *Daemon) shardLoop(ctx context.Context) {
	var lastFetch, lastStep, retry time.Time
	rejecting := map[string]bool{} // only the fetching goroutine uses it
	var fetching sync.WaitGroup    // a slow peer does not delay the live-set checks
	defer fetching.Wait()
	busy := make(chan struct{}, 1)
	for {
		d.mu.Lock()
		cfg := d.cfg
		d.mu.Unlock()
		interval := cfg.Heartbeat.Interval.Duration
		if cfg.Sharded() {
			if time.Since(lastFetch) >= interval {
				select {
				case busy <- struct{}{}: // the previous round is over
					lastFetch = time.Now()
					fetching.Add(1)
					go func() {
						defer func() { <-busy; fetching.Done() }()
						d.fetchPeers(ctx, cfg, interval, rejecting)
					}()
				default:
				}
			}
			changed := d.shardAssign(cfg, time.Now())
			now := time.Now()
			if changed || now.Sub(lastStep) >= interval || !retry.IsZero() && !now.Before(retry) {
				lastStep = now
				retry = d.leaseStep(ctx, cfg)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(min(interval/4, 250*time.Millisecond)):
		}
	}
}

// fetchPeers fetches every peer's heartbeat once, concurrently (each
// bounded by timeout), and observes it: with a heartbeat secret only an
// authenticated beat of that very peer counts.
func (d *Daemon) fetchPeers(ctx context.Context, cfg *config.Compiled, timeout time.Duration, rejecting map[string]bool) {
	key := cfg.Heartbeat.Key()
	var wg sync.WaitGroup
	errs := make([]error, len(cfg.LBD.Peers))
	for i, p := range cfg.LBD.Peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			if key == nil {
				beat, err := heartbeat.Fetch(fctx, d.HTTPClient, p.URL, p.Instance)
				d.shard.mu.Lock()
				d.shard.peers.Observe(p.Instance, time.Now(), beat, err)
				d.shard.mu.Unlock()
				errs[i] = err
				return
			}
			body, err := heartbeat.FetchSigned(fctx, d.HTTPClient, p.URL)
			d.shard.mu.Lock()
			if err == nil {
				err = d.shard.peers.Accept(p.Instance, body, key, time.Now())
			} else {
				d.shard.peers.Observe(p.Instance, time.Now(), time.Time{}, err)
			}
			d.shard.mu.Unlock()
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, p := range cfg.LBD.Peers {
		f := d.log.WithFields(logrus.Fields{"peer": p.Instance, "url": p.URL})
		rejected := errors.Is(errs[i], heartbeat.ErrRejected)
		switch {
		case rejected && !rejecting[p.Instance]:
			f.Warn(errs[i], " (counted as no beat)")
		case errs[i] != nil:
			f.Debug(errs[i])
		}
		rejecting[p.Instance] = rejected
	}
}

// shardAssign recomputes the assignment at now; when it changed it logs
// the live set and makes the aliases of every zone that came to or left
// this instance due at once. It reports whether the assignment changed.
func (d *Daemon) shardAssign(cfg *config.Compiled, now time.Time) bool {
	self, live := d.instance(cfg), d.shardLive(cfg, now)
	next := shard.Assign(shardZones(cfg), live)
	d.shard.mu.Lock()
	prev, prevLive := d.shard.assign, d.shard.assignedLive
	d.shard.assign, d.shard.assignedLive = next, live
	states := d.shard.peers.States(now)
	d.shard.mu.Unlock()
	if prev != nil {
		for _, p := range states {
			was := slices.Contains(prevLive, p.Instance)
			f := d.log.WithFields(logrus.Fields{"peer": p.Instance, "last_beat": p.LastBeat, "stale_after": cfg.Heartbeat.StaleAfter.Duration})
			switch {
			case was && !p.Live:
				if p.Err != "" {
					f = f.WithField("fetch_error", p.Err)
				}
				f.Warn("shard: peer heartbeat stale: its zones go to the live instances")
			case !was && p.Live:
				f.Info("shard: peer heartbeat fresh: it gets its zones back")
			}
		}
	}
	moved := shard.Moved(prev, next)
	if len(moved) == 0 {
		return false
	}
	var gained, lost []string
	for _, z := range moved {
		switch {
		case next[z] == self:
			gained = append(gained, z)
		case prev[z] == self:
			lost = append(lost, z)
		}
	}
	f := d.log.WithFields(logrus.Fields{"live": live, "owned": shard.Owned(next, self)})
	if len(gained) > 0 {
		f = f.WithField("gained", gained)
	}
	if len(lost) > 0 {
		f = f.WithField("lost", lost)
	}
	f.Info("shard: zones assigned over the live instances")
	changed := append(gained, lost...)
	d.forgetKnown(cfg, changed)
	d.pokeZones(cfg, changed)
	return true
}

// aliasesOf lists the aliases of zones.
func aliasesOf(cfg *config.Compiled, zones []string) []string {
	var names []string
	for i := range cfg.Params {
		if slices.Contains(zones, cfg.Params[i].Zone) {
			names = append(names, cfg.Params[i].Name)
		}
	}
	return names
}

// pokeZones makes the aliases of zones due now.
func (d *Daemon) pokeZones(cfg *config.Compiled, zones []string) {
	if names := aliasesOf(cfg, zones); len(names) > 0 {
		d.Poke(names)
	}
}

// leaseStepZones lists the zones whose leases a lease step reads: those
// this instance owns at now and those whose lease it last held in some
// view; nil (every zone) at the first step and every leaseSweepEvery-th.
// A lease it holds in a zone it no longer owns is handed back when read,
// and otherwise runs out unrenewed (lease_ttl): the sweep is how one left
// by a former run of this instance is found sooner. d.shard.leaseMu is
// held.
func (d *Daemon) leaseStepZones(cfg *config.Compiled, now time.Time) map[string]bool {
	sweep := d.shard.steps%leaseSweepEvery == 0
	d.shard.steps++
	if sweep {
		return nil
	}
	zones := d.ownedZones(cfg, now)
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, byZone := range d.leases {
		for zone, lp := range byZone {
			if lp.Write {
				zones[zone] = true
			}
		}
	}
	return zones
}

// forgetKnown drops what this instance last found or left in DNS for the
// aliases of zones that came to it or left it: another instance writes
// them meanwhile, which is no drift.
func (d *Daemon) forgetKnown(cfg *config.Compiled, zones []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, name := range aliasesOf(cfg, zones) {
		if st := d.aliases[name]; st != nil {
			st.known = nil
		}
	}
}

// leaseStep is the lease-renewal step of a sharded instance: it reads the
// lease of the zones it owns or holds the lease of, in every view (of
// every zone, one step in leaseSweepEvery, the first included), plans
// (shard.PlanLeases: take what it owns and may take, renew its own, hand
// back what it no longer owns) and sends the swaps alone. It returns when
// to look again for a lease that is not takeable yet (zero: at the next
// interval). The aliases of a zone it has just taken are made due at
// once.
func (d *Daemon) leaseStep(ctx context.Context, cfg *config.Compiled) (retry time.Time) {
	unlock := d.shardLeaseLock(cfg)
	defer unlock()
	zones := d.leaseStepZones(cfg, time.Now())
	var all []int
	for i := range cfg.Params {
		if zones == nil || zones[cfg.Params[i].Zone] {
			all = append(all, i)
		}
	}
	modes, _ := d.readModes(time.Now(), cfg)
	down := make([]bool, len(cfg.Views))
	for v, m := range modes {
		down[v] = m == health.ReadSkip
	}
	states := cycle.ReadLeases(ctx, cfg, all, nil, down)
	now := time.Now()
	self := d.instance(cfg)
	plan := shard.PlanLeases(now, states, lease.Role{Instance: self, TTL: cfg.LeaseTTL}, d.ownedZones(cfg, now))
	// The swaps alone: a plan of leases, applied and forgotten by the
	// zone cache like a cycle's.
	p := cycle.Plan{Now: now, Leases: plan.Leases}
	d.mu.Lock()
	zc := d.zones
	d.mu.Unlock()
	rep := d.apply(ctx, cfg, zc, p, nil, nil)
	var taken []string
	for v, zones := range plan.Leases {
		for zone, lp := range zones {
			if !lp.Lease.Swaps() {
				continue
			}
			err := rep.Leases[v][zone]
			f := d.log.WithFields(logrus.Fields{"zone": zone, "server": cfg.Views[v].String(), "lease": lp.Lease.Set})
			switch {
			case err != nil && errors.Is(err, dnsupdate.ErrPrerequisite):
				f.Debug("lease step: ", err)
			case err != nil:
				f.Warn("lease step: ", err)
			default:
				if lp.Write && lp.Takes {
					taken = append(taken, zone)
				}
				f.Debug("lease step: lease swapped")
			}
		}
	}
	d.noteLeases(cfg, p, rep)
	if len(taken) > 0 {
		d.pokeZones(cfg, taken)
	}
	return plan.Retry
}

// shardSnapshot is the status of sharding (nil unless sharded). Called
// with d.mu held.
func (d *Daemon) shardSnapshot(cfg *config.Compiled, now time.Time) *status.Shard {
	if !cfg.Sharded() {
		return nil
	}
	s := &d.shard
	s.mu.Lock()
	live := slices.Clone(s.live)
	peers := s.peers.States(now)
	s.mu.Unlock()
	out := &status.Shard{Live: live, Peers: []status.ShardPeer{}, Zones: []status.ShardZone{}}
	for _, p := range peers {
		out.Peers = append(out.Peers, status.ShardPeer{Instance: p.Instance, URL: p.URL, Live: p.Live, LastBeat: p.LastBeat, Error: p.Err})
	}
	self := d.instance(cfg)
	for _, z := range shardZones(cfg) {
		sz := status.ShardZone{Zone: z, Owner: shard.Owner(z, live)}
		sz.Mine = sz.Owner == self
		for view, zones := range d.leases {
			if lp, ok := zones[z]; ok {
				if sz.Leases == nil {
					sz.Leases = map[string]status.Lease{}
				}
				sz.Leases[view] = status.Lease{Writing: lp.Write, Holder: lp.Holder, Why: lp.Why}
			}
		}
		out.Zones = append(out.Zones, sz)
	}
	return out
}
