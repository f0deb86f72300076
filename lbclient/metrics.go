package lbclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/lbd-project/lbd/checks"
	"github.com/lbd-project/lbd/lbclient/metrics"
)

// [agent] metrics_listen: the Prometheus endpoint of the agent
// (docs/operations.md "Metrics").

// stepObserver is told about every check or load run (metrics).
type stepObserver func(s Step, r checks.Result, hung bool, d time.Duration)

// observe reports one run of s to the round's observer, if any.
func (rc *roundCtx) observe(s Step, r checks.Result, hung bool, d time.Duration) {
	if rc != nil && rc.step != nil {
		rc.step(s, r, hung, d)
	}
}

func checkMetricsListen(p *problems, addr string) {
	if addr == "" {
		return
	}
	if ap, err := netip.ParseAddrPort(addr); err != nil || ap.Port() == 0 {
		p.bad("agent.metrics_listen", "%q is not an ip:port address (IPv6 in brackets), e.g. \"127.0.0.1:9161\"", addr)
	}
}

// metricsListenChanged is the reload error for a changed metrics_listen.
func metricsListenChanged(old, cfg *Compiled) error {
	if old.Agent.MetricsListen == cfg.Agent.MetricsListen {
		return nil
	}
	return fmt.Errorf("reload: metrics_listen changed (%q → %q): restart lbclient to apply; keeping the running configuration",
		old.Agent.MetricsListen, cfg.Agent.MetricsListen)
}

// startMetrics serves /metrics on addr (nothing when addr is empty) until
// ctx is done; the evaluator reports its runs to it. Call before the
// evaluator's loop starts.
func (a *Agent) startMetrics(ctx context.Context, addr string) error {
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics listen %s: %w", addr, err)
	}
	m := metrics.New(a.CurrentResponder)
	a.agentCheckObserve = m.ObserveAgentCheck
	a.Evaluator.step = func(s Step, r checks.Result, hung bool, d time.Duration) {
		m.ObserveStep(s.Spec.Type, s.Load, d, hung || !r.OK)
	}
	mux := http.NewServeMux()
	mux.Handle(metrics.Path, m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	a.wg.Add(2)
	go func() {
		defer a.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.WithError(err).Error("metrics server failed")
		}
	}()
	go func() {
		defer a.wg.Done()
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	a.log.WithField("metrics_listen", ln.Addr().String()).Info("serving Prometheus metrics at " + metrics.Path)
	return nil
}
