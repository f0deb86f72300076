package lbd

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/lbd-project/lbd/lbd/choice"
	"github.com/lbd-project/lbd/lbd/config"
	"github.com/lbd-project/lbd/lbd/health"
	"github.com/lbd-project/lbd/lbd/status"
)

// Observer is told about every cycle (metrics, history, audit log). It is
// called from the cycle's goroutine, after the state was updated; it must
// not block.
type Observer interface {
	ObserveCycle(now time.Time, cfg *config.Compiled, rep CycleReport)
}

// AddObserver registers o for every later cycle.
func (d *Daemon) AddObserver(o Observer) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.observers = append(d.observers, o)
}

// Handle adds an HTTP route to what Run serves on http_listen (the metrics
// endpoint, the status page). Routes added after Run started are ignored.
func (d *Daemon) Handle(pattern string, h http.Handler) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.routes = append(d.routes, route{pattern, h})
}

type route struct {
	pattern string
	h       http.Handler
}

// Snapshot copies the daemon's state.
func (d *Daemon) Snapshot() status.Snapshot {
	d.mu.Lock()
	defer d.mu.Unlock()
	cfg := d.cfg
	s := status.Snapshot{At: time.Now(), Host: d.hostname, Instance: d.instance(cfg), Master: cfg.IsMaster(d.hostname),
		Writing: d.writing, Fencing: cfg.DNS.Fencing, LastBeat: d.follower.LastBeat(),
		Authenticated: cfg.Heartbeat.Key() != nil, Counter: d.verifier.Highest(), Servers: map[string]health.Server{},
		Push: d.push.Stats(), Register: d.reg.Stats(), Shard: d.shardSnapshot(cfg, time.Now())}
	for _, v := range cfg.Views {
		s.Servers[v.String()] = d.health[v.String()]
	}
	for view, zones := range d.leases {
		for zone, lp := range zones {
			if s.Leases == nil {
				s.Leases = map[string]map[string]status.Lease{}
			}
			if s.Leases[view] == nil {
				s.Leases[view] = map[string]status.Lease{}
			}
			s.Leases[view][zone] = status.Lease{Writing: lp.Write, Holder: lp.Holder, Why: lp.Why}
		}
	}
	registered := d.reg.ByAlias()
	for i := range cfg.Params {
		p := &cfg.Params[i]
		st := d.aliases[p.Name]
		if st == nil {
			continue
		}
		a := aliasSnapshot(s.At, cfg, p, st)
		if p.Register {
			until := map[string]time.Time{}
			for _, e := range registered[p.Name] {
				until[e.Host] = e.Expires
			}
			static := 0
			for _, m := range p.Members {
				if _, ok := until[m]; ok {
					static++ // a static member that registered too is counted once
				}
			}
			a.Configured += len(until) - static
			for k := range a.Members {
				a.Members[k].RegisteredUntil = until[a.Members[k].Host]
			}
		}
		s.Aliases = append(s.Aliases, a)
	}
	return s
}

func aliasSnapshot(now time.Time, cfg *config.Compiled, p *config.Params, st *aliasState) status.Alias {
	a := status.Alias{Name: p.Name, Zone: p.Zone, Hosts: slices.Clone(st.decision.Hosts), Fallback: string(st.decision.Fallback),
		Usable: st.decision.Usable, Configured: len(p.Members), LastEval: st.lastEval, LastWrite: st.lastWrite,
		LastChange: st.lastChange, Members: []status.Member{}}
	if a.Hosts == nil {
		a.Hosts = []string{}
	}
	a.Addrs = []string{}
	for _, ad := range st.decision.Addrs {
		a.Addrs = append(a.Addrs, ad.String())
	}
	if st.lastErr != nil {
		a.Error = st.lastErr.Error()
	}
	a.Overrides = st.overrides.Active(time.Now())
	if !st.lastEval.IsZero() {
		a.Servers = map[string]string{}
		for _, v := range cfg.ViewsOf(p) {
			a.Servers[cfg.Views[v].String()] = "ok"
		}
		for srv, err := range st.servers {
			if err != nil {
				a.Servers[srv] = err.Error()
			}
		}
	}
	published := map[string]bool{}
	for _, h := range st.decision.Hosts {
		published[h] = true
	}
	for _, m := range st.members {
		ms := status.Member{Host: m.Host, Load: m.Load, Meaning: status.LoadMeaning(m.Load), Published: published[m.Host],
			LastChange: st.memberChange[m.Host]}
		for _, ad := range m.Addrs {
			ms.Addrs = append(ms.Addrs, ad.String())
		}
		ms.Why = status.MemberWhy(ms, st.decision)
		if mark, ok := st.loadSince[m.Host]; ok {
			ms.LoadSince = mark.since
			if after := cfg.LBD.StaleLoadAfter.Duration; after > 0 && ms.Published && choice.Usable(m.Load) && now.Sub(mark.since) >= after {
				ms.Stale = true
				a.StaleMembers++
				ms.Why += fmt.Sprintf("; load unchanged since %s (more than stale_load_after %s: a stuck metric?)",
					mark.since.UTC().Format(time.RFC3339), after)
			}
		}
		if o, ok := st.overrides.Active(time.Now()).For(m.Host); ok {
			ms.Override = fmt.Sprintf("%s by %s until %s: %s", o.Action, o.Author, o.Until.UTC().Format(time.RFC3339), o.Reason)
		}
		a.Members = append(a.Members, ms)
	}
	return a
}
