package lbd

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/lbd-project/lbd/lbd/config"
)

// Per-server isolation (docs/design.md §8): every DNS server (and view) is
// read by its own workers; a server that answers none of a cycle's reads
// for [dns] stall is cut off for that cycle, marked down, and then only
// probed (one read, with backoff) until it answers again, so a dead or
// slow server never holds up the others.

// ServerHealth is what lbd knows of one DNS server (view).
type ServerHealth struct {
	Down      bool      `json:"down"`
	Since     time.Time `json:"since,omitzero"` // when it went down or came back
	NextProbe time.Time `json:"next_probe,omitzero"`
	Failures  int       `json:"failures,omitempty"` // cycles in a row it was down
	LastErr   string    `json:"last_error,omitempty"`
}

// readMode is how a cycle reads one server.
type readMode int

const (
	readAll   readMode = iota // an up server: every alias
	readProbe                 // a down server due for a probe: one alias first
	readSkip                  // a down server between probes: nothing
)

// maxProbeBackoff bounds the wait between two probes of a down server.
const maxProbeBackoff = time.Minute

// readModes says how to read each view at now (pure).
func readModes(now time.Time, cfg *config.Compiled, health map[string]ServerHealth) []readMode {
	modes := make([]readMode, len(cfg.Views))
	for v, view := range cfg.Views {
		h := health[view.String()]
		switch {
		case !h.Down:
			modes[v] = readAll
		case !now.Before(h.NextProbe):
			modes[v] = readProbe
		default:
			modes[v] = readSkip
		}
	}
	return modes
}

// viewOutcome is how a cycle's reads of one view went.
type viewOutcome struct {
	attempted, answered int
	stalled             bool
	err                 error // one of the failures
}

// nextHealth is a view's health after a cycle's reads (pure): down when
// it was read and answered nothing, with a probe after a backoff doubling
// per cycle (1 s to a minute); up again as soon as it answers.
func nextHealth(now time.Time, prev ServerHealth, mode readMode, out viewOutcome) ServerHealth {
	switch {
	case mode == readSkip || out.attempted == 0:
		return prev
	case out.answered > 0:
		if prev.Down {
			return ServerHealth{Since: now}
		}
		return prev
	}
	next := prev
	if !prev.Down {
		next.Down, next.Since, next.Failures = true, now, 0
	}
	next.Failures++
	next.NextProbe = now.Add(min(time.Second<<min(next.Failures-1, 10), maxProbeBackoff))
	if out.err != nil {
		next.LastErr = out.err.Error()
	}
	return next
}

// errServerDown is the read error of a server skipped between probes.
type errServerDown struct{ h ServerHealth }

func (e errServerDown) Error() string {
	return fmt.Sprintf("server down since %s (%s); next probe %s", e.h.Since.UTC().Format(time.RFC3339), e.h.LastErr,
		e.h.NextProbe.UTC().Format(time.RFC3339))
}

// errStalled is the read error of a server cut off for this cycle.
var errStalled = errors.New("server stalled: no answer within [dns] stall, cut off for this cycle")

// stallGuard cancels a view's reads when none completes for stall.
type stallGuard struct {
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	last   time.Time
	done   chan struct{}
	cut    bool
}

func newStallGuard(parent context.Context, stall time.Duration) *stallGuard {
	ctx, cancel := context.WithCancel(parent)
	g := &stallGuard{ctx: ctx, cancel: cancel, last: time.Now(), done: make(chan struct{})}
	go func() {
		t := time.NewTicker(max(stall/4, 10*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-g.done:
				return
			case <-ctx.Done():
				return
			case now := <-t.C:
				g.mu.Lock()
				idle := now.Sub(g.last)
				if idle >= stall {
					g.cut = true
				}
				g.mu.Unlock()
				if idle >= stall {
					cancel()
					return
				}
			}
		}
	}()
	return g
}

// progress records an answer.
func (g *stallGuard) progress() {
	g.mu.Lock()
	g.last = time.Now()
	g.mu.Unlock()
}

// stop ends the guard; it reports whether it cut the reads off.
func (g *stallGuard) stop() bool {
	close(g.done)
	g.cancel()
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cut
}

// downViews marks the views that gave nothing this cycle: skipped, or read
// without a single answer (the cycle does not try them again).
func downViews(modes []readMode, outcomes []viewOutcome) []bool {
	down := make([]bool, len(modes))
	for v := range modes {
		down[v] = modes[v] == readSkip || outcomes[v].attempted > 0 && outcomes[v].answered == 0
	}
	return down
}
