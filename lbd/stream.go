package lbd

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/lbd-project/lbd/lbd/config"
	"github.com/lbd-project/lbd/lbd/cycle"
	"github.com/lbd-project/lbd/lbd/snmp"
)

// A cycle's aliases are polled in streams (docs/design.md §8): the first
// holds the aliases due when the cycle starts; while aliases of the cycle
// still wait for their polls, a push or poke starts another, of the
// aliases due then (pokedStream). Each stream's aliases go to one readyQueue as their
// own polls complete, and the cycle decides them in batches, one stream's
// aliases to a batch, in its own goroutine: no two batches are ever
// written at once.

// maxStreams bounds the streams of one cycle: past it, a poke waits for
// the cycle's end.
const maxStreams = 16

// stream is a set of due aliases of a cycle polled together.
type stream struct {
	in    cycle.Input // Due: the stream's aliases (Resolved: see resolved)
	first bool        // the cycle's first stream: its first batch plans the removals
	hosts int         // members to poll

	// Of the cycle's goroutine only:
	pending map[int]bool // aliases not decided yet (Config.Params indexes)
	batched bool         // a batch of it was decided

	// Set by runStream under mu (addrs and replies are read without it
	// once polled has been received):
	mu       sync.Mutex
	resolved map[string][]netip.Addr // the members' addresses, before the first push
	waiting  *cycle.Waiting
	replies  map[netip.Addr]snmp.Reply
	addrs    int            // distinct addresses polled
	polled   chan time.Time // receives the moment every poll is done
}

func newStream(in cycle.Input, first bool) *stream {
	pending := make(map[int]bool, len(in.Due))
	for _, i := range in.Due {
		pending[i] = true
	}
	return &stream{in: in, first: first, pending: pending,
		replies: map[netip.Addr]snmp.Reply{}, polled: make(chan time.Time, 1)}
}

// runStream resolves the stream's members (resolve), polls every address
// once and pushes each alias to q once all of its addresses answered or
// failed; s.polled then gets the time. The addresses that answered their
// last poll, and those that did not (splitSilent), are polled side by
// side, each with its own polls in flight: silent addresses cost their own
// aliases one deadline, not the answering members a place in the queue
// behind them.
func (d *Daemon) runStream(ctx context.Context, s *stream, poller Poller, resolve func() map[string][]netip.Addr, q *readyQueue) {
	resolved := resolve()
	s.mu.Lock()
	s.resolved = resolved
	s.waiting = cycle.NewWaiting(s.in.Config, s.in.Due, resolved)
	addrs := s.waiting.Addrs()
	s.addrs = len(addrs)
	ready := s.waiting.Ready()
	s.mu.Unlock()
	q.push(s, ready)
	answering, silent := d.splitSilent(addrs)
	poll := func(list []netip.Addr, limit int, wg *sync.WaitGroup) {
		defer wg.Done()
		poller.PollEach(ctx, list, limit, func(k int, r snmp.Reply) {
			s.mu.Lock()
			s.replies[list[k]] = r
			complete := s.waiting.Answered(list[k])
			s.mu.Unlock()
			q.push(s, complete)
		})
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go poll(answering, 0, &wg)
	go poll(silent, min(len(silent), maxSilentInFlight), &wg)
	wg.Wait()
	s.polled <- time.Now()
}

// input is the stream's cycle.Input for a batch of its aliases (their
// replies so far, which are complete).
func (s *stream) input(batch []int) cycle.Input {
	for _, i := range batch {
		delete(s.pending, i)
	}
	cfg := s.in.Config
	part := make(map[netip.Addr]snmp.Reply)
	s.mu.Lock()
	for _, i := range batch {
		for _, h := range cfg.Params[i].Members {
			for _, a := range s.resolved[h] {
				part[a] = s.replies[a]
			}
		}
	}
	resolved := s.resolved
	s.mu.Unlock()
	in := s.in
	in.Due, in.Replies, in.Resolved = batch, part, resolved
	return in
}

// takeRemovals says whether the next batch plans the removals: the first
// batch of the cycle's first stream.
func (s *stream) takeRemovals() bool {
	r := s.first && !s.batched
	s.batched = true
	return r
}

// waitingFor reports whether alias i is of the stream and not decided yet.
func (s *stream) waitingFor(i int) bool { return s.pending[i] }

// pokedStream starts a stream of the aliases due now (a push or poke made
// them due) that no stream of the cycle still waits for; nil when there is
// none. static is the configuration the cycle began with and base its
// first input: the stream decides as of now, with the schedules, known
// servings and registered members of now. After a reload or a change of
// role since the cycle began it starts nothing: the pokes stay for the
// next cycle, which starts from the new configuration or role (Cycle wakes
// the loop again).
func (d *Daemon) pokedStream(ctx context.Context, static *config.Compiled, base cycle.Input,
	streams []*stream, poller Poller, q *readyQueue) *stream {
	if d.mayWriteNow() != base.MayWrite {
		return nil
	}
	cfg, regAddrs := d.withRegistered(static)
	now := time.Now()
	d.mu.Lock()
	if d.cfg != static {
		d.mu.Unlock()
		return nil
	}
	// An alias a stream still waits for is decided by that stream; a poke
	// of it stays (Reschedule keeps it) for the next cycle.
	due, sched, known := d.takeDueLocked(cfg, now, false, func(i int) bool {
		return slices.ContainsFunc(streams, func(s *stream) bool { return s.waitingFor(i) })
	})
	d.mu.Unlock()
	if len(due) == 0 {
		return nil
	}
	in := base
	in.Now, in.Config, in.Schedule, in.Known, in.Due, in.All = now, cfg, sched, known, due, false
	s := newStream(in, false)
	hosts, registered := memberHosts(static, cfg, due, regAddrs)
	s.hosts = len(hosts) + len(registered)
	go d.runStream(ctx, s, poller, func() map[string][]netip.Addr { return d.resolveMembers(ctx, poller, hosts, registered) }, q)
	return s
}

// readyQueue gathers, from every stream of a cycle, the aliases whose
// polls are complete.
type readyQueue struct {
	mu     sync.Mutex
	items  []readyItem
	signal chan struct{} // one pending signal: items were pushed
}

type readyItem struct {
	s     *stream
	alias int
}

func newReadyQueue() *readyQueue { return &readyQueue{signal: make(chan struct{}, 1)} }

func (q *readyQueue) push(s *stream, aliases []int) {
	if len(aliases) == 0 {
		return
	}
	q.mu.Lock()
	for _, i := range aliases {
		q.items = append(q.items, readyItem{s, i})
	}
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

func (q *readyQueue) take() []readyItem {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.items
	q.items = nil
	return out
}

// collect waits for at least one alias to be complete, then gathers those
// completed within batchLinger, up to want in all; or returns at once,
// poked, with what is there when wake (nil: never) fires first.
func (q *readyQueue) collect(want int, wake <-chan struct{}) (items []readyItem, poked bool) {
	for len(items) == 0 {
		select {
		case <-q.signal:
			items = q.take()
		case <-wake:
			return q.take(), true
		}
	}
	linger := time.NewTimer(batchLinger)
	defer linger.Stop()
	for len(items) < want {
		select {
		case <-q.signal:
			items = append(items, q.take()...)
		case <-linger.C:
			return items, false
		}
	}
	return items, false
}

// streamBatch is the part of a collect of one stream, sorted.
type streamBatch struct {
	s       *stream
	aliases []int
}

// byStream splits items by stream, in the order the streams first appear.
func byStream(items []readyItem) []streamBatch {
	var out []streamBatch
	for _, it := range items {
		k := slices.IndexFunc(out, func(b streamBatch) bool { return b.s == it.s })
		if k < 0 {
			out = append(out, streamBatch{s: it.s})
			k = len(out) - 1
		}
		out[k].aliases = append(out[k].aliases, it.alias)
	}
	for _, b := range out {
		slices.Sort(b.aliases)
	}
	return out
}
