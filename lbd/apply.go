package lbd

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"

	"github.com/lbd-project/lbd/dnsupdate"
)

// dnsParallel bounds concurrent DNS queries and zone updates per cycle.
const dnsParallel = 16

// query reads what view v serves for name, signed with the view's key
// (RFC 8945 §5.1): a server that selects views by key answers from the
// view the same key updates, and refuses nothing a key-only view allows.
func query(ctx context.Context, v *View, name string) (dnsupdate.State, error) {
	return v.Client.QuerySigned(ctx, name)
}

// ReadServed reads, for every alias of due (indexes into cfg.Params), what
// each of its views serves: the Served input of Decide.
func ReadServed(ctx context.Context, cfg *Compiled, due []int) map[string][]Served {
	out := make([][]Served, len(due))
	parallel(len(due), func(i int) {
		p := &cfg.Params[due[i]]
		views := cfg.ViewsOf(p)
		out[i] = make([]Served, len(views))
		parallel(len(views), func(k int) {
			st, err := query(ctx, cfg.Views[views[k]], p.Name)
			out[i][k] = Served{State: st, Err: err}
		}, 4)
	}, dnsParallel/4)
	m := make(map[string][]Served, len(due))
	for i, a := range due {
		m[cfg.Params[a].Name] = out[i]
	}
	return m
}

// Report is the outcome of applying a Plan: Aliases[i] is that of
// Plan.Aliases[i].
type Report struct {
	Aliases []AliasReport
}

// AliasReport is what happened to one alias's writes.
type AliasReport struct {
	// Written lists the views (indexes into Config.Views) whose update was
	// accepted and read back as planned.
	Written []int
	// Errs maps a view whose update or read-back failed to its error.
	Errs map[int]error
}

// Apply sends the plan's writes: one batched UPDATE per zone per view, the
// views concurrently, then reads every written name back. A server that
// was down is brought up to date when it answers again, because the plan
// diffs against what it serves.
func Apply(ctx context.Context, cfg *Compiled, plan Plan) Report {
	rep := Report{Aliases: make([]AliasReport, len(plan.Aliases))}
	type pending struct {
		alias int // index into plan.Aliases
		ch    dnsupdate.Change
	}
	perView := make([][]pending, len(cfg.Views))
	for i, ap := range plan.Aliases {
		rep.Aliases[i].Errs = map[int]error{}
		for _, vp := range ap.Views {
			if vp.Action == Write {
				perView[vp.View] = append(perView[vp.View], pending{alias: i, ch: vp.Change})
			}
		}
	}

	type written struct {
		pending
		view int
	}
	var mu sync.Mutex
	var done []written
	parallel(len(cfg.Views), func(v int) {
		work := perView[v]
		if len(work) == 0 {
			return
		}
		changes := make([]dnsupdate.Change, len(work))
		for n, w := range work {
			changes[n] = w.ch
		}
		outcome := cfg.Views[v].Client.ApplyEach(ctx, changes)
		mu.Lock()
		defer mu.Unlock()
		for _, w := range work {
			if err := outcome[canonicalZone(w.ch.Zone)]; err != nil {
				rep.Aliases[w.alias].Errs[v] = fmt.Errorf("update: %w", err)
				continue
			}
			done = append(done, written{w, v})
		}
	}, len(cfg.Views))

	parallel(len(done), func(n int) {
		w := done[n]
		after, err := query(ctx, cfg.Views[w.view], plan.Aliases[w.alias].Name)
		mu.Lock()
		defer mu.Unlock()
		ar := &rep.Aliases[w.alias]
		switch {
		case err != nil:
			ar.Errs[w.view] = fmt.Errorf("update accepted but read-back failed: %w", err)
		case !sameAddrs(after.Addrs(), w.ch.Desired):
			ar.Errs[w.view] = fmt.Errorf("update accepted but server serves %v, want %v", after.Addrs(), w.ch.Desired)
		default:
			ar.Written = append(ar.Written, w.view)
		}
	}, dnsParallel)
	for i := range rep.Aliases {
		slices.Sort(rep.Aliases[i].Written)
	}
	return rep
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

func canonicalZone(z string) string {
	if z == "" || z[len(z)-1] != '.' {
		return z + "."
	}
	return z
}

func sameAddrs(a, b []netip.Addr) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.SortFunc(x, netip.Addr.Compare)
	slices.SortFunc(y, netip.Addr.Compare)
	return slices.Equal(x, y)
}
