package cycle

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/lbd-project/lbd/dnsupdate"
	"github.com/lbd-project/lbd/lbd/choice"
	"github.com/lbd-project/lbd/lbd/config"
	"github.com/lbd-project/lbd/lbd/lease"
	"github.com/lbd-project/lbd/lbd/override"
	"github.com/lbd-project/lbd/lbd/snmp"
)

// Schedule is an alias's place in the cycle: when it is next due and how
// many evaluations in a row failed.
type Schedule struct {
	NextDue time.Time
	// Failures counts consecutive failed evaluations (for the backoff).
	Failures int
	// Poked is set when a push or a take-over made the alias due while a
	// cycle was running: it stays due after that cycle.
	Poked bool
}

// Due lists the indexes (into cfg.Params) of the aliases due at now: every
// one when all is set, else those whose NextDue has come. An alias with no
// schedule yet is due.
func Due(now time.Time, cfg *config.Compiled, sched map[string]Schedule, all bool) []int {
	var due []int
	for i := range cfg.Params {
		if all || !now.Before(sched[cfg.Params[i].Name].NextDue) {
			due = append(due, i)
		}
	}
	return due
}

// errNotRead stands for a view missing from Input.Served.
var errNotRead = errors.New("not read")

// Served is what one view served for an alias when it was read.
type Served struct {
	State dnsupdate.State
	// Meta are the texts of the TXT records at the alias's metadata name
	// (dnsupdate.OwnerName): its ownership record and its overrides.
	Meta []string
	Err  error
	// Fresh: not read, presumed empty (FreshZones): a write built on it
	// requires that the name holds nothing (dnsupdate.Change.AddrsAbsent)
	// and fails if it does.
	Fresh bool
}

// Managed is a name this instance group wrote, in its zone.
type Managed struct {
	Name, Zone string
}

// Input is everything one cycle decides on.
type Input struct {
	Now      time.Time
	Config   *config.Compiled
	Schedule map[string]Schedule // by alias name
	All      bool                // evaluate every alias (-once, take-over)
	// Due, when set, are the aliases to decide (Config.Params indexes, in
	// configuration order): in a streaming cycle, the part of Due's
	// result whose polls are complete. Nil: Due(Now, Config, Schedule, All).
	Due []int
	// Resolved are the members' addresses, Replies every address's answer.
	Resolved map[string][]netip.Addr
	Replies  map[netip.Addr]snmp.Reply
	// Served[name][k] is what view Config.ViewsOf(alias)[k] serves for
	// the alias; a missing entry counts as a failed read.
	Served map[string][]Served
	// Known[name][view] is what this instance last found or left in a view
	// (by View.String()) for the alias; a view that serves something else
	// now was changed behind lbd's back: drift, repaired like any change.
	Known map[string]map[string][]netip.Addr
	// MayWrite is the role at plan time: this instance may write DNS.
	MayWrite bool
	// Leases[view][zone] is what each view serves at the lease name of
	// each zone of the due aliases and removals (fencing only).
	Leases map[int]map[string]lease.State
	// Role is what the lease rule needs (fencing only).
	Role lease.Role
	// Owned are the zones this instance owns when Role.Sharded
	// (docs/design.md §9.7): Role.Owner is set for them.
	Owned map[string]bool
	// Removed are names this instance group manages that the
	// configuration no longer has: each is deleted from every view, if it
	// is still owned. RemovedServed[name][view] is what each view serves at
	// its metadata name (ReadRemoved).
	Removed       []Managed
	RemovedServed map[string][]Served
	// Edits are the override changes operators asked for since the last
	// cycle, per alias (the admin API); they are applied to the overrides
	// read from the first readable internal view.
	Edits map[string][]override.Edit
	// DryRun plans the changes without sending them.
	DryRun bool
}

// Action is what a plan does with one view of one alias.
type Action int

// Actions.
const (
	InSync  Action = iota // the view serves the decision already
	Write                 // send Change
	Passive               // differs, not written: this instance is a passive slave
	DryRun                // differs, shown but not sent (-dry-run)
	Unread                // the view could not be read: nothing is done to it
	Kept                  // the fallback keeps DNS as it is
	Foreign               // the name holds records lbd did not write (not adopted): left alone
	Fenced                // the zone's lease is not this instance's: not written
)

var actionNames = [...]string{"in sync", "write", "passive", "dry run", "unread", "kept", "foreign", "fenced"}

func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "unknown"
}

// ViewPlan is the plan for one alias in one view.
type ViewPlan struct {
	View   int // index into Config.Views
	Action Action
	// Change is the diff from what the view serves to the decision
	// (Write, Passive, DryRun; empty for InSync).
	Change dnsupdate.Change
	// Err is the read error of an Unread view, or why a Foreign or Fenced
	// view is left alone.
	Err error
	// Served is what the view serves now (unless Unread).
	Served []netip.Addr
	// Drift is set when the view serves something other than what this
	// instance last found or left there (Input.Known) and it may write.
	Drift bool
	// Known is that earlier content, when Drift is set.
	Known []netip.Addr
	// Fresh: planned on the presumption that the view holds nothing
	// (Served.Fresh); see Unconfirmed.
	Fresh bool
}

// AliasPlan is the plan for one due alias.
type AliasPlan struct {
	Alias   int // index into Config.Params
	Name    string
	Members []choice.Member
	// Overrides are the alias's overrides in force (expired ones dropped,
	// edits applied); drained members count as choice.LoadDrained.
	Overrides override.Set
	// DrainEmptied is set when the overrides leave no usable member
	// although some member would be usable without them: the fallback
	// decides.
	DrainEmptied bool
	// Decided is false when no internal view could be read: there is
	// nothing to decide on, so choice.Decision is empty and no view is written.
	Decided  bool
	Decision choice.Decision
	Views    []ViewPlan
}

// RemovalPlan is the plan for a name the configuration no longer has.
type RemovalPlan struct {
	Managed
	Views []ViewPlan // Change.Delete, Write / DryRun / Passive / Fenced
}

// Plan is one cycle's decisions.
type Plan struct {
	Now time.Time
	// Aliases are the due aliases, in configuration order.
	Aliases []AliasPlan
	// NextDue is the earliest moment an alias that was not due becomes
	// due (zero when every alias was due).
	NextDue time.Time
	// Removals delete the names the configuration no longer has.
	Removals []RemovalPlan
	// Leases[view][zone] is the lease decision of every zone the plan
	// touches (fencing only).
	Leases map[int]map[string]lease.Plan
	// DryRun: nothing of the plan is sent, lease swaps included.
	DryRun bool
}

// Decide plans one cycle: for every due alias, its members' loads from the
// replies, the selection on what the first readable internal view
// publishes, and for each of its views the diff and what to do with it.
func Decide(in Input) Plan {
	cfg := in.Config
	plan := Plan{Now: in.Now, DryRun: in.DryRun}
	due := in.Due
	if due == nil {
		due = Due(in.Now, cfg, in.Schedule, in.All)
	}
	isDue := make([]bool, len(cfg.Params))
	for _, i := range due {
		isDue[i] = true
	}
	for i := range cfg.Params {
		if next := in.Schedule[cfg.Params[i].Name].NextDue; !isDue[i] && (plan.NextDue.IsZero() || next.Before(plan.NextDue)) {
			plan.NextDue = next
		}
	}
	if cfg.DNS.Fencing {
		plan.Leases = decideLeases(in, due)
	}
	for _, i := range due {
		plan.Aliases = append(plan.Aliases, decideAlias(in, plan.Leases, i))
	}
	for _, m := range in.Removed {
		plan.Removals = append(plan.Removals, decideRemoval(in, plan.Leases, m))
	}
	return plan
}

// decideLeases applies the lease rule to every zone of the due aliases and
// removals, in every view.
func decideLeases(in Input, due []int) map[int]map[string]lease.Plan {
	cfg := in.Config
	out := map[int]map[string]lease.Plan{}
	add := func(v int, zone string) {
		if out[v] == nil {
			out[v] = map[string]lease.Plan{}
		}
		if _, done := out[v][zone]; !done {
			st, ok := in.Leases[v][zone]
			if !ok {
				st.Err = errNotRead
			}
			r := in.Role
			r.Owner = r.Sharded && in.Owned[zone]
			out[v][zone] = lease.Decide(in.Now, st, r)
		}
	}
	for _, i := range due {
		for _, v := range cfg.ViewsOf(&cfg.Params[i]) {
			add(v, cfg.Params[i].Zone)
		}
	}
	for _, m := range in.Removed {
		for v := range cfg.Views {
			add(v, m.Zone)
		}
	}
	return out
}

// writeAction is the action for a non-empty change in view v of zone.
func writeAction(in Input, leases map[int]map[string]lease.Plan, v int, zone string) (Action, error) {
	switch {
	case in.DryRun:
		return DryRun, nil
	case !in.MayWrite:
		return Passive, nil
	case in.Config.DNS.Fencing && leases[v][zone].Passive:
		return Passive, nil // a shard: another instance owns the zone, or holds it until it hands it back
	case in.Config.DNS.Fencing && !leases[v][zone].Write:
		return Fenced, errors.New(leases[v][zone].Why)
	}
	return Write, nil
}

func decideRemoval(in Input, leases map[int]map[string]lease.Plan, m Managed) RemovalPlan {
	rp := RemovalPlan{Managed: m}
	for v := range in.Config.Views {
		vp := ViewPlan{View: v, Change: dnsupdate.Change{Zone: m.Zone, Name: m.Name, Delete: true}}
		served := Served{Err: errNotRead}
		if s := in.RemovedServed[m.Name]; v < len(s) {
			served = s[v]
		}
		switch {
		case served.Err != nil:
			vp.Action, vp.Err = Unread, served.Err
		case !slices.Contains(served.Meta, in.Config.Owner):
			vp.Action = InSync // not ours (or already gone): nothing to delete
		default:
			// Deleted only if the metadata is still what was read.
			vp.Change.MetaExpect, vp.Change.MetaRequire = served.Meta, true
			vp.Action, vp.Err = writeAction(in, leases, v, m.Zone)
		}
		rp.Views = append(rp.Views, vp)
	}
	return rp
}

// overridesOf returns the alias's overrides in force at now: those of the
// first readable internal view, with the operators' edits applied.
func overridesOf(in Input, p *config.Params, views []int, served []Served) override.Set {
	var set override.Set
	for k, v := range views {
		if !in.Config.Views[v].External && served[k].Err == nil {
			set, _ = override.ParseSet(p.Name, served[k].Meta)
			break
		}
	}
	return set.Apply(in.Edits[p.Name]).Active(in.Now)
}

// applyOverrides makes drained members unusable (choice.LoadDrained) and reports
// whether that left no usable member where there was one.
func applyOverrides(members []choice.Member, set override.Set) (emptied bool) {
	before, after := 0, 0
	for i := range members {
		if members[i].Usable() {
			before++
		}
		if o, ok := set.For(members[i].Host); ok && o.Action == override.Drain {
			members[i].Load = choice.LoadDrained
		}
		if members[i].Usable() {
			after++
		}
	}
	return before > 0 && after == 0
}

func decideAlias(in Input, leases map[int]map[string]lease.Plan, i int) AliasPlan {
	cfg := in.Config
	p := &cfg.Params[i]
	ap := AliasPlan{Alias: i, Name: p.Name}
	for _, h := range p.Members {
		ap.Members = append(ap.Members, choice.MemberFor(p.Name, h, in.Resolved[h], in.Replies))
	}
	views := cfg.ViewsOf(p)
	served := make([]Served, len(views))
	for k := range views {
		if s := in.Served[p.Name]; k < len(s) {
			served[k] = s[k]
		} else {
			served[k] = Served{Err: errNotRead}
		}
	}
	var published []netip.Addr
	for k, v := range views {
		if !cfg.Views[v].External && served[k].Err == nil {
			published, ap.Decided = served[k].State.Addrs(), true
			break
		}
	}
	ap.Overrides = overridesOf(in, p, views, served)
	ap.DrainEmptied = applyOverrides(ap.Members, ap.Overrides)
	if ap.Decided {
		ap.Decision = choice.Select(choice.Input{Alias: p.Name, BestHosts: p.BestHosts, Fallback: p.Fallback,
			Hysteresis: p.Hysteresis, Members: ap.Members, Published: published})
	}
	ttl := uint32(p.TTL / time.Second)
	for k, v := range views {
		vp := ViewPlan{View: v}
		switch {
		case served[k].Err != nil:
			vp.Action, vp.Err = Unread, served[k].Err
		case !ap.Decided:
			continue // an external view read while every internal one failed: nothing to diff against
		case ap.Decision.Keep:
			// DNS stays as it is; only the metadata (overrides) may change.
			vp.Action, vp.Served = Kept, served[k].State.Addrs()
			if served[k].Fresh {
				vp.Fresh = true // nothing read, nothing to keep: read again (Unconfirmed)
				break
			}
			vp.Change = dnsupdate.Diff(p.Zone, p.Name, served[k].State, vp.Served, uint32(max(served[k].State.TTL, 1)))
			vp.Change.Replace, vp.Change.Add, vp.Change.Remove = false, nil, nil
			if owns(cfg.Owner, &vp.Change, served[k], ap.Overrides) || vp.Change.Empty() {
				vp.Change = dnsupdate.Change{}
				break
			}
			vp.Action, vp.Err = writeAction(in, leases, v, p.Zone)
		default:
			vp.Served = served[k].State.Addrs()
			vp.Change = dnsupdate.Diff(p.Zone, p.Name, served[k].State, ap.Decision.Addrs, ttl)
			if foreign := owns(cfg.Owner, &vp.Change, served[k], ap.Overrides); foreign && !p.Adopt {
				vp.Action = Foreign
				vp.Err = fmt.Errorf("%s holds records lbd (%s) did not write (no ownership record at %s): left alone; set adopt = true to take it over",
					p.Name, cfg.Owner, dnsupdate.OwnerName(p.Name))
				break
			}
			if served[k].Fresh {
				// Nothing was read: the message requires that nothing is
				// there (RFC 2136 §2.4.3), records nor metadata.
				vp.Fresh = true
				vp.Change.AddrsAbsent, vp.Change.MetaRequire, vp.Change.MetaExpect = true, true, nil
			}
			vp.Action = InSync
			if !vp.Change.Empty() {
				vp.Action, vp.Err = writeAction(in, leases, v, p.Zone)
			}
			if known, ok := in.Known[p.Name][cfg.Views[v].String()]; ok && in.MayWrite && vp.Action != Passive && !vp.Fresh &&
				!leaseChangesHands(in, leases[v][p.Zone]) && !sameAddrs(known, vp.Served) {
				vp.Drift, vp.Known = true, known
			}
		}
		ap.Views = append(ap.Views, vp)
	}
	return ap
}

// leaseChangesHands reports, with fencing, a zone this instance does not
// write as the lease's holder from before: it waits for another's lease
// (a shard's passive plan) or takes the lease now. What the view serves
// then was written by the other holder, which is no drift.
func leaseChangesHands(in Input, lp lease.Plan) bool {
	if !in.Config.DNS.Fencing {
		return false
	}
	if lp.Passive {
		return true
	}
	return lp.Write && lp.Takes
}

// owns fills ch's metadata fields from what the view serves and the
// overrides in force, and reports whether the name is foreign: it holds
// records or metadata but not this group's ownership record.
func owns(owner string, ch *dnsupdate.Change, s Served, overrides override.Set) (foreign bool) {
	var owners int
	for _, t := range s.Meta {
		if strings.HasPrefix(t, config.OwnerPrefix) {
			owners++
		}
	}
	mine := owners == 1 && slices.Contains(s.Meta, owner)
	has := len(s.State.Addrs()) > 0
	want := append([]string{owner}, overrides.Texts()...)
	slices.Sort(want)
	have := slices.Sorted(slices.Values(s.Meta))
	// Claim the name with its first write; rewrite the metadata when the
	// overrides changed.
	ch.Meta = want
	ch.MetaSet = !slices.Equal(want, have) && (mine || has || !ch.Empty() || len(overrides) > 0)
	if mine {
		ch.MetaExpect, ch.MetaRequire = s.Meta, true
	}
	return !mine && (has || len(s.Meta) > 0)
}

// OutcomeOf classifies an alias's evaluation for Reschedule from its
// error and its servers' errors: permanent when every failed server
// failed for a reason a retry does not cure.
func OutcomeOf(err error, servers map[string]error) Outcome {
	if err == nil {
		return Succeeded
	}
	for _, e := range servers {
		if e != nil && !IsPermanent(e) {
			return FailedTransient
		}
	}
	return FailedPermanent
}

// IsPermanent reports a failure that retrying soon would only repeat.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p) || dnsupdate.Permanent(err)
}

// permanentError marks a failure lbd knows will repeat (a name it does
// not own, a lease another instance holds, a record limit).
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as a failure that will repeat (for IsPermanent).
func Permanent(err error) error { return &permanentError{err} }

// Outcome is how an alias's evaluation ended, for Reschedule.
type Outcome int

// Outcomes.
const (
	Succeeded Outcome = iota
	// FailedTransient may succeed when tried again soon (a timeout, a
	// server failure).
	FailedTransient
	// FailedPermanent will fail the same way until something changes (a
	// REFUSED, NOTAUTH, a failed prerequisite, a record limit, a name lbd
	// does not own, a lease held by another instance).
	FailedPermanent
)

// Reschedule is an alias's schedule after a cycle evaluated it at now: due
// again after its polling interval; after a transient failure, after a
// backoff (tick doubled per consecutive failure, at most the polling
// interval); after a permanent one, at the polling interval (trying sooner
// would only repeat the failure). An alias poked meanwhile stays due.
func Reschedule(now time.Time, tick time.Duration, p *config.Params, prev Schedule, out Outcome) Schedule {
	next := prev
	next.Poked = false
	switch {
	case prev.Poked:
		return prev // due again at once; the next cycle takes it
	case out == FailedPermanent:
		next.Failures++
		next.NextDue = now.Add(p.PollingInterval)
	case out == FailedTransient:
		next.Failures++
		back := tick << min(next.Failures-1, 6)
		next.NextDue = now.Add(min(back, p.PollingInterval))
	default:
		next.Failures = 0
		next.NextDue = now.Add(p.PollingInterval)
	}
	return next
}
