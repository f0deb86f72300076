package lbd

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

	"github.com/lbd-project/lbd/lbd/config"
	"github.com/sirupsen/logrus"
)

// The names this instance group manages: every alias of the configuration,
// plus the names of aliases since removed whose records were not yet
// deleted. With [lbd] state_dir the list survives a restart (managed.json,
// written atomically); without it, a running daemon still notices the
// aliases a reload removes.

const managedFile = "managed.json"

// loadManaged reads the managed names kept in dir ("" = none kept).
func loadManaged(dir string) (map[Managed]bool, error) {
	out := map[Managed]bool{}
	if dir == "" {
		return out, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, managedFile))
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("managed names: %w", err)
	}
	var list []Managed
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("managed names %s: %w", filepath.Join(dir, managedFile), err)
	}
	for _, m := range list {
		out[m] = true
	}
	return out, nil
}

// saveManaged writes the managed names to dir atomically.
func saveManaged(dir string, set map[Managed]bool) error {
	if dir == "" {
		return nil
	}
	list := make([]Managed, 0, len(set))
	for m := range set {
		list = append(list, m)
	}
	slices.SortFunc(list, func(a, b Managed) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Zone, b.Zone))
	})
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("managed names: %w", err)
	}
	tmp, err := os.CreateTemp(dir, managedFile+".*")
	if err != nil {
		return fmt.Errorf("managed names: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("managed names: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("managed names: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("managed names: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, managedFile)); err != nil {
		return fmt.Errorf("managed names: %w", err)
	}
	return nil
}

// removed lists the managed names the configuration no longer has.
func (d *Daemon) removed(cfg *config.Compiled) []Managed {
	d.mu.Lock()
	defer d.mu.Unlock()
	inConfig := map[string]bool{}
	for _, p := range cfg.Params {
		inConfig[p.Name] = true
	}
	var out []Managed
	for m := range d.managed {
		if !inConfig[m.Name] {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b Managed) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// updateManaged records the names of the configuration as managed and
// forgets the removed names that are gone from every view.
func (d *Daemon) updateManaged(cfg *config.Compiled, plan Plan, rep CycleReport) {
	if plan.dryRun {
		return
	}
	d.mu.Lock()
	changed := false
	for _, p := range cfg.Params {
		m := Managed{Name: p.Name, Zone: p.Zone}
		if !d.managed[m] {
			d.managed[m], changed = true, true
		}
	}
	for i, r := range rep.Removals {
		done := r.Err == nil
		for _, vp := range plan.Removals[i].Views {
			done = done && (vp.Action == Write || vp.Action == InSync)
		}
		if done {
			delete(d.managed, plan.Removals[i].Managed)
			changed = true
		}
	}
	set := d.managed
	if changed {
		set = maps.Clone(d.managed)
	}
	d.mu.Unlock()
	if changed {
		if err := saveManaged(cfg.LBD.StateDir, set); err != nil {
			d.log.Error(err)
		}
	}
}

// removalResults summarises each removal with what applying it did.
func removalResults(cfg *config.Compiled, plan Plan, applied Report) []RemovalResult {
	out := make([]RemovalResult, len(plan.Removals))
	for i, rp := range plan.Removals {
		r := RemovalResult{Name: rp.Name}
		var errs []error
		for _, vp := range rp.Views {
			v := cfg.Views[vp.View]
			r.Views = append(r.Views, ViewResult{View: v.String(), Action: vp.Action, Change: vp.Change})
			err := applied.Removals[i].Errs[vp.View]
			if vp.Action == Fenced || vp.Action == Unread {
				err = vp.Err
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", v, err))
			}
		}
		if len(errs) > 0 {
			r.Err = fmt.Errorf("removed alias %s: %w", rp.Name, errors.Join(errs...))
		}
		out[i] = r
	}
	return out
}

func (d *Daemon) logRemovals(rs []RemovalResult) {
	for _, r := range rs {
		if r.Err != nil {
			d.log.WithField("alias", r.Name).Error(r.Err)
			continue
		}
		for _, v := range r.Views {
			if v.Action == Write {
				d.log.WithFields(logrus.Fields{"alias": r.Name, "server": v.View}).
					Info("alias no longer configured: its records and ownership record are deleted")
			}
		}
	}
}
