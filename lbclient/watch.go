package lbclient

import (
	"context"
	"path/filepath"
	"slices"
	"strings"

	"github.com/lbd-project/lbd/checks"
)

// Immediate reaction to file-driven checks (issue 13 item 3).
//
// A check whose registry entry has WatchPaths (nologin, roger, reboot)
// depends only on files. The agent watches the directories of those files
// (watch_linux.go, inotify(7)) and, when one of them changes, calls
// Evaluator.Touch with the changed paths; Loop then runs at once a round of
// only the mappings with a step reading one of them (RoundChanged), the
// other mappings keeping their last outcome. A usability change found by
// that round is pushed like any other (push.go). The interval rounds go on
// unchanged: they remain the fallback where inotify is unavailable and for
// what a directory watch cannot see (a directory above the file replaced
// by a symbolic link; a file that is a link has its targets' directories
// watched, watch_linux.go).

// stepWatchPaths lists the files step s of a mapping evaluated in env
// reads (cleaned absolute paths), or nil when it is not file-driven.
func stepWatchPaths(s Step, env checks.Env) []string {
	if s.Load || s.Check == nil {
		return nil
	}
	e, ok := checks.Lookup(s.Spec.Type)
	if !ok || e.WatchPaths == nil {
		return nil
	}
	var out []string
	for _, p := range e.WatchPaths(s.Spec, env) {
		if abs, err := filepath.Abs(p); err == nil {
			out = append(out, abs)
		}
	}
	return out
}

// mappingEnv is the checks.Env a mapping is evaluated with (evaluate).
func mappingEnv(m *Mapping, root string) checks.Env {
	env := checks.Env{Root: root}
	if !m.Default {
		env.Alias = m.Name
	}
	return env
}

// mappingWatchPaths lists the files the file-driven steps of m read.
func mappingWatchPaths(m *Mapping, root string) []string {
	env := mappingEnv(m, root)
	var out []string
	for _, s := range m.Steps {
		out = append(out, stepWatchPaths(s, env)...)
	}
	return out
}

// watchPaths lists, sorted and without duplicates, the files read by the
// file-driven checks of cfg.
func watchPaths(cfg *Compiled) []string {
	var out []string
	for _, m := range cfg.Mappings() {
		out = append(out, mappingWatchPaths(m, cfg.Agent.Root)...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// affects reports whether a change of changed (a file, or a directory
// created, removed or renamed) may change file.
func affects(changed, file string) bool {
	return changed == file || strings.HasPrefix(file, strings.TrimSuffix(changed, "/")+"/")
}

// affectedMappings marks the mappings of cfg with a step reading one of
// changed, and reports whether there is any.
func affectedMappings(cfg *Compiled, changed []string) ([]bool, bool) {
	ms := cfg.Mappings()
	only := make([]bool, len(ms))
	anyone := false
	for i, m := range ms {
		for _, f := range mappingWatchPaths(m, cfg.Agent.Root) {
			if slices.ContainsFunc(changed, func(c string) bool { return affects(c, f) }) {
				only[i], anyone = true, true
				break
			}
		}
	}
	return only, anyone
}

// Touch reports that the files changed have changed (nil: anything may
// have): Loop runs a round of the mappings reading them at once. Several
// Touch calls before that round are merged. It never blocks.
func (e *Evaluator) Touch(changed []string) {
	e.touchMu.Lock()
	if changed == nil {
		e.touchAll = true
	}
	if e.touched == nil {
		e.touched = map[string]bool{}
	}
	for _, c := range changed {
		e.touched[c] = true
	}
	e.touchMu.Unlock()
	select {
	case e.touch <- struct{}{}:
	default:
	}
}

// takeTouched returns and forgets the files passed to Touch; nil when
// anything may have changed (a full round), else a non-nil slice.
func (e *Evaluator) takeTouched() []string {
	e.touchMu.Lock()
	defer e.touchMu.Unlock()
	all := e.touchAll
	out := make([]string, 0, len(e.touched))
	for c := range e.touched {
		out = append(out, c)
	}
	e.touched, e.touchAll = nil, false
	if all {
		return nil
	}
	return out
}

// RoundChanged evaluates the mappings that read one of the files changed
// (a file, or a directory above it); the others keep their outcome of the
// last round. It stores and reports the new state as Round does, and
// returns the current state unchanged when no mapping reads them. Without
// a previous complete round of the current configuration it is Round.
func (e *Evaluator) RoundChanged(ctx context.Context, changed []string) *State {
	e.mu.Lock()
	defer e.mu.Unlock()
	cfg := e.conf.Load()
	if e.lastCfg != cfg || len(e.lastOuts) != len(cfg.Mappings()) {
		return e.roundLocked(ctx, cfg, nil)
	}
	only, anyone := affectedMappings(cfg, changed)
	if !anyone {
		return e.cur.Load()
	}
	return e.roundLocked(ctx, cfg, only)
}
