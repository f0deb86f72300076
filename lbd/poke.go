package lbd

import (
	"net"
	"net/netip"
	"time"

	"github.com/lbd-project/lbd/lbd/config"
	"github.com/lbd-project/lbd/lbd/push"
	"github.com/lbd-project/lbd/lbd/status"
	"github.com/sirupsen/logrus"
)

// Poke makes the named aliases due now and wakes the cycle loop. Unknown
// names are ignored. It returns how many aliases it made due.
func (d *Daemon) Poke(aliases []string) int {
	d.mu.Lock()
	n := d.markDueLocked(aliases)
	d.mu.Unlock()
	if n > 0 {
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
	return n
}

// markDueLocked makes the named aliases due now (unknown names are
// ignored) and returns how many; d.mu is held.
func (d *Daemon) markDueLocked(aliases []string) int {
	n := 0
	for _, a := range aliases {
		if st, ok := d.aliases[config.NormName(a)]; ok {
			st.sched.NextDue, st.sched.Poked = time.Time{}, true
			n++
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

// onPush handles a push notification (package push): the aliases it
// admits are made due now, the coalesced ones at the end of their
// push_min_interval.
func (d *Daemon) onPush(from *net.UDPAddr, aliases []string) {
	now := time.Now()
	addr, _ := netip.AddrFromSlice(from.IP)
	d.mu.Lock()
	lbdCfg := d.cfg.LBD
	allowed, configured := lbdCfg.PushAllowed(addr)
	if !configured {
		allowed = d.isMemberAddr(addr)
	}
	var known []string
	for _, a := range aliases {
		if name := config.NormName(a); d.aliases[name] != nil {
			known = append(known, name)
		}
	}
	v := d.push.Admit(now, allowed, known, push.Limits{MinInterval: lbdCfg.PushMinInterval.Duration, MaxRate: lbdCfg.PushMaxRate})
	for name, next := range v.Later {
		if st := d.aliases[name]; st.sched.NextDue.After(next) {
			st.sched.NextDue = next
		}
	}
	d.mu.Unlock()
	if n := d.Poke(v.Due); n > 0 {
		d.log.WithFields(logrus.Fields{"from": from.String(), "aliases": v.Due}).Debug("push: re-evaluating")
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
	return d.push.Stats()
}
