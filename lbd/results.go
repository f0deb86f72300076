package lbd

// Turning a cycle's plan and apply report into per-alias and per-removal
// results, and logging them.

import (
	"errors"
	"fmt"

	"github.com/lbd-project/lbd/dnsupdate"
	"github.com/lbd-project/lbd/lbd/config"
	"github.com/lbd-project/lbd/lbd/cycle"
	"github.com/sirupsen/logrus"
)

// removalResults summarises each removal with what applying it did.
func removalResults(cfg *config.Compiled, plan cycle.Plan, applied cycle.Report) []RemovalResult {
	out := make([]RemovalResult, len(plan.Removals))
	for i, rp := range plan.Removals {
		r := RemovalResult{Name: rp.Name}
		var errs []error
		for _, vp := range rp.Views {
			v := cfg.Views[vp.View]
			r.Views = append(r.Views, ViewResult{View: v.String(), Action: vp.Action, Change: vp.Change})
			err := applied.Removals[i].Errs[vp.View]
			if vp.Action == cycle.Fenced || vp.Action == cycle.Unread {
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
			if v.Action == cycle.Write {
				d.log.WithFields(logrus.Fields{"alias": r.Name, "server": v.View}).
					Info("alias no longer configured: its records and ownership record are deleted")
			}
		}
	}
}

// results summarises each planned alias with what applying it did.
func results(cfg *config.Compiled, plan cycle.Plan, applied cycle.Report) []AliasResult {
	out := make([]AliasResult, len(plan.Aliases))
	for i, ap := range plan.Aliases {
		ar := applied.Aliases[i]
		r := AliasResult{Alias: ap.Name, Members: ap.Members, Decision: ap.Decision, Decided: ap.Decided,
			Servers: map[string]error{}, Wrote: len(ar.Written) > 0, Overrides: ap.Overrides, DrainEmptied: ap.DrainEmptied}
		for _, v := range ar.Written {
			if r.Written == nil {
				r.Written = map[string]uint32{}
			}
			r.Written[cfg.Views[v].String()] = ar.Serials[v]
		}
		for k, vp := range ap.Views {
			v := cfg.Views[vp.View]
			if k == 0 {
				r.Change = vp.Change
			}
			r.Views = append(r.Views, ViewResult{View: v.String(), Action: vp.Action, Change: vp.Change, Drift: vp.Drift})
			switch vp.Action {
			case cycle.Passive:
				r.Passive++
			case cycle.Unread:
				r.Servers[v.String()] = fmt.Errorf("read current records: %w", vp.Err)
			case cycle.Foreign:
				r.Servers[v.String()] = cycle.Permanent(vp.Err)
			case cycle.Fenced:
				// Transient: the holder hands the lease back or it expires.
				r.Servers[v.String()] = vp.Err
			}
			if err := ar.Errs[vp.View]; err != nil {
				r.Servers[v.String()] = err
			}
		}
		var errs []error
		for _, vi := range cfg.ViewsOf(&cfg.Params[ap.Alias]) {
			v := cfg.Views[vi]
			if err := r.Servers[v.String()]; err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", v, err))
			}
		}
		if len(errs) > 0 {
			r.Err = fmt.Errorf("alias %s: %w", ap.Name, errors.Join(errs...))
		}
		out[i] = r
	}
	return out
}

// logPlan logs what a cycle did to DNS: passive changes (debug), accepted
// updates (info) and every failure (error).
func (d *Daemon) logPlan(cfg *config.Compiled, plan cycle.Plan, applied cycle.Report, res []AliasResult) {
	for i, ap := range plan.Aliases {
		p := &cfg.Params[ap.Alias]
		for _, vp := range ap.Views {
			if vp.Drift {
				d.log.WithFields(logrus.Fields{"alias": ap.Name, "server": cfg.Views[vp.View].String(),
					"found": vp.Served, "left": vp.Known, "action": vp.Action.String()}).
					Warn("DNS drift: the server no longer serves what lbd last found or left there")
			}
			if vp.Action == cycle.Passive {
				d.log.WithFields(logrus.Fields{"alias": ap.Name, "server": cfg.Views[vp.View].String(), "change": vp.Change.String()}).
					Debug("slave passive: not writing")
			}
		}
		for _, v := range applied.Aliases[i].Written {
			var ch dnsupdate.Change
			for _, vp := range ap.Views {
				if vp.View == v {
					ch = vp.Change
				}
			}
			d.log.WithFields(logrus.Fields{"alias": ap.Name, "zone": p.Zone, "server": cfg.Views[v].String(),
				"hosts": ap.Decision.Hosts, "change": ch.String()}).Info("DNS updated")
		}
		for _, vi := range cfg.ViewsOf(p) {
			if err := res[i].Servers[cfg.Views[vi].String()]; err != nil {
				d.log.WithFields(logrus.Fields{"alias": ap.Name, "server": cfg.Views[vi].String()}).Error(err)
			}
		}
	}
}
