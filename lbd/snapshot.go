package lbd

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/lbd-project/lbd/checks"
	"github.com/lbd-project/lbd/lbd/choice"
	"github.com/lbd-project/lbd/lbd/config"
	"github.com/lbd-project/lbd/lbd/health"
	"github.com/lbd-project/lbd/lbd/override"
)

// Snapshot is the daemon's state for people and tools: /status, the status
// page and the metrics read it. It is a copy: holding it holds no lock.
type Snapshot struct {
	At       time.Time `json:"at"`
	Host     string    `json:"host"`
	Instance string    `json:"instance"`
	Master   bool      `json:"master"`
	// Writing: this instance may write DNS now (a master always; a slave
	// while the master's heartbeat is stale).
	Writing  bool      `json:"writing"`
	Fencing  bool      `json:"fencing"`
	LastBeat time.Time `json:"master_last_beat,omitzero"`
	// Authenticated: a heartbeat secret is configured; Counter is the
	// highest authenticated beat counter accepted (slave).
	Authenticated bool            `json:"heartbeat_authenticated"`
	Counter       uint64          `json:"master_beat_counter,omitempty"`
	Aliases       []AliasSnapshot `json:"aliases"`
	// Leases is, per DNS server (and view) and zone, the last lease
	// decision.
	Leases map[string]map[string]LeaseSnapshot `json:"leases,omitempty"`
	// Servers is each DNS server's (and view's) health.
	Servers map[string]health.Server `json:"servers"`
	// Push counts push notifications.
	Push PushStats `json:"push"`
}

// LeaseSnapshot is one zone's lease as this instance last saw it.
type LeaseSnapshot struct {
	Writing bool   `json:"writing"`
	Holder  string `json:"holder,omitempty"`
	Why     string `json:"why,omitempty"`
}

// AliasSnapshot is one alias.
type AliasSnapshot struct {
	Name string `json:"name"`
	Zone string `json:"zone"`
	// Hosts and Addrs are what the last decision publishes.
	Hosts      []string  `json:"hosts"`
	Addrs      []string  `json:"addresses"`
	Fallback   string    `json:"fallback,omitempty"`
	Usable     int       `json:"usable_members"`
	Configured int       `json:"configured_members"`
	LastEval   time.Time `json:"last_evaluation,omitzero"`
	LastWrite  time.Time `json:"last_write,omitzero"`
	// LastChange is when the published hosts last changed.
	LastChange time.Time `json:"last_change,omitzero"`
	Error      string    `json:"error,omitempty"`
	// Servers maps each DNS server (and external view) to "ok" or its error.
	Servers map[string]string `json:"dns_servers,omitempty"`
	Members []MemberSnapshot  `json:"members"`
	// Overrides are the overrides in force (drains).
	Overrides []override.Override `json:"overrides,omitempty"`
	// StaleMembers counts the Stale members.
	StaleMembers int `json:"stale_members"`
}

// MemberSnapshot is one member of an alias at the last evaluation.
type MemberSnapshot struct {
	Host string `json:"host"`
	Load int    `json:"load"`
	// Meaning says what Load means in words (docs/protocol.md §2).
	Meaning   string   `json:"meaning"`
	Addrs     []string `json:"addresses,omitempty"`
	Published bool     `json:"published"`
	// Why says why the member is or is not published.
	Why string `json:"why"`
	// LastChange is when the member last entered or left the alias.
	LastChange time.Time `json:"last_change,omitzero"`
	// Override describes the override in force for the member, if any.
	Override string `json:"override,omitempty"`
	// Stale is set when the member stays published with a load that has
	// not changed for [lbd] stale_load_after (a stuck metric?); LoadSince
	// is when it took that load.
	Stale     bool      `json:"stale,omitempty"`
	LoadSince time.Time `json:"load_since,omitzero"`
}

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
func (d *Daemon) Snapshot() Snapshot {
	d.mu.Lock()
	defer d.mu.Unlock()
	cfg := d.cfg
	s := Snapshot{At: time.Now(), Host: d.hostname, Instance: d.instance(cfg), Master: cfg.IsMaster(d.hostname),
		Writing: d.writing, Fencing: cfg.DNS.Fencing, LastBeat: d.follower.LastBeat(),
		Authenticated: cfg.Heartbeat.Key() != nil, Counter: d.verifier.Highest(), Servers: map[string]health.Server{},
		Push: d.push.stats}
	for _, v := range cfg.Views {
		s.Servers[v.String()] = d.health[v.String()]
	}
	for view, zones := range d.leases {
		for zone, lp := range zones {
			if s.Leases == nil {
				s.Leases = map[string]map[string]LeaseSnapshot{}
			}
			if s.Leases[view] == nil {
				s.Leases[view] = map[string]LeaseSnapshot{}
			}
			s.Leases[view][zone] = LeaseSnapshot{Writing: lp.Write, Holder: lp.Holder, Why: lp.Why}
		}
	}
	for i := range cfg.Params {
		p := &cfg.Params[i]
		st := d.aliases[p.Name]
		if st == nil {
			continue
		}
		s.Aliases = append(s.Aliases, aliasSnapshot(s.At, cfg, p, st))
	}
	return s
}

func aliasSnapshot(now time.Time, cfg *config.Compiled, p *config.Params, st *aliasState) AliasSnapshot {
	a := AliasSnapshot{Name: p.Name, Zone: p.Zone, Hosts: slices.Clone(st.decision.Hosts), Fallback: string(st.decision.Fallback),
		Usable: st.decision.Usable, Configured: len(p.Members), LastEval: st.lastEval, LastWrite: st.lastWrite,
		LastChange: st.lastChange, Members: []MemberSnapshot{}}
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
		ms := MemberSnapshot{Host: m.Host, Load: m.Load, Meaning: LoadMeaning(m.Load), Published: published[m.Host],
			LastChange: st.memberChange[m.Host]}
		for _, ad := range m.Addrs {
			ms.Addrs = append(ms.Addrs, ad.String())
		}
		ms.Why = memberWhy(ms, st.decision)
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

// memberWhy explains a member's place in the decision.
func memberWhy(m MemberSnapshot, d choice.Decision) string {
	usable := choice.Usable(m.Load) && len(m.Addrs) > 0
	switch {
	case m.Published && usable:
		return "published: among the best"
	case m.Published && d.Fallback != "":
		return "published by the fallback " + string(d.Fallback) + ": no member is usable"
	case m.Published:
		return "published"
	case d.Keep:
		return "not changed: no member is usable and the fallback keeps DNS as it is"
	case usable:
		return "usable, not among the best"
	}
	return "not usable: " + LoadMeaning(m.Load)
}

// LoadMeaning says in words what a member's load for an alias means: an
// agent's answer (docs/protocol.md §2, §5.3) or one of lbd's own codes.
func LoadMeaning(load int) string {
	switch {
	case choice.Usable(load):
		return fmt.Sprintf("usable, load %d (lower is better)", load)
	case load == choice.LoadNoAnswer:
		return "no answer: timeout, SNMP error, or the alias missing from the agent's reply"
	case load == choice.LoadNoAddress:
		return "the member's name resolves to no address"
	case load == choice.LoadDrained:
		return "drained by an operator (an override in force)"
	case load > choice.MaxUsable:
		return fmt.Sprintf("load %d above the usable range", load)
	case load == 0:
		return "0: the agent takes the member out"
	case load == -100:
		return "-100: the agent is not ready (first evaluation not finished)"
	case load == -101:
		return "-101: a check or load of the agent hung"
	case load == -102:
		return "-102: the agent's configuration is broken"
	}
	if names := checks.NamesForCode(-load); len(names) > 0 {
		return fmt.Sprintf("%d: failed %s", load, strings.Join(names, " / "))
	}
	return fmt.Sprintf("%d: the agent takes the member out", load)
}
