package lbd

import (
	"errors"
	"fmt"

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
