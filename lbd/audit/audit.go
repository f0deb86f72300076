// Package audit writes lbd's audit log ([lbd] audit_log, docs/operations.md):
// one JSON line per membership change written to DNS (per member, per DNS
// server), per override set, cleared or expired, per role change, per
// member registration added, changed or expired, and per file replaced by
// a [[render]] section (Rendered). It is
// an lbd.Observer; Reopen (on SIGHUP) reopens the file after rotation.
package audit

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lbd-project/lbd/internal/logfile"
	"github.com/lbd-project/lbd/lbd"
	"github.com/lbd-project/lbd/lbd/config"
	"github.com/lbd-project/lbd/lbd/override"
	"github.com/lbd-project/lbd/lbd/status"
)

// Event is one line of the audit log. Fields that do not apply to an
// event are left out.
type Event struct {
	Time     time.Time `json:"time"`
	Event    string    `json:"event"` // "member", "override", "role", "render", "registration"
	Instance string    `json:"instance"`
	Role     string    `json:"role"` // "master", "slave-writing", "slave-passive"

	Alias   string `json:"alias,omitempty"`
	Member  string `json:"member,omitempty"`
	Change  string `json:"change,omitempty"` // member: "in" / "out"; override: "set" / "cleared" / "expired"; role: the new role
	OldLoad *int   `json:"old_load,omitempty"`
	NewLoad *int   `json:"new_load,omitempty"`
	Reason  string `json:"reason,omitempty"`
	// Rule is what decided: "best_hosts", "fallback <name>" or
	// "override drain".
	Rule   string `json:"rule,omitempty"`
	Server string `json:"server,omitempty"`
	Serial uint32 `json:"serial,omitempty"`
	// File is the file a "render" event replaced; Size its new size.
	File string `json:"file,omitempty"`
	Size int    `json:"size,omitempty"`

	Override *override.Override `json:"override,omitempty"`

	// Registration events: the member's registered addresses and when the
	// registration expires without renewal.
	Addresses []string  `json:"addresses,omitempty"`
	Until     time.Time `json:"until,omitzero"`
}

// Log is the audit log. Its zero value is not usable: use Open.
type Log struct {
	path     string
	instance string
	hostname string // decides the role with role = "auto"

	mu        sync.Mutex
	f         *logfile.File
	published map[string][]string // alias → hosts last written
	loads     map[string]map[string]int
	overrides map[string]override.Set
	role      string
	err       error // last write error, for Err
}

// Open opens (creates, appends to) the audit log at path, mode 0640, for
// the instance named instance running on hostname.
func Open(path, instance, hostname string) (*Log, error) {
	f, err := logfile.Open(path)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return &Log{path: path, instance: instance, hostname: hostname, f: f, published: map[string][]string{},
		loads: map[string]map[string]int{}, overrides: map[string]override.Set{}}, nil
}

// Reopen reopens the file (after a rotation).
func (l *Log) Reopen() error {
	if err := l.f.Reopen(); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	return nil
}

// Close closes the file.
func (l *Log) Close() error { return l.f.Close() }

// Err is the last write error (nil when the last write succeeded).
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// ObserveCycle implements lbd.Observer.
func (l *Log) ObserveCycle(now time.Time, cfg *config.Compiled, rep lbd.CycleReport) {
	l.mu.Lock()
	defer l.mu.Unlock()
	role := roleOf(cfg.IsMaster(l.hostname), rep.MayWrite)
	var events []Event
	if role != l.role {
		if l.role != "" {
			events = append(events, Event{Event: "role", Change: role})
		}
		l.role = role
	}
	for _, e := range rep.Registrations {
		ev := Event{Event: "registration", Alias: e.Entry.Alias, Member: e.Entry.Host, Change: e.Kind, Until: e.Entry.Expires}
		for _, a := range e.Entry.Addrs {
			ev.Addresses = append(ev.Addresses, a.String())
		}
		events = append(events, ev)
	}
	for _, r := range rep.Aliases {
		events = append(events, l.overrideEvents(now, r)...)
		events = append(events, l.memberEvents(r)...)
	}
	for i := range events {
		events[i].Time, events[i].Instance, events[i].Role = now, l.instance, role
		l.write(events[i])
	}
}

// Rendered logs a "render" event: a [[render]] output was replaced with
// size bytes; change is "replaced", or "reload_failed" when the reload
// command failed after the file was replaced (reason: the error).
func (l *Log) Rendered(now time.Time, file string, size int, change, reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.write(Event{Time: now, Event: "render", Instance: l.instance, Role: l.role, File: file, Size: size,
		Change: change, Reason: reason})
}

func roleOf(master, writing bool) string {
	switch {
	case master:
		return "master"
	case writing:
		return "slave-writing"
	}
	return "slave-passive"
}

// memberEvents are the members that entered or left the alias's DNS
// records in this cycle, once per written server.
func (l *Log) memberEvents(r lbd.AliasResult) []Event {
	if !r.Decided {
		return nil
	}
	loads := map[string]int{}
	for _, m := range r.Members {
		loads[m.Host] = m.Load
	}
	prevLoads := l.loads[r.Alias]
	l.loads[r.Alias] = loads
	prev, seen := l.published[r.Alias]
	now := slices.Clone(r.Decision.Hosts)
	slices.Sort(now)
	if len(r.Written) == 0 {
		if !seen {
			l.published[r.Alias] = now // the first cycle: what DNS already had
		}
		return nil
	}
	l.published[r.Alias] = now
	rule := "best_hosts"
	if r.Decision.Fallback != "" {
		rule = "fallback " + string(r.Decision.Fallback)
	}
	var out []Event
	add := func(host, change string) {
		e := Event{Event: "member", Alias: r.Alias, Member: host, Change: change, Rule: rule}
		if v, ok := prevLoads[host]; ok {
			e.OldLoad = &v
		}
		if v, ok := loads[host]; ok {
			e.NewLoad = &v
			e.Reason = status.LoadMeaning(v)
		}
		if o, ok := r.Overrides.For(host); ok && change == "out" {
			e.Rule, e.Reason = "override "+o.Action, o.Reason
		}
		for server, serial := range r.Written {
			e.Server, e.Serial = server, serial
			out = append(out, e)
		}
	}
	for _, h := range now {
		if !slices.Contains(prev, h) {
			add(h, "in")
		}
	}
	for _, h := range prev {
		if !slices.Contains(now, h) {
			add(h, "out")
		}
	}
	slices.SortStableFunc(out, func(a, b Event) int { return strings.Compare(a.Server, b.Server) })
	return out
}

// overrideEvents are the overrides set, cleared or expired since the last
// cycle that decided the alias.
func (l *Log) overrideEvents(now time.Time, r lbd.AliasResult) []Event {
	if !r.Decided {
		return nil
	}
	prev, seen := l.overrides[r.Alias]
	l.overrides[r.Alias] = r.Overrides
	if !seen {
		return nil
	}
	var out []Event
	for _, o := range r.Overrides {
		if p, ok := prev.For(o.Member); !ok || p.Text() != o.Text() {
			o := o
			out = append(out, Event{Event: "override", Alias: r.Alias, Member: o.Member, Change: "set", Reason: o.Reason, Override: &o})
		}
	}
	for _, p := range prev {
		if _, ok := r.Overrides.For(p.Member); !ok {
			p := p
			change := "cleared"
			if !p.Active(now) {
				change = "expired"
			}
			out = append(out, Event{Event: "override", Alias: r.Alias, Member: p.Member, Change: change, Reason: p.Reason, Override: &p})
		}
	}
	return out
}

func (l *Log) write(e Event) {
	b, err := json.Marshal(e)
	if err == nil {
		_, err = l.f.Write(append(b, '\n'))
	}
	l.err = err
}
