package cycle

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"

	"github.com/lbd-project/lbd/dnsupdate"
	"github.com/lbd-project/lbd/lbd/config"
	"github.com/lbd-project/lbd/lbd/health"
	"github.com/lbd-project/lbd/lbd/lease"
)

// dnsParallel bounds concurrent DNS queries and zone updates per cycle.
const dnsParallel = 64

// servedSlot is one alias's read in one view: out[i][k].
type servedSlot struct{ i, k int }

// Served reads, for every alias of due (indexes into cfg.Params), what
// each of its views serves: the Served input of Decide. Each view is read
// by its own workers, as modes say (health.go); a view that answers none
// of its reads for [dns] stall is cut off. The outcomes, per view, feed
// health.Next. Through the cache (r and r.Cache set, MaxAge positive), in
// a view read in full (health.ReadAll), the zones the cache knows have
// their SOA serial read first, and the aliases of a zone whose serial is
// unchanged are taken from the cache; what is read is kept for the next
// batch. A nil r reads everything.
func (r *Reads) Served(ctx context.Context, cfg *config.Compiled, due []int, modes []health.Mode, hs map[string]health.Server) (map[string][]Served, []health.Outcome) {
	out := make([][]Served, len(due))
	for i, a := range due {
		out[i] = make([]Served, len(cfg.ViewsOf(&cfg.Params[a])))
	}
	outcomes := make([]health.Outcome, len(cfg.Views))
	parallel(len(cfg.Views), func(v int) {
		var slots []servedSlot
		for i, a := range due {
			for k, vi := range cfg.ViewsOf(&cfg.Params[a]) {
				if vi == v {
					slots = append(slots, servedSlot{i, k})
				}
			}
		}
		view := cfg.Views[v]
		down := health.ErrDown{H: hs[view.String()]}
		if modes[v] == health.ReadSkip {
			for _, s := range slots {
				out[s.i][s.k] = Served{Err: down}
			}
			return
		}
		g := health.NewGuard(ctx, cfg.DNS.Stall.Duration)
		var mu sync.Mutex
		oc := &outcomes[v]
		count := func(err error) {
			mu.Lock()
			defer mu.Unlock()
			oc.Attempted++
			if err == nil {
				oc.Answered++
				g.Progress()
			} else {
				oc.Err = err
			}
		}
		read := func(s servedSlot) {
			name := cfg.Params[due[s.i]].Name
			// Every read is signed with the view's key (RFC 8945 §5.1): a
			// server that selects views by key answers from the view the
			// same key updates. A name that does not exist has no metadata
			// name below it either (RFC 8020 §2): its TXT is not read.
			st, exists, err := view.Client.Read(g.Ctx, name, true, true)
			var meta []string
			if err == nil && exists {
				g.Progress()
				meta, err = view.Client.QueryTXT(g.Ctx, dnsupdate.OwnerName(name))
			}
			count(err)
			out[s.i][s.k] = Served{State: st, Meta: meta, Err: err}
		}
		rest := slots
		switch {
		case modes[v] == health.ReadProbe && len(slots) > 0:
			read(slots[0])
			rest = slots[1:]
			if oc.Answered == 0 {
				for _, s := range rest {
					out[s.i][s.k] = Served{Err: down}
				}
				rest = nil
			}
		case modes[v] == health.ReadAll:
			rest = r.fromCache(g.Ctx, cfg, v, due, r.presume(cfg, v, due, slots, out), out, count)
		}
		parallel(len(rest), func(n int) { read(rest[n]) }, dnsParallel)
		if modes[v] == health.ReadAll {
			r.keep(cfg, v, due, rest, out)
		}
		if g.Stop() {
			oc.Stalled = true
			for _, s := range slots {
				if err := out[s.i][s.k].Err; err != nil && errors.Is(err, context.Canceled) {
					out[s.i][s.k].Err = health.ErrStalled
				}
			}
			oc.Err = health.ErrStalled
		}
	}, len(cfg.Views))
	m := make(map[string][]Served, len(due))
	for i, a := range due {
		m[cfg.Params[a].Name] = out[i]
	}
	return m, outcomes
}

// presume fills out for the slots of zones presumed empty in view v
// (Reads.Fresh) and returns the others.
func (r *Reads) presume(cfg *config.Compiled, v int, due []int, slots []servedSlot, out [][]Served) []servedSlot {
	if r == nil || len(r.Fresh[v]) == 0 {
		return slots
	}
	var rest []servedSlot
	for _, s := range slots {
		if r.fresh(v, cfg.Params[due[s.i]].Zone) {
			out[s.i][s.k] = Served{Fresh: true}
			continue
		}
		rest = append(rest, s)
	}
	return rest
}

// fromCache reads the serial of every zone of slots that the cache knows
// (in view v), fills out from the cache where the serial is unchanged and
// returns the slots still to be read.
func (r *Reads) fromCache(ctx context.Context, cfg *config.Compiled, v int, due []int, slots []servedSlot, out [][]Served, count func(error)) []servedSlot {
	if !r.on() {
		return slots
	}
	view := cfg.Views[v]
	var zones []zoneKey
	seen := map[zoneKey]bool{}
	for _, s := range slots {
		k := keyOf(view, cfg.Params[due[s.i]].Zone)
		if !seen[k] {
			seen[k] = true
			if r.needsSerial(k) {
				zones = append(zones, k)
			}
		}
	}
	parallel(len(zones), func(n int) {
		serial, err := view.Client.Serial(ctx, zones[n].zone)
		count(err)
		if err == nil {
			r.noteSerial(zones[n], serial)
		}
	}, dnsParallel)
	var rest []servedSlot
	for _, s := range slots {
		p := &cfg.Params[due[s.i]]
		if sv, ok := r.name(keyOf(view, p.Zone), p.Name); ok {
			out[s.i][s.k] = sv
			continue
		}
		rest = append(rest, s)
	}
	return rest
}

// keep hands the successful reads of view v to the cache.
func (r *Reads) keep(cfg *config.Compiled, v int, due []int, read []servedSlot, out [][]Served) {
	if !r.on() {
		return
	}
	view := cfg.Views[v]
	byZone := map[zoneKey]map[string]Served{}
	for _, s := range read {
		sv := out[s.i][s.k]
		if sv.Err != nil {
			continue
		}
		p := &cfg.Params[due[s.i]]
		k := keyOf(view, p.Zone)
		if byZone[k] == nil {
			byZone[k] = map[string]Served{}
		}
		byZone[k][p.Name] = sv
	}
	r.storeNames(byZone)
}

// ReadRemoved reads, for every removed name, what each view (all of them,
// in Config.Views order) serves at its metadata name: the RemovedServed
// input of Decide.
func ReadRemoved(ctx context.Context, cfg *config.Compiled, removed []Managed, down []bool) map[string][]Served {
	out := make(map[string][]Served, len(removed))
	rows := make([][]Served, len(removed))
	parallel(len(removed), func(i int) {
		rows[i] = make([]Served, len(cfg.Views))
		for v, view := range cfg.Views {
			if down[v] {
				rows[i][v] = Served{Err: health.ErrStalled}
				continue
			}
			meta, err := view.Client.QueryTXT(ctx, dnsupdate.OwnerName(removed[i].Name))
			rows[i][v] = Served{Meta: meta, Err: err}
		}
	}, dnsParallel/4)
	for i, m := range removed {
		out[m.Name] = rows[i]
	}
	return out
}

// ReadLeases reads the lease of every zone of due and removed, in every
// view it is published in: the Leases input of Decide. It caches nothing:
// Reads.Leases does.
func ReadLeases(ctx context.Context, cfg *config.Compiled, due []int, removed []Managed, down []bool) map[int]map[string]lease.State {
	var r *Reads
	return r.Leases(ctx, cfg, due, removed, down)
}

// Leases is ReadLeases through the cache: after Served, the lease of a
// zone whose serial was unchanged is taken from the cache, and one read
// after the zone's serial is kept.
func (r *Reads) Leases(ctx context.Context, cfg *config.Compiled, due []int, removed []Managed, down []bool) map[int]map[string]lease.State {
	type vz struct {
		v    int
		zone string
	}
	var todo []vz
	seen := map[vz]bool{}
	add := func(k vz) {
		if !seen[k] {
			seen[k] = true
			todo = append(todo, k)
		}
	}
	for _, i := range due {
		for _, v := range cfg.ViewsOf(&cfg.Params[i]) {
			add(vz{v, cfg.Params[i].Zone})
		}
	}
	for _, m := range removed {
		for v := range cfg.Views {
			add(vz{v, m.Zone})
		}
	}
	states := make([]lease.State, len(todo))
	parallel(len(todo), func(n int) {
		if down[todo[n].v] {
			states[n] = lease.State{Err: health.ErrStalled}
			return
		}
		if r.fresh(todo[n].v, todo[n].zone) {
			return // presumed absent; the write requires it
		}
		view := cfg.Views[todo[n].v]
		k := keyOf(view, todo[n].zone)
		if st, ok := r.lease(k); ok {
			states[n] = st
			return
		}
		txt, err := view.Client.QueryTXT(ctx, dnsupdate.LeaseName(todo[n].zone))
		states[n] = lease.State{Records: txt, Err: err}
		if err == nil {
			r.storeLease(k, txt)
		}
	}, dnsParallel)
	out := map[int]map[string]lease.State{}
	for n, k := range todo {
		if out[k.v] == nil {
			out[k.v] = map[string]lease.State{}
		}
		out[k.v][k.zone] = states[n]
	}
	return out
}

// Report is the outcome of applying a Plan: Aliases[i] is that of
// Plan.Aliases[i].
type Report struct {
	Aliases  []AliasReport
	Removals []RemovalReport
	// Leases[view][zone] is the error of a zone's lease swap alone
	// (hand-back, take-over without records to write), nil when done.
	Leases map[int]map[string]error
}

// AliasReport is what happened to one alias's writes.
type AliasReport struct {
	// Written lists the views (indexes into Config.Views) whose update was
	// accepted and read back as planned.
	Written []int
	// Serials is each written view's zone serial after the update (when
	// it could be read).
	Serials map[int]uint32
	// Errs maps a view whose update or read-back failed to its error.
	Errs map[int]error
}

// RemovalReport is what happened to one removal: Errs by view, as in
// AliasReport (a name no longer owned there counts as removed).
type RemovalReport struct {
	Errs map[int]error
}

// Apply sends the plan's writes: one batched UPDATE per zone per view, the
// views concurrently, then reads every written name back; only while allow
// (asked just before each server's messages; nil: always) says this
// instance may still write. A server that
// was down is brought up to date when it answers again, because the plan
// diffs against what it serves. A written zone's serial is read back when
// serial says it is wanted (nil: always): for the audit log, and for a
// zone the ZoneCache knows (Reads.SerialWanted).
func Apply(ctx context.Context, cfg *config.Compiled, plan Plan, allow func() bool, serial func(view int, zone string) bool) Report {
	rep := Report{Aliases: make([]AliasReport, len(plan.Aliases)), Removals: make([]RemovalReport, len(plan.Removals)),
		Leases: map[int]map[string]error{}}
	for i := range rep.Aliases {
		rep.Aliases[i].Errs = map[int]error{}
	}
	for i := range rep.Removals {
		rep.Removals[i].Errs = map[int]error{}
	}
	perView := writesPerView(cfg, plan)
	var mu sync.Mutex
	var done []written
	parallel(len(cfg.Views), func(v int) {
		w := applyView(ctx, cfg, plan, v, perView[v], allow, &rep, &mu)
		mu.Lock()
		done = append(done, w...)
		mu.Unlock()
	}, len(cfg.Views))
	readBack(ctx, cfg, plan, done, &rep, serial)
	return rep
}

// pending is one write: of alias plan.Aliases[alias], or of removal
// plan.Removals[-alias-1].
type pending struct {
	alias int
	ch    dnsupdate.Change
}

// written is a pending write a view accepted.
type written struct {
	pending
	view int
}

// writesPerView lists, per view, the plan's writes.
func writesPerView(cfg *config.Compiled, plan Plan) [][]pending {
	perView := make([][]pending, len(cfg.Views))
	for i, ap := range plan.Aliases {
		for _, vp := range ap.Views {
			if vp.Action == Write {
				perView[vp.View] = append(perView[vp.View], pending{alias: i, ch: vp.Change})
			}
		}
	}
	for i, rp := range plan.Removals {
		for _, vp := range rp.Views {
			if vp.Action == Write {
				perView[vp.View] = append(perView[vp.View], pending{alias: -i - 1, ch: vp.Change})
			}
		}
	}
	return perView
}

// applyView sends one view's writes and lease swaps, records the failures
// in rep (under mu) and returns the accepted alias writes.
func applyView(ctx context.Context, cfg *config.Compiled, plan Plan, v int, work []pending, allow func() bool, rep *Report, mu *sync.Mutex) []written {
	// The permission to write is checked at the moment of sending, not
	// when the cycle began: a slave whose master came back meanwhile
	// writes no record (and the zone's lease fences it off as well). Its
	// hand-back (a lease release) is sent all the same: it is how the
	// master gets the zone back.
	leases := map[string]dnsupdate.Lease{}
	for zone, lp := range plan.Leases[v] {
		if lp.Write || lp.Lease.Swaps() {
			leases[zone] = lp.Lease
		}
	}
	if len(work) == 0 && !anySwap(leases) || plan.DryRun {
		return nil
	}
	if allow != nil && !allow() {
		mu.Lock()
		for _, w := range work {
			err := errors.New("not written: this instance may no longer write (the master's heartbeat is fresh again)")
			if w.alias < 0 {
				rep.Removals[-w.alias-1].Errs[v] = err
			} else {
				rep.Aliases[w.alias].Errs[v] = err
			}
		}
		mu.Unlock()
		work = nil
		for zone, lp := range plan.Leases[v] {
			if lp.Write || !lp.Lease.Swaps() {
				delete(leases, zone) // only hand-backs (releases) go out
			}
		}
		if !anySwap(leases) {
			return nil
		}
	}
	changes := make([]dnsupdate.Change, len(work))
	for n, w := range work {
		changes[n] = w.ch
	}
	outcome := cfg.Views[v].Client.ApplyFenced(ctx, changes, leases)
	mu.Lock()
	defer mu.Unlock()
	for zone, l := range leases {
		if l.Swaps() {
			if rep.Leases[v] == nil {
				rep.Leases[v] = map[string]error{}
			}
			rep.Leases[v][zone] = outcome.Zone(zone)
		}
	}
	var done []written
	for _, w := range work {
		if noteOutcome(ctx, cfg, v, w, outcome.Name(w.ch.Name), rep) {
			done = append(done, written{w, v})
		}
	}
	return done
}

// noteOutcome records in rep the outcome err of write w in view v and
// reports whether it is an alias write the server accepted.
func noteOutcome(ctx context.Context, cfg *config.Compiled, v int, w pending, err error, rep *Report) (accepted bool) {
	switch {
	case w.alias < 0:
		if errors.Is(err, dnsupdate.ErrPrerequisite) && !errors.Is(err, dnsupdate.ErrLeaseLost) {
			err = nil // no longer ours (or already gone): nothing to remove
		}
		if err != nil {
			rep.Removals[-w.alias-1].Errs[v] = fmt.Errorf("delete: %w", err)
		}
		return false
	case err != nil && w.ch.AddrsAbsent && errors.Is(err, dnsupdate.ErrPrerequisite):
		rep.Aliases[w.alias].Errs[v] = fmt.Errorf("update: %w", err) // not fresh after all: read again (Unconfirmed)
		return false
	case err != nil:
		rep.Aliases[w.alias].Errs[v] = fmt.Errorf("update: %w", explain(ctx, cfg.Views[v], err, w.ch))
		return false
	}
	return true
}

// readBack reads every accepted alias write back and records, per view,
// whether the server serves what was written.
func readBack(ctx context.Context, cfg *config.Compiled, plan Plan, done []written, rep *Report, serial func(view int, zone string) bool) {
	var mu sync.Mutex
	type viewZone struct {
		view int
		zone string
	}
	var written []viewZone
	needSerial := map[viewZone][]int{} // → the aliases written there
	parallel(len(done), func(n int) {
		w := done[n]
		v4, v6 := touched(w.ch)
		after, _, err := cfg.Views[w.view].Client.Read(ctx, plan.Aliases[w.alias].Name, v4, v6)
		mu.Lock()
		defer mu.Unlock()
		ar := &rep.Aliases[w.alias]
		switch {
		case err != nil:
			ar.Errs[w.view] = fmt.Errorf("update accepted but read-back failed: %w", err)
		case !sameAddrs(after.Addrs(), w.ch.Desired):
			ar.Errs[w.view] = explain(ctx, cfg.Views[w.view], fmt.Errorf("update accepted but server serves %v, want %v", after.Addrs(), w.ch.Desired), w.ch)
		default:
			ar.Written = append(ar.Written, w.view)
			vz := viewZone{w.view, w.ch.Zone}
			if serial != nil && !serial(w.view, w.ch.Zone) {
				return
			}
			if _, ok := needSerial[vz]; !ok {
				written = append(written, vz)
			}
			needSerial[vz] = append(needSerial[vz], w.alias)
		}
	}, dnsParallel)
	// The zone's serial after the updates (for the audit log), read once
	// per zone and view however many of its aliases were written.
	parallel(len(written), func(n int) {
		vz := written[n]
		serial, err := cfg.Views[vz.view].Client.Serial(ctx, vz.zone)
		if err != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, a := range needSerial[vz] {
			ar := &rep.Aliases[a]
			if ar.Serials == nil {
				ar.Serials = map[int]uint32{}
			}
			ar.Serials[vz.view] = serial
		}
	}, dnsParallel)
	for i := range rep.Aliases {
		slices.Sort(rep.Aliases[i].Written)
	}
}

// touched says which address families an accepted change may have
// changed (Change.Families). A family it did not touch served nothing
// before (else its addresses would be in Remove) and is not read back.
func touched(ch dnsupdate.Change) (v4, v6 bool) {
	v4, v6 = ch.Families()
	if !v4 && !v6 {
		return true, true // nothing desired nor removed: read both (a deletion)
	}
	return v4, v6
}

func anySwap(leases map[string]dnsupdate.Lease) bool {
	for _, l := range leases {
		if l.Swaps() {
			return true
		}
	}
	return false
}

// explain adds the likely cause to a failed write of ch: a CNAME at the
// name, or more records of a type than BIND accepts by default.
func explain(ctx context.Context, v *config.View, err error, ch dnsupdate.Change) error {
	if errors.Is(err, dnsupdate.ErrLeaseLost) {
		return err
	}
	if target, qerr := v.Client.CNAMETarget(ctx, ch.Name); qerr == nil && target != "" {
		return &permanentError{fmt.Errorf("%w (%s holds a CNAME to %s: no A/AAAA can coexist with it, RFC 1034 §3.6.2)", err, ch.Name, target)}
	}
	var v4, v6 int
	for _, a := range ch.Desired {
		if a.Is4() {
			v4++
		} else {
			v6++
		}
	}
	if max(v4, v6) > 100 {
		return &permanentError{fmt.Errorf("%w (the alias publishes %d A and %d AAAA records: BIND refuses more than max-records-per-type, 100 by default)", err, v4, v6)}
	}
	return err
}

// parallel runs f(0..n-1) with at most limit at once.
func parallel(n int, f func(i int), limit int) {
	if limit < 1 {
		limit = 1
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			f(i)
		}(i)
	}
	wg.Wait()
}

func sameAddrs(a, b []netip.Addr) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.SortFunc(x, netip.Addr.Compare)
	slices.SortFunc(y, netip.Addr.Compare)
	return slices.Equal(x, y)
}
