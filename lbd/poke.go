package lbd

import (
	"net"
	"time"

	"github.com/lbd-project/lbd/lbd/config"
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

// onPush handles a push notification: the aliases it names are due now.
func (d *Daemon) onPush(from *net.UDPAddr, aliases []string) {
	if n := d.Poke(aliases); n > 0 {
		d.log.WithFields(logrus.Fields{"from": from.String(), "aliases": aliases}).Debug("push: re-evaluating")
	}
}
