package lbclient

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lbd-project/lbd/checks"
)

// The evaluation engine of one round (Evaluator.Round):
//
//   - Mappings are evaluated concurrently by at most Compiled.Workers()
//     goroutines; within a mapping the steps run in order and the first
//     failure stops it (docs/protocol.md §5.2).
//   - A step is memoised for the round by its key (stepKey): the same
//     check or load (type, data, timeout) in the same context runs once per
//     round, whichever mapping reaches it first; the others wait for that
//     run and reuse its Result. The context is the root and, for checks
//     that read Env.Alias (nologin), the alias: "nologin" in the default
//     mapping and in alias "a" are different runs, "sshdaemon" in both is one.
//   - The built-in default load is memoised the same way (per root).
//   - A step abandoned as hung (timeout + HangGrace) is remembered until its
//     goroutine really returns; later rounds report CheckHung for it at once
//     instead of starting another copy, so a check stuck in the kernel (a
//     hung AFS stat) leaks one goroutine, not one per round.

// readsAlias reports whether a step's result may depend on Env.Alias (the
// registry's ReadsAlias). A type missing from the registry (a check built
// by a test, a configuration error) is shared only between mappings with
// the same alias context: safe by default.
func readsAlias(s Step) bool {
	lookup := checks.Lookup
	if s.Load {
		lookup = checks.LookupLoad
	}
	e, ok := lookup(s.Spec.Type)
	return !ok || e.ReadsAlias
}

// stepKey identifies a step's run within a round.
func stepKey(s Step, env checks.Env) string {
	typ := strings.ToLower(s.Spec.Type)
	to := s.Spec.Timeout
	if to <= 0 {
		to = DefaultTimeout
	}
	alias := env.Alias
	if !readsAlias(s) {
		alias = ""
	}
	kind := "check"
	if s.Load {
		kind = "load"
	}
	return strings.Join([]string{kind, typ, s.Spec.Data, strconv.FormatInt(int64(to), 10), env.Root, alias}, "\x00")
}

// stepResult is a memoised run.
type stepResult struct {
	done chan struct{}
	r    checks.Result
	hung bool
	dl   int // default load, for the default-load entry
}

// roundCtx is the shared state of one round; nil memo/tracker disables
// sharing (Mapping.Evaluate).
type roundCtx struct {
	mu   sync.Mutex
	memo map[string]*stepResult
	hung *hungTracker
	runs int // steps actually started, for tests
	step stepObserver
}

func newRound(h *hungTracker) *roundCtx {
	return &roundCtx{memo: map[string]*stepResult{}, hung: h}
}

// do returns the memoised result for key, running f if this is the first
// request in the round; concurrent requests wait for the first.
func (rc *roundCtx) do(ctx context.Context, key string, f func() *stepResult) *stepResult {
	if rc == nil {
		return f()
	}
	rc.mu.Lock()
	if e, ok := rc.memo[key]; ok {
		rc.mu.Unlock()
		select {
		case <-e.done:
			return e
		case <-ctx.Done():
			return &stepResult{r: checks.Result{Code: -CheckHung, Hard: true, Reason: "round interrupted"}}
		}
	}
	e := &stepResult{done: make(chan struct{})}
	rc.memo[key] = e
	rc.runs++
	rc.mu.Unlock()
	res := f()
	e.r, e.hung, e.dl = res.r, res.hung, res.dl
	close(e.done)
	return e
}

// hungTracker remembers steps whose goroutine was abandoned and has not
// returned yet.
type hungTracker struct {
	mu    sync.Mutex
	since map[string]time.Time
}

func newHungTracker() *hungTracker { return &hungTracker{since: map[string]time.Time{}} }

// still reports whether key is still running from an earlier round.
func (h *hungTracker) still(key string) (time.Time, bool) {
	if h == nil {
		return time.Time{}, false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.since[key]
	return t, ok
}

func (h *hungTracker) set(key string, t time.Time) {
	h.mu.Lock()
	h.since[key] = t
	h.mu.Unlock()
}

func (h *hungTracker) clear(key string) {
	h.mu.Lock()
	delete(h.since, key)
	h.mu.Unlock()
}

// evaluate is Mapping.Evaluate with round sharing (rc may be nil).
func (m *Mapping) evaluate(ctx context.Context, root string, defaultLoad func(string) int, rc *roundCtx) Outcome {
	env := mappingEnv(m, root)
	sum := 0
	var reasons []string
	for _, s := range m.Steps {
		key := stepKey(s, env)
		res := rc.do(ctx, key, func() *stepResult {
			var h *hungTracker
			if rc != nil {
				h = rc.hung
			}
			if since, ok := h.still(key); ok {
				return &stepResult{hung: true, r: checks.Result{Reason: fmt.Sprintf("still running since %s", since.Format(time.RFC3339))}}
			}
			start := time.Now()
			r, hung := runStep(ctx, s, env, key, h)
			rc.observe(s, r, hung, time.Since(start))
			return &stepResult{r: r, hung: hung}
		})
		if res.hung {
			reason := fmt.Sprintf("%s: %s did not return within its timeout", s.Key, s.Spec)
			if res.r.Reason != "" {
				reason += " (" + res.r.Reason + ")"
			}
			return Outcome{Metric: CheckHung, Step: s.Key, Hard: true, Reason: reason}
		}
		r := res.r
		if !r.OK {
			return Outcome{Metric: r.Metric(), Step: s.Key, Hard: r.Hard, Reason: s.Key + ": " + r.Reason}
		}
		if s.Load {
			sum += r.Load
			reasons = append(reasons, r.Reason)
		}
	}
	if sum == 0 {
		if defaultLoad == nil {
			return Outcome{Metric: 1, Reason: "no load: placeholder default load 1"}
		}
		res := rc.do(ctx, "defaultload\x00"+root, func() *stepResult { return &stepResult{dl: defaultLoad(root)} })
		return Outcome{Metric: res.dl, Reason: "default load"}
	}
	if sum > 1<<31-1 {
		sum = 1<<31 - 1
	}
	return Outcome{Metric: sum, Reason: strings.Join(reasons, " + ")}
}

// evaluateAll evaluates ms with at most workers at a time and returns the
// outcomes in the order of ms.
func evaluateAll(ctx context.Context, ms []*Mapping, workers int, root string, defaultLoad func(string) int, rc *roundCtx) []Outcome {
	outs := make([]Outcome, len(ms))
	workers = max(1, min(workers, len(ms)))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				outs[i] = ms[i].evaluate(ctx, root, defaultLoad, rc)
			}
		}()
	}
	for i := range ms {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return outs
}
