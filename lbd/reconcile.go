package lbd

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/lbd-project/lbd/dnsupdate"
	"github.com/lbd-project/lbd/lbd/snmp"
)

// dnsParallel bounds concurrent DNS queries and zone updates per cycle.
const dnsParallel = 16

// view is one DNS server seen with one key: the internal view (unsigned
// reads) or the external view (reads signed with the external key, so the
// server picks that view).
type view struct {
	server   string
	external bool
	c        *dnsupdate.Client
}

func (v view) String() string {
	if v.external {
		return v.server + " (external view)"
	}
	return v.server
}

func (v view) query(ctx context.Context, name string) (dnsupdate.State, error) {
	if v.external {
		return v.c.QuerySigned(ctx, name)
	}
	return v.c.Query(ctx, name)
}

// reconcile selects the hosts of every due alias and brings every DNS server
// (and external view) to that selection on its own: it reads each server's
// records, diffs, sends one batched UPDATE per zone per server, and reads
// the changed names back. A server that was down is brought up to date when
// it answers again, because the diff is against what it serves.
func (d *Daemon) reconcile(ctx context.Context, cfg *Config, due []Params, resolved map[string][]netip.Addr,
	replies map[netip.Addr]snmp.Reply, mayWrite bool) []AliasResult {
	var views []view
	for _, srv := range cfg.DNSServers() {
		views = append(views, view{server: srv, c: client(cfg, srv, *cfg.DNS.InternalKey)})
	}
	var extViews []view
	if cfg.DNS.ExternalKey != nil {
		for _, srv := range cfg.DNSServers() {
			extViews = append(extViews, view{server: srv, external: true, c: client(cfg, srv, *cfg.DNS.ExternalKey)})
		}
	}
	viewsOf := func(p Params) []view {
		if p.External {
			return append(append([]view(nil), views...), extViews...)
		}
		return views
	}

	res := make([]AliasResult, len(due))
	// states[i][j]: what view j of alias i serves now.
	type state struct {
		st  dnsupdate.State
		err error
	}
	states := make([][]state, len(due))
	for i, p := range due {
		res[i] = AliasResult{Alias: p.Name, Servers: map[string]error{}}
		for _, h := range p.Members {
			res[i].Members = append(res[i].Members, MemberFor(p.Name, h, resolved[h], replies))
		}
		states[i] = make([]state, len(viewsOf(p)))
	}

	// 1. Read every view of every alias (bounded concurrency).
	parallel(len(due), func(i int) {
		vs := viewsOf(due[i])
		parallel(len(vs), func(j int) {
			st, err := vs[j].query(ctx, due[i].Name)
			states[i][j] = state{st, err}
		}, 4)
	}, dnsParallel/4)

	// 2. Select, on what the first answering internal view publishes, and
	// diff every view.
	type pending struct {
		alias int
		view  int
		ch    dnsupdate.Change
	}
	perView := map[string][]pending{}
	for i, p := range due {
		vs := viewsOf(p)
		var published []netip.Addr
		found := false
		for j := range views {
			if states[i][j].err == nil {
				published, found = states[i][j].st.Addrs(), true
				break
			}
		}
		for j, v := range vs {
			if err := states[i][j].err; err != nil {
				res[i].Servers[v.String()] = fmt.Errorf("read current records: %w", err)
			}
		}
		if !found {
			continue // every internal view failed: nothing to decide on
		}
		res[i].Decided = true
		res[i].Decision = Select(Input{Alias: p.Name, BestHosts: p.BestHosts, Fallback: p.Fallback,
			Hysteresis: p.Hysteresis, Members: res[i].Members, Published: published})
		if res[i].Decision.Keep {
			continue
		}
		ttl := uint32(p.TTL / time.Second)
		for j, v := range vs {
			if states[i][j].err != nil {
				continue
			}
			ch := dnsupdate.Diff(p.Zone, p.Name, states[i][j].st, res[i].Decision.Addrs, ttl)
			if j == 0 {
				res[i].Change = ch
			}
			if ch.Empty() {
				continue
			}
			if d.DryRun {
				fmt.Fprintf(d.Out, "; alias %s on %s: %s\n%s\n", p.Name, v, res[i].Decision, ch)
				continue
			}
			if !mayWrite {
				res[i].Passive++
				d.log.WithFields(logrus.Fields{"alias": p.Name, "server": v.String(), "change": ch.String()}).
					Debug("slave passive: not writing")
				continue
			}
			perView[v.String()] = append(perView[v.String()], pending{alias: i, view: j, ch: ch})
		}
	}

	// 3. One batched UPDATE per zone per view; views concurrently.
	allViews := append(append([]view(nil), views...), extViews...)
	var mu sync.Mutex
	var written []pending
	parallel(len(allViews), func(k int) {
		v := allViews[k]
		work := perView[v.String()]
		if len(work) == 0 {
			return
		}
		changes := make([]dnsupdate.Change, len(work))
		for n, w := range work {
			changes[n] = w.ch
		}
		outcome := v.c.ApplyEach(ctx, changes)
		mu.Lock()
		defer mu.Unlock()
		for _, w := range work {
			if err := outcome[canonicalZone(w.ch.Zone)]; err != nil {
				res[w.alias].Servers[v.String()] = fmt.Errorf("update: %w", err)
				continue
			}
			written = append(written, w)
		}
	}, len(allViews))

	// 4. Read back what was written.
	parallel(len(written), func(n int) {
		w := written[n]
		v := viewsOf(due[w.alias])[w.view]
		after, err := v.query(ctx, due[w.alias].Name)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err != nil:
			res[w.alias].Servers[v.String()] = fmt.Errorf("update accepted but read-back failed: %w", err)
		case !sameAddrs(after.Addrs(), w.ch.Desired):
			res[w.alias].Servers[v.String()] = fmt.Errorf("update accepted but server serves %v, want %v", after.Addrs(), w.ch.Desired)
		default:
			res[w.alias].Wrote = true
			d.log.WithFields(logrus.Fields{"alias": due[w.alias].Name, "zone": due[w.alias].Zone, "server": v.String(),
				"hosts": res[w.alias].Decision.Hosts, "change": w.ch.String()}).Info("DNS updated")
		}
	}, dnsParallel)

	for i := range res {
		var errs []error
		for _, v := range viewsOf(due[i]) {
			if err := res[i].Servers[v.String()]; err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", v, err))
				d.log.WithFields(logrus.Fields{"alias": res[i].Alias, "server": v.String()}).Error(err)
			}
		}
		if len(errs) > 0 {
			res[i].Err = fmt.Errorf("alias %s: %w", res[i].Alias, errors.Join(errs...))
		}
	}
	return res
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
