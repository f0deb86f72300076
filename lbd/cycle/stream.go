package cycle

import (
	"net/netip"

	"github.com/lbd-project/lbd/lbd/config"
)

// Waiting tracks, in a streaming cycle, which due aliases still wait for
// the poll of one of their members' addresses: an alias is complete, and
// can be decided and written, as soon as every address of its own members
// has answered or failed, whatever the other aliases wait for. It is a
// plain value: not safe for concurrent use.
type Waiting struct {
	pending []int                // per due position: addresses not answered
	byAddr  map[netip.Addr][]int // due positions whose members have the address
	addrs   []netip.Addr         // every distinct address, in first-seen order
	due     []int                // the due aliases (Config.Params indexes)
	seen    map[netip.Addr]bool  // addresses answered
}

// NewWaiting starts tracking the due aliases (Config.Params indexes) whose
// members resolved to resolved.
func NewWaiting(cfg *config.Compiled, due []int, resolved map[string][]netip.Addr) *Waiting {
	w := &Waiting{pending: make([]int, len(due)), byAddr: map[netip.Addr][]int{}, due: due, seen: map[netip.Addr]bool{}}
	for k, i := range due {
		mine := map[netip.Addr]bool{}
		for _, h := range cfg.Params[i].Members {
			for _, a := range resolved[h] {
				if mine[a] {
					continue
				}
				mine[a] = true
				if _, ok := w.byAddr[a]; !ok {
					w.addrs = append(w.addrs, a)
				}
				w.byAddr[a] = append(w.byAddr[a], k)
				w.pending[k]++
			}
		}
	}
	return w
}

// Addrs lists every distinct address to poll, each once.
func (w *Waiting) Addrs() []netip.Addr { return w.addrs }

// Ready lists the aliases (Config.Params indexes) complete before any
// answer: those with no address to poll (their members did not resolve).
func (w *Waiting) Ready() []int {
	var out []int
	for k, n := range w.pending {
		if n == 0 {
			out = append(out, w.due[k])
		}
	}
	return out
}

// Answered records that a answered (or failed for good) and returns the
// aliases (Config.Params indexes) it completes. An address answered twice,
// or not asked for, completes nothing.
func (w *Waiting) Answered(a netip.Addr) []int {
	if w.seen[a] {
		return nil
	}
	w.seen[a] = true
	var out []int
	for _, k := range w.byAddr[a] {
		if w.pending[k]--; w.pending[k] == 0 {
			out = append(out, w.due[k])
		}
	}
	return out
}
