package renderer

import (
	"context"
	"slices"
	"time"

	"github.com/lbd-project/lbd/lbd"
	"github.com/lbd-project/lbd/lbd/config"
	"github.com/lbd-project/lbd/lbd/render"
	"github.com/lbd-project/lbd/lbd/status"
)

// Source is what the renderer reads membership from (*lbd.Daemon).
type Source interface {
	Snapshot() status.Snapshot
}

// Round is one pass over the targets of a configuration.
type Round struct {
	At time.Time
	// Pending names the aliases without a decision yet, or whose
	// fallback keep fired before anything was rendered: nothing was
	// rendered (Results is empty), so that a proxy is not emptied before
	// lbd knows what DNS publishes.
	Pending []string
	Results []render.Result
}

// Renderer is an lbd.Observer; Run does the work.
type Renderer struct {
	src    Source
	report func(Round)
	kick   chan *config.Compiled
	// reload names the outputs whose last reload failed: it is retried
	// in the next round even when the content is unchanged.
	reload map[string]bool
	// last is the data of the last round that rendered (CarryKept).
	last *render.Data
}

// New returns a renderer reading src and handing every round to report
// (called from Run's goroutine).
func New(src Source, report func(Round)) *Renderer {
	return &Renderer{src: src, report: report, kick: make(chan *config.Compiled, 1), reload: map[string]bool{}}
}

// ObserveCycle implements lbd.Observer: it asks Run for a round with cfg,
// replacing a request Run has not taken yet. It does not block.
func (r *Renderer) ObserveCycle(_ time.Time, cfg *config.Compiled, _ lbd.CycleReport) {
	if len(cfg.Renders) == 0 {
		return
	}
	for {
		select {
		case r.kick <- cfg:
			return
		default:
		}
		select {
		case <-r.kick: // drop the older request
		default:
		}
	}
}

// Run does a round for every request until ctx ends.
func (r *Renderer) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case cfg := <-r.kick:
			r.report(r.Once(ctx, cfg))
		}
	}
}

// Once does one round over cfg's targets now (Run's step, also for tests;
// not concurrently with Run).
func (r *Renderer) Once(ctx context.Context, cfg *config.Compiled) Round {
	snap := r.src.Snapshot()
	data, pending := FromSnapshot(snap)
	data, unknown := CarryKept(r.last, data)
	pending = append(pending, unknown...)
	slices.Sort(pending)
	round := Round{At: snap.At, Pending: slices.Compact(pending)}
	if len(round.Pending) > 0 {
		return round
	}
	r.last = &data
	live := map[string]bool{}
	for _, t := range cfg.Renders {
		live[t.Output] = true
		res := t.Apply(ctx, data, r.reload[t.Output])
		r.reload[t.Output] = res.Stage == render.Reload
		round.Results = append(round.Results, res)
	}
	for out := range r.reload {
		if !live[out] {
			delete(r.reload, out)
		}
	}
	return round
}
