// Package history keeps, in memory, which hosts each alias published over
// time, for the status page's timelines (docs/operations.md, "Status page").
//
// It stores change points: the instant an alias's published hosts became a
// new set, and that set. Its size is bounded three ways:
//
//   - per alias at most Options.MaxChanges change points (default 2,000);
//     the oldest goes first;
//   - nothing older than Options.Window (default 24 h) except the one
//     point that says what was published when the window starts;
//   - in total at most Options.MaxBytes (default 16 MiB) as estimated by
//     Cost: 64 bytes per change point and 16 bytes plus the name's length
//     per host in it, plus 128 bytes and the name's length per alias. Over
//     that, the oldest change points of all aliases are dropped first.
//
// A History is safe for concurrent use. It does no I/O and does not log.
package history

import (
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/lbd-project/lbd/lbd/config"
)

// Defaults of Options.
const (
	DefaultWindow     = 24 * time.Hour
	DefaultMaxChanges = 2000
	DefaultMaxBytes   = 16 << 20
)

// Cost estimates (in bytes) what History counts against Options.MaxBytes.
const (
	pointCost = 64
	hostCost  = 16
	aliasCost = 128
)

// Options bound a History. Zero values take the defaults.
type Options struct {
	// Window is how far back change points are kept.
	Window time.Duration
	// MaxChanges is the most change points kept per alias.
	MaxChanges int
	// MaxBytes bounds the estimated memory of all aliases together.
	MaxBytes int
}

// Change is one change point: from At on, the alias published Hosts
// (sorted; empty when it published nothing).
type Change struct {
	At    time.Time
	Hosts []string
}

// Span is an interval during which Host was published.
type Span struct {
	Host     string
	From, To time.Time
}

// History is the membership of every alias over time.
type History struct {
	opts Options

	mu      sync.Mutex
	aliases map[string]*series
	bytes   int
	cfg     *config.Compiled // the configuration ObserveCycle last saw
}

type series struct {
	changes []Change
	bytes   int
}

// New returns an empty History bounded by o.
func New(o Options) *History {
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.MaxChanges <= 0 {
		o.MaxChanges = DefaultMaxChanges
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	return &History{opts: o, aliases: map[string]*series{}}
}

// Window is how far back the History keeps change points.
func (h *History) Window() time.Duration { return h.opts.Window }

func changeCost(c Change) int {
	n := pointCost
	for _, host := range c.Hosts {
		n += hostCost + len(host)
	}
	return n
}

// Record notes that alias published hosts at now. Only a set different from
// the last one recorded makes a change point; a now before the last change
// point is taken as that point's time (clocks may step back).
func (h *History) Record(now time.Time, alias string, hosts []string) {
	set := slices.Clone(hosts)
	sort.Strings(set)
	set = slices.Compact(set)
	if set == nil {
		set = []string{}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.aliases[alias]
	if s == nil {
		s = &series{bytes: aliasCost + len(alias)}
		h.aliases[alias] = s
		h.bytes += s.bytes
	}
	if n := len(s.changes); n > 0 {
		last := s.changes[n-1]
		if slices.Equal(last.Hosts, set) {
			h.expire(s, now)
			return
		}
		if now.Before(last.At) {
			now = last.At
		}
	}
	c := Change{At: now, Hosts: set}
	s.changes = append(s.changes, c)
	cost := changeCost(c)
	s.bytes += cost
	h.bytes += cost
	if len(s.changes) > h.opts.MaxChanges {
		h.dropOldest(s)
	}
	h.expire(s, now)
	h.enforceBudget(s)
}

// dropOldest removes s's first change point.
func (h *History) dropOldest(s *series) {
	cost := changeCost(s.changes[0])
	s.changes[0] = Change{}
	s.changes = s.changes[1:]
	s.bytes -= cost
	h.bytes -= cost
}

// expire drops the change points that ended before now - Window: a point
// stays while the next one starts after the window's start, since it says
// what was published then.
func (h *History) expire(s *series, now time.Time) {
	start := now.Add(-h.opts.Window)
	for len(s.changes) > 1 && !s.changes[1].At.After(start) {
		h.dropOldest(s)
	}
}

// enforceBudget drops the oldest change points, of whichever alias, until
// the total is within MaxBytes; keep's newest point stays.
func (h *History) enforceBudget(keep *series) {
	for h.bytes > h.opts.MaxBytes {
		var oldest *series
		for _, s := range h.aliases {
			if len(s.changes) == 0 || (s == keep && len(s.changes) == 1) {
				continue
			}
			if oldest == nil || s.changes[0].At.Before(oldest.changes[0].At) {
				oldest = s
			}
		}
		if oldest == nil {
			return
		}
		h.dropOldest(oldest)
	}
}

// Forget drops every alias not in keep (an alias the configuration no
// longer has).
func (h *History) Forget(keep map[string]bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for name, s := range h.aliases {
		if !keep[name] {
			h.bytes -= s.bytes
			delete(h.aliases, name)
		}
	}
}

// Changes returns a copy of alias's change points, oldest first.
func (h *History) Changes(alias string) []Change {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.aliases[alias]
	if s == nil {
		return nil
	}
	out := make([]Change, len(s.changes))
	for i, c := range s.changes {
		out[i] = Change{At: c.At, Hosts: slices.Clone(c.Hosts)}
	}
	return out
}

// Bytes is the estimated memory held (what MaxBytes bounds).
func (h *History) Bytes() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.bytes
}

// Spans returns, for alias, the intervals within [from, to] during which
// each host was published, sorted by host then start. The last change
// point's hosts are taken as published until to. Time before the first
// change point is unknown and has no span.
func (h *History) Spans(alias string, from, to time.Time) []Span {
	if !to.After(from) {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var changes []Change
	if s := h.aliases[alias]; s != nil {
		changes = s.changes
	}
	open := map[string]time.Time{} // host → start of its running span
	var spans []Span
	closeSpan := func(host string, at time.Time) {
		start := open[host]
		delete(open, host)
		if start.Before(from) {
			start = from
		}
		if at.After(to) {
			at = to
		}
		if at.After(start) {
			spans = append(spans, Span{Host: host, From: start, To: at})
		}
	}
	var prev []string
	for _, c := range changes {
		if c.At.After(to) {
			break
		}
		for _, host := range prev {
			if _, found := slices.BinarySearch(c.Hosts, host); !found {
				closeSpan(host, c.At)
			}
		}
		for _, host := range c.Hosts {
			if _, ok := open[host]; !ok {
				open[host] = c.At
			}
		}
		prev = c.Hosts
	}
	for _, host := range prev {
		closeSpan(host, to)
	}
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].Host != spans[j].Host {
			return spans[i].Host < spans[j].Host
		}
		return spans[i].From.Before(spans[j].From)
	})
	return spans
}

// First is the time of alias's oldest change point kept: the history
// says nothing about before it.
func (h *History) First(alias string) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s := h.aliases[alias]; s != nil && len(s.changes) > 0 {
		return s.changes[0].At, true
	}
	return time.Time{}, false
}
