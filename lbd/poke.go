package lbd

import (
	"net"
	"net/netip"
	"time"

	"github.com/lbd-project/lbd/lbd/config"
	"github.com/lbd-project/lbd/lbd/status"
	"github.com/sirupsen/logrus"
)

// Poke makes the named aliases due now and wakes the cycle loop. Unknown
// names are ignored. It returns how many aliases it made due.
func (d *Daemon) Poke(aliases []string) int {
	d.mu.Lock()
	n := 0
	for _, a := range aliases {
		if st, ok := d.aliases[config.NormName(a)]; ok {
			st.sched.NextDue, st.sched.Poked = time.Time{}, true
			n++
		}
	}
	d.mu.Unlock()
	if n > 0 {
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
	return n
}

// pokeAll makes every alias due now and wakes the cycle loop.
func (d *Daemon) pokeAll() {
	d.mu.Lock()
	names := make([]string, 0, len(d.aliases))
	for n := range d.aliases {
		names = append(names, n)
	}
	d.mu.Unlock()
	d.Poke(names)
}

// pushState is the push rate limiter's state.
type pushState struct {
	last   map[string]time.Time // alias → last push-triggered evaluation
	window time.Time            // start of the current one-second window
	inWin  int                  // evaluations in it
	stats  status.PushStats
}

// onPush handles a push notification (docs/design.md §7): a source not
// allowed is ignored; each alias named is made due at once, unless it was
// pushed less than push_min_interval ago (then it is due at the end of that
// interval: pushes are coalesced) or push_max_rate evaluations were made in
// this second (counted, not acted on: the next polling interval catches
// up). A push is only a hint: lbd polls the members itself.
func (d *Daemon) onPush(from *net.UDPAddr, aliases []string) {
	now := time.Now()
	addr, _ := netip.AddrFromSlice(from.IP)
	d.mu.Lock()
	lbdCfg := d.cfg.LBD
	allowed, configured := lbdCfg.PushAllowed(addr)
	if !configured {
		allowed = d.isMemberAddr(addr)
	}
	ps := &d.push
	if !allowed {
		ps.stats.Rejected++
		d.mu.Unlock()
		return
	}
	if ps.last == nil {
		ps.last = map[string]time.Time{}
	}
	if now.Sub(ps.window) >= time.Second {
		ps.window, ps.inWin = now, 0
	}
	var due []string
	for _, a := range aliases {
		name := config.NormName(a)
		st, ok := d.aliases[name]
		if !ok {
			continue
		}
		switch {
		case now.Sub(ps.last[name]) < lbdCfg.PushMinInterval.Duration:
			ps.stats.Coalesced++
			if next := ps.last[name].Add(lbdCfg.PushMinInterval.Duration); st.sched.NextDue.After(next) {
				st.sched.NextDue = next
			}
		case ps.inWin >= lbdCfg.PushMaxRate:
			ps.stats.RateLimited++
		default:
			ps.inWin++
			ps.last[name] = now
			ps.stats.Accepted++
			due = append(due, name)
		}
	}
	d.mu.Unlock()
	if n := d.Poke(due); n > 0 {
		d.log.WithFields(logrus.Fields{"from": from.String(), "aliases": due}).Debug("push: re-evaluating")
	}
}

// isMemberAddr reports whether a is an address of a configured member, as
// last resolved. Called with d.mu held.
func (d *Daemon) isMemberAddr(a netip.Addr) bool {
	a = a.Unmap()
	for _, st := range d.aliases {
		for _, m := range st.members {
			for _, x := range m.All {
				if x.Unmap() == a {
					return true
				}
			}
		}
	}
	return false
}

// PushStats returns the push counters.
func (d *Daemon) PushStats() status.PushStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.push.stats
}
