package managed

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/lbd-project/lbd/internal/atomicfile"
	"github.com/lbd-project/lbd/lbd/config"
	"github.com/lbd-project/lbd/lbd/cycle"
)

// File is the set's file name in [lbd] state_dir.
const File = "managed.json"

// Set is a set of managed names. Its methods do not modify it.
type Set map[cycle.Managed]bool

// Load reads the set kept in dir ("" = none kept: an empty set).
func Load(dir string) (Set, error) {
	out := Set{}
	if dir == "" {
		return out, nil
	}
	path := filepath.Join(dir, File)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("managed names: %w", err)
	}
	var list []cycle.Managed
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("managed names %s: %w", path, err)
	}
	for _, m := range list {
		out[m] = true
	}
	return out, nil
}

// sorted lists the set by name, then zone.
func (s Set) sorted() []cycle.Managed {
	list := slices.Collect(maps.Keys(s))
	slices.SortFunc(list, func(a, b cycle.Managed) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Zone, b.Zone))
	})
	return list
}

// Save writes the set to dir atomically (temporary file, fsync, rename);
// with dir "" it does nothing.
func (s Set) Save(dir string) error {
	if dir == "" {
		return nil
	}
	b, err := json.MarshalIndent(s.sorted(), "", "  ")
	if err != nil {
		return fmt.Errorf("managed names: %w", err)
	}
	if err := atomicfile.WriteState(dir, File, append(b, '\n')); err != nil {
		return fmt.Errorf("managed names: %w", err)
	}
	return nil
}

// Removed lists, sorted, the names of the set the configuration no longer
// has.
func (s Set) Removed(cfg *config.Compiled) []cycle.Managed {
	inConfig := map[string]bool{}
	for _, p := range cfg.Params {
		inConfig[p.Name] = true
	}
	var out []cycle.Managed
	for _, m := range s.sorted() {
		if !inConfig[m.Name] {
			out = append(out, m)
		}
	}
	return out
}

// Next is the set after a cycle that applied plan: the configuration's
// names are added, and each removal done in every view is forgotten
// (failed(i) reports that applying plan.Removals[i] failed). changed is
// false, and s itself returned, when nothing changes; a dry run changes
// nothing.
func (s Set) Next(cfg *config.Compiled, plan cycle.Plan, failed func(i int) bool) (next Set, changed bool) {
	if plan.DryRun {
		return s, false
	}
	next = maps.Clone(s)
	if next == nil {
		next = Set{}
	}
	for _, p := range cfg.Params {
		m := cycle.Managed{Name: p.Name, Zone: p.Zone}
		if !next[m] {
			next[m], changed = true, true
		}
	}
	for i, r := range plan.Removals {
		done := !failed(i)
		for _, vp := range r.Views {
			done = done && (vp.Action == cycle.Write || vp.Action == cycle.InSync)
		}
		if done {
			delete(next, r.Managed)
			changed = true
		}
	}
	if !changed {
		return s, false
	}
	return next, true
}
