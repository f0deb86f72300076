package health

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/lbd-project/lbd/lbd/config"
)

// Server is what lbd knows of one DNS server (view).
type Server struct {
	Down      bool      `json:"down"`
	Since     time.Time `json:"since,omitzero"` // when it went down or came back
	NextProbe time.Time `json:"next_probe,omitzero"`
	Failures  int       `json:"failures,omitempty"` // cycles in a row it was down
	LastErr   string    `json:"last_error,omitempty"`
}

// Mode is how a cycle reads one server.
type Mode int

const (
	ReadAll   Mode = iota // an up server: every alias
	ReadProbe             // a down server due for a probe: one alias first
	ReadSkip              // a down server between probes: nothing
)

// MaxProbeBackoff bounds the wait between two probes of a down server.
const MaxProbeBackoff = time.Minute

// Modes says how to read each view at now (pure).
func Modes(now time.Time, cfg *config.Compiled, health map[string]Server) []Mode {
	modes := make([]Mode, len(cfg.Views))
	for v, view := range cfg.Views {
		h := health[view.String()]
		switch {
		case !h.Down:
			modes[v] = ReadAll
		case !now.Before(h.NextProbe):
			modes[v] = ReadProbe
		default:
			modes[v] = ReadSkip
		}
	}
	return modes
}

// Outcome is how a cycle's reads of one view went.
type Outcome struct {
	Attempted, Answered int
	Stalled             bool
	Err                 error // one of the failures
}

// Next is a view's health after a cycle's reads (pure): down when
// it was read and answered nothing, with a probe after a backoff doubling
// per cycle (1 s to a minute); up again as soon as it answers.
func Next(now time.Time, prev Server, mode Mode, out Outcome) Server {
	switch {
	case mode == ReadSkip || out.Attempted == 0:
		return prev
	case out.Answered > 0:
		if prev.Down {
			return Server{Since: now}
		}
		return prev
	}
	next := prev
	if !prev.Down {
		next.Down, next.Since, next.Failures = true, now, 0
	}
	next.Failures++
	next.NextProbe = now.Add(min(time.Second<<min(next.Failures-1, 10), MaxProbeBackoff))
	if out.Err != nil {
		next.LastErr = out.Err.Error()
	}
	return next
}

// ErrDown is the read error of a server skipped between probes.
type ErrDown struct{ H Server }

func (e ErrDown) Error() string {
	return fmt.Sprintf("server down since %s (%s); next probe %s", e.H.Since.UTC().Format(time.RFC3339), e.H.LastErr,
		e.H.NextProbe.UTC().Format(time.RFC3339))
}

// ErrStalled is the read error of a server cut off for this cycle.
var ErrStalled = errors.New("server stalled: no answer within [dns] stall, cut off for this cycle")

// Guard cancels a view's reads when none completes for stall.
type Guard struct {
	// Ctx is cancelled when the reads stall.
	Ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	last   time.Time
	done   chan struct{}
	cut    bool
}

func NewGuard(parent context.Context, stall time.Duration) *Guard {
	ctx, cancel := context.WithCancel(parent)
	g := &Guard{Ctx: ctx, cancel: cancel, last: time.Now(), done: make(chan struct{})}
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
func (g *Guard) Progress() {
	g.mu.Lock()
	g.last = time.Now()
	g.mu.Unlock()
}

// stop ends the guard; it reports whether it cut the reads off.
func (g *Guard) Stop() bool {
	close(g.done)
	g.cancel()
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cut
}

// DownViews marks the views that gave nothing this cycle: skipped, or read
// without a single answer (the cycle does not try them again).
func DownViews(modes []Mode, outcomes []Outcome) []bool {
	down := make([]bool, len(modes))
	for v := range modes {
		down[v] = modes[v] == ReadSkip || outcomes[v].Attempted > 0 && outcomes[v].Answered == 0
	}
	return down
}
