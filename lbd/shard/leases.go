package shard

import (
	"time"

	"github.com/lbd-project/lbd/lbd/lease"
)

// retryMargin is how long after a foreign lease's until the owner looks
// again: until has whole seconds and "passed" is strictly after it.
const retryMargin = 100 * time.Millisecond

// LeasePlan is one lease-renewal step: the lease rule applied to every
// zone in every view it is published in, outside of any alias evaluation.
type LeasePlan struct {
	// Leases[view][zone] is the decision; the swaps among them (take,
	// renew, release) are sent alone, without records.
	Leases map[int]map[string]lease.Plan
	// Retry, when not zero, is when to look again at a zone this instance
	// owns but cannot take yet (another instance's lease, until not
	// passed): just after until, or after a quarter of lease_ttl if that
	// is sooner (the holder hands it back once it sees this instance).
	// The next step should not come later than that.
	Retry time.Time
}

// Swaps reports whether the plan changes any lease.
func (p LeasePlan) Swaps() bool {
	for _, zones := range p.Leases {
		for _, lp := range zones {
			if lp.Lease.Swaps() {
				return true
			}
		}
	}
	return false
}

// PlanLeases decides, at now, every lease read in states (by view and
// zone) for role (Sharded), owning the zones owned says: an owner takes a
// released or expired lease and renews its own; an instance that is no
// longer the owner hands its lease back (release) so that the owner takes
// it at once, instead of at its expiry.
func PlanLeases(now time.Time, states map[int]map[string]lease.State, role lease.Role, owned map[string]bool) LeasePlan {
	role.Sharded = true
	p := LeasePlan{Leases: map[int]map[string]lease.Plan{}}
	for v, zones := range states {
		p.Leases[v] = map[string]lease.Plan{}
		for zone, st := range zones {
			r := role
			r.Owner = owned[zone]
			lp := lease.Decide(now, st, r)
			p.Leases[v][zone] = lp
			if !r.Owner || lp.Write || st.Err != nil || len(st.Records) != 1 {
				continue
			}
			if cur, ok := lease.Parse(st.Records[0]); ok && !cur.Until.IsZero() && cur.Until.After(now) {
				at := cur.Until.Add(retryMargin)
				if soon := now.Add(role.TTL / 4); soon.Before(at) {
					at = soon
				}
				if p.Retry.IsZero() || at.Before(p.Retry) {
					p.Retry = at
				}
			}
		}
	}
	return p
}
