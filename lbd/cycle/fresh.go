package cycle

import (
	"errors"
	"maps"
	"slices"

	"github.com/miekg/dns"

	"github.com/lbd-project/lbd/dnsupdate"
	"github.com/lbd-project/lbd/lbd/health"
	"github.com/lbd-project/lbd/lbd/lease"
)

// FreshZones picks, per view, the zones of due that a batch writes without
// reading them first (docs/design.md §9.9): zones this instance has never
// seen (seen, by canonical name: the zones of its managed names as kept in
// [lbd] state_dir, and every zone it has decided since it started), in a
// view read in full (modes), when it is a master that may write, not a
// shard, not a dry run, and keeps its managed names across restarts
// (state_dir set: else every start would take every zone for new). Their
// aliases are decided on an empty reading and written under prerequisites
// saying so (no A, AAAA, metadata or lease there, RFC 2136 §2.4.3): one
// UPDATE instead of four reads and the UPDATE. A presumption the server
// refuses, or a plan with nothing to write on it, is read and decided again
// in the same batch (Unconfirmed). Pure.
func FreshZones(in Input, due []int, modes []health.Mode, seen map[string]bool) map[int]map[string]bool {
	cfg := in.Config
	if cfg.LBD.StateDir == "" || !in.Role.Master || !in.MayWrite || in.Role.Sharded || in.DryRun {
		return nil
	}
	var out map[int]map[string]bool
	for _, i := range due {
		p := &cfg.Params[i]
		if seen[dns.CanonicalName(p.Zone)] {
			continue
		}
		for _, v := range cfg.ViewsOf(p) {
			if modes[v] != health.ReadAll {
				continue
			}
			if out == nil {
				out = map[int]map[string]bool{}
			}
			if out[v] == nil {
				out[v] = map[string]bool{}
			}
			out[v][p.Zone] = true
		}
	}
	return out
}

// Unconfirmed lists the aliases (Config.Params indexes, in plan order) of
// plan that have a view planned on a fresh presumption (ViewPlan.Fresh)
// which rep does not bear out: nothing was written there (the decision
// was empty, or kept DNS as it is: there was nothing to compare), or the
// server refused the write on its prerequisites (the zone holds records,
// metadata or a lease after all). Those are read and decided again. Pure.
func Unconfirmed(plan Plan, rep Report) []int {
	var out []int
	for n, ap := range plan.Aliases {
		for _, vp := range ap.Views {
			if vp.Fresh && (vp.Action != Write || errors.Is(rep.Aliases[n].Errs[vp.View], dnsupdate.ErrPrerequisite)) {
				out = append(out, ap.Alias)
				break
			}
		}
	}
	return out
}

// Merge returns p and r with the aliases of q (a second pass over some of
// p's aliases, Unconfirmed) put in place of p's, and q's lease decisions
// and swaps in place of p's for the zones q decided. For a view the first
// pass did write (mergeWritten): if the second pass wrote it again, the
// view has the second pass's plan and outcome, its change shown from what
// the view served before the cycle; otherwise (in sync, or not written by
// the second pass for another reason: unread, fenced, kept) it keeps the
// first pass's plan and outcome, which is what was sent. Two limits of
// the merged report: if the second write failed, the view reports that
// failure (and is retried with backoff) and not the first write; and the
// alias's decision is the second pass's, also for a view kept from the
// first. Pure: p and r are not modified.
func Merge(p Plan, r Report, q Plan, s Report) (Plan, Report) {
	at := make(map[int]int, len(q.Aliases))
	for n, ap := range q.Aliases {
		at[ap.Alias] = n
	}
	p.Aliases, r.Aliases = slices.Clone(p.Aliases), slices.Clone(r.Aliases)
	for i, ap := range p.Aliases {
		if n, ok := at[ap.Alias]; ok {
			p.Aliases[i], r.Aliases[i] = mergeWritten(ap, r.Aliases[i], q.Aliases[n], s.Aliases[n])
		}
	}
	if len(q.Leases) > 0 {
		leases := make(map[int]map[string]lease.Plan, len(p.Leases))
		for v, zones := range p.Leases {
			leases[v] = maps.Clone(zones)
		}
		swaps := make(map[int]map[string]error, len(r.Leases))
		for v, zones := range r.Leases {
			swaps[v] = maps.Clone(zones)
		}
		for v, zones := range q.Leases {
			if leases[v] == nil {
				leases[v] = map[string]lease.Plan{}
			}
			for zone, lp := range zones {
				leases[v][zone] = lp
				delete(swaps[v], zone)
				if err, ok := s.Leases[v][zone]; ok {
					if swaps[v] == nil {
						swaps[v] = map[string]error{}
					}
					swaps[v][zone] = err
				}
			}
		}
		p.Leases, r.Leases = leases, swaps
	}
	return p, r
}

// mergeWritten is the second pass's plan and report of an alias (next,
// out) with the views the first pass wrote (first, done) put back.
func mergeWritten(first AliasPlan, done AliasReport, next AliasPlan, out AliasReport) (AliasPlan, AliasReport) {
	next.Views = slices.Clone(next.Views)
	out.Errs = maps.Clone(out.Errs)
	out.Written = slices.Clone(out.Written)
	out.Serials = maps.Clone(out.Serials)
	for _, v := range done.Written {
		var was ViewPlan
		for _, vp := range first.Views {
			if vp.View == v {
				was = vp
			}
		}
		k := slices.IndexFunc(next.Views, func(vp ViewPlan) bool { return vp.View == v })
		switch {
		case k >= 0 && next.Views[k].Action == Write:
			// Written twice: the second write's outcome is the view's;
			// its change is shown from what the view served before the
			// cycle (the first write replaced nothing, Fresh).
			// What the second pass read there is the first write, not a
			// change behind lbd's back: the drift is the first pass's.
			vp := next.Views[k]
			vp.Served, vp.Drift, vp.Known = was.Served, was.Drift, was.Known
			vp.Change.Add, vp.Change.Remove = dnsupdate.Delta(was.Served, vp.Change.Desired)
			next.Views[k] = vp
			continue
		case k >= 0:
			next.Views[k] = was
		default:
			next.Views = append(next.Views, was)
		}
		delete(out.Errs, v)
		if !slices.Contains(out.Written, v) {
			out.Written = append(out.Written, v)
		}
		if serial, ok := done.Serials[v]; ok {
			if out.Serials == nil {
				out.Serials = map[int]uint32{}
			}
			out.Serials[v] = serial
		}
	}
	slices.SortStableFunc(next.Views, func(a, b ViewPlan) int { return a.View - b.View })
	slices.Sort(out.Written)
	return next, out
}
