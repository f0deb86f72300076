package lease

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lbd-project/lbd/dnsupdate"
)

// Prefix starts every lease record.
const Prefix = "lbd-lease v=1 "

// Record is a parsed lease.
type Record struct {
	Holder   string // "" when released
	Epoch    uint64
	Until    time.Time // zero: no expiry (a master's lease)
	Released bool
}

func (l Record) String() string {
	if l.Released {
		return fmt.Sprintf("%sreleased epoch=%d", Prefix, l.Epoch)
	}
	s := fmt.Sprintf("%sholder=%s epoch=%d", Prefix, l.Holder, l.Epoch)
	if !l.Until.IsZero() {
		s += " until=" + strconv.FormatInt(l.Until.Unix(), 10)
	}
	return s
}

// Parse reads a lease record; ok is false for anything else.
func Parse(s string) (l Record, ok bool) {
	rest, found := strings.CutPrefix(s, Prefix)
	if !found {
		return l, false
	}
	for _, f := range strings.Fields(rest) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "released":
			l.Released = true
		case "holder":
			l.Holder = v
		case "epoch":
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return l, false
			}
			l.Epoch = n
		case "until":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return l, false
			}
			l.Until = time.Unix(n, 0)
		}
	}
	return l, l.Released != (l.Holder != "")
}

// State is what a view serves at a zone's lease name.
type State struct {
	Records []string // the TXT records' texts; none when there is no lease
	Err     error
}

// Role is what Decide needs of the instance to decide on leases.
type Role struct {
	Instance string        // this instance's holder name
	Master   bool          // the preferred writer
	Active   bool          // may write now (a master always; a slave while the master's beat is stale)
	TTL      time.Duration // a slave's (or a shard's) lease lifetime
	// Sharded: this instance is one of several masters sharing the zones
	// (docs/design.md §9.7). Its leases carry until, like a slave's, and
	// Owner replaces Master and Active: it writes the zones it owns and
	// hands back the others.
	Sharded bool
	// Owner: this instance owns the zone (Sharded only).
	Owner bool
}

// Plan is the decision on one zone's lease in one view.
type Plan struct {
	// Lease is what the zone's messages carry (Expect) and swap in (Set).
	Lease dnsupdate.Lease
	// Write is set when this instance may write the zone's records.
	Write bool
	// Holder is who holds the lease after the plan (for status).
	Holder string
	// Why explains a zone this instance may not write.
	Why string
	// Takes is set when the plan creates the zone's lease or takes it from
	// another holder (released, expired, or a master's lease taken by an
	// active slave): what the zone serves was written by someone else.
	Takes bool
	// HandsBack is set when the plan releases this instance's lease.
	HandsBack bool
	// Passive is set when this instance does not want to write the zone
	// (a passive slave, a shard that does not own it) or, sharded, waits
	// for another instance's lease to be handed back or to expire: its
	// changes are Passive, not Fenced (no error, no retry).
	Passive bool
}

// Decide is the lease rule for one zone in one view at now.
func Decide(now time.Time, st State, r Role) Plan {
	if r.Sharded {
		r.Master, r.Active = false, r.Owner
	}
	p := decide(now, st, r)
	p.Passive = !r.Active
	if r.Sharded && r.Owner && !p.Write && p.Holder != "" && p.Holder != r.Instance {
		// The owner waits for the holder's hand-back or expiry: the
		// lease step takes the lease then and makes the zone's aliases
		// due; meanwhile the changes wait, without an error.
		p.Passive = true
	}
	return p
}

func decide(now time.Time, st State, r Role) Plan {
	if st.Err != nil {
		return Plan{Why: fmt.Sprintf("lease not read: %v", st.Err)}
	}
	mine := func(epoch uint64) string {
		l := Record{Holder: r.Instance, Epoch: epoch}
		if !r.Master {
			l.Until = now.Add(r.TTL)
		}
		if r.Sharded {
			// until has whole seconds: round up, so that a shard's lease
			// lasts at least TTL (it is renewed every heartbeat interval,
			// TTL/2 by default).
			l.Until = l.Until.Add(time.Second - 1).Truncate(time.Second)
		}
		return l.String()
	}
	passive := "passive"
	if r.Sharded {
		passive = "passive: another instance owns the zone"
	}
	if len(st.Records) == 0 {
		if !r.Active {
			return Plan{Why: passive}
		}
		return Plan{Lease: dnsupdate.Lease{Set: mine(1)}, Write: true, Holder: r.Instance, Takes: true}
	}
	cur, ok := Parse(st.Records[0])
	if !ok || len(st.Records) > 1 {
		return Plan{Why: fmt.Sprintf("the lease record %q is not lbd's: fix or delete it", strings.Join(st.Records, `", "`))}
	}
	text := st.Records[0]
	keep := dnsupdate.Lease{Expect: text, Set: text}
	expired := !cur.Until.IsZero() && now.After(cur.Until)
	switch {
	case cur.Holder == r.Instance && !r.Active:
		// Hand-back: a slave that sees the master again releases the zone.
		return Plan{Lease: dnsupdate.Lease{Expect: text, Set: Record{Released: true, Epoch: cur.Epoch + 1}.String()},
			Holder: "", Why: "passive (lease handed back)", HandsBack: true}
	case cur.Holder == r.Instance:
		renewBelow := r.TTL / 2
		if r.Sharded {
			// Renewed by the lease step every interval (TTL/2 by
			// default): renewing below 3/4 of TTL leaves no gap when a
			// step comes a little late.
			renewBelow = r.TTL * 3 / 4
		}
		if !r.Master && cur.Until.Sub(now) < renewBelow {
			keep.Set = mine(cur.Epoch) // renew
		}
		return Plan{Lease: keep, Write: true, Holder: r.Instance}
	case !r.Active:
		return Plan{Why: passive, Holder: cur.Holder}
	case cur.Released, expired,
		// A slave that is active takes the master's lease: the master's
		// heartbeat is stale, which is the take-over rule.
		!r.Master && cur.Until.IsZero():
		return Plan{Lease: dnsupdate.Lease{Expect: text, Set: mine(cur.Epoch + 1)}, Write: true, Holder: r.Instance, Takes: true}
	}
	why := "lease held by " + cur.Holder
	if !cur.Until.IsZero() {
		why += " until " + cur.Until.UTC().Format(time.RFC3339)
	}
	return Plan{Why: why, Holder: cur.Holder}
}
