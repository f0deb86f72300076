package main

import (
	"context"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/lbd-project/lbd/lbd"
	"github.com/lbd-project/lbd/lbd/audit"
	"github.com/lbd-project/lbd/lbd/metrics"
	"github.com/lbd-project/lbd/lbd/render"
	"github.com/lbd-project/lbd/lbd/renderer"
)

// startRender registers the [[render]] observer with d and runs its worker
// until ctx ends (docs/operations.md "Rendering proxy configuration"): every
// round is logged, counted in lbd_render_total and, when a file was
// replaced, written to the audit log. m and auditLog may be nil. A
// configuration without [[render]] costs nothing: the observer does not
// wake the worker. wait returns once the worker has stopped (after ctx
// ended; a command still running is killed with its process group).
func startRender(ctx context.Context, d *lbd.Daemon, m *metrics.Collector, auditLog *audit.Log, log logrus.FieldLogger) (wait func()) {
	waiting := ""
	r := renderer.New(d, func(round renderer.Round) {
		if len(round.Pending) > 0 {
			if p := strings.Join(round.Pending, " "); p != waiting {
				log.WithField("aliases", round.Pending).Info("render: waiting for a first decision of every alias before writing")
				waiting = p
			}
			return
		}
		waiting = ""
		for _, res := range round.Results {
			f := log.WithFields(logrus.Fields{"output": res.Output, "result": string(res.Stage)})
			if m != nil {
				m.ObserveRender(res.Output, string(res.Stage))
			}
			if res.Replaced && auditLog != nil {
				reason := ""
				if res.Err != nil {
					reason = res.Err.Error()
				}
				auditLog.Rendered(round.At, res.Output, res.Size, string(res.Stage), reason)
			}
			switch {
			case res.Stage == render.Reload:
				f.Error(res.Err, " (the file is in place; the reload is retried after the next cycle)")
			case res.Err != nil:
				f.Error(res.Err, " (the previous file is kept)")
			case res.Replaced:
				f.WithFields(logrus.Fields{"bytes": res.Size, "reloaded": res.Reloaded}).Info("render: file replaced")
			case res.Reloaded:
				f.Info("render: reload retried and succeeded")
			default:
				f.Debug("render: unchanged")
			}
		}
	})
	d.AddObserver(r)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx)
	}()
	return func() { <-done }
}
