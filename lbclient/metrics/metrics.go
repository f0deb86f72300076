// Package metrics exports an lbclient agent's activity to Prometheus
// ([agent] metrics_listen; docs/operations.md "Metrics" lists every
// metric): the SNMP requests it served by result, the HAProxy agent-check
// connections by result, and the duration and failures of its checks and
// loads by type. Labels are bounded by the check registry and the
// protocols: no alias, no peer address.
package metrics

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lbd-project/lbd/lbclient/agent"
	"github.com/lbd-project/lbd/lbclient/agentcheck"
)

// Path is where the metrics are served.
const Path = "/metrics"

// SNMP request results (the result label of lbclient_snmp_requests_total):
// answered, the RFC 3414 §3.2 Reports, and dropped.
const (
	ResultOK               = "ok"
	ResultUnknownEngineID  = "unknown_engine_id"
	ResultUnknownUser      = "unknown_user"
	ResultUnsupportedLevel = "unsupported_security_level"
	ResultWrongDigest      = "wrong_digest"
	ResultNotInTimeWindow  = "not_in_time_window"
	ResultDecryptionError  = "decryption_error"
	ResultDropped          = "dropped"
)

// results reads each result's count from a responder's Stats.
var results = []struct {
	name string
	get  func(*agent.Stats) uint64
}{
	{ResultOK, func(s *agent.Stats) uint64 { return s.Answered.Load() }},
	{ResultUnknownEngineID, u32(func(s *agent.Stats) *atomic.Uint32 { return &s.UnknownEngineIDs })},
	{ResultUnknownUser, u32(func(s *agent.Stats) *atomic.Uint32 { return &s.UnknownUserNames })},
	{ResultUnsupportedLevel, u32(func(s *agent.Stats) *atomic.Uint32 { return &s.UnsupportedSecLevels })},
	{ResultWrongDigest, u32(func(s *agent.Stats) *atomic.Uint32 { return &s.WrongDigests })},
	{ResultNotInTimeWindow, u32(func(s *agent.Stats) *atomic.Uint32 { return &s.NotInTimeWindows })},
	{ResultDecryptionError, u32(func(s *agent.Stats) *atomic.Uint32 { return &s.DecryptionErrors })},
	{ResultDropped, u32(func(s *agent.Stats) *atomic.Uint32 { return &s.Dropped })},
}

func u32(f func(*agent.Stats) *atomic.Uint32) func(*agent.Stats) uint64 {
	return func(s *agent.Stats) uint64 { return uint64(f(s).Load()) }
}

// Metrics is the collector of one agent. ObserveStep is safe for
// concurrent use.
type Metrics struct {
	responder func() *agent.Responder
	duration  *prometheus.HistogramVec
	failures  *prometheus.CounterVec
	checks    *prometheus.CounterVec
	requests  *prometheus.Desc
	reg       *prometheus.Registry

	mu   sync.Mutex
	last *agent.Responder
	base []uint64 // counts of the responders replaced before last
}

// New returns the metrics of an agent whose current responder is
// responder() (a reload may replace it: its counts carry over).
func New(responder func() *agent.Responder) *Metrics {
	m := &Metrics{responder: responder, base: make([]uint64, len(results))}
	labels := []string{"check", "kind"}
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "lbclient_check_duration_seconds",
		Help:    "Duration of a check or load run, by type (check: nologin, sshdaemon…; kind: check or load).",
		Buckets: []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}}, labels)
	m.failures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lbclient_check_failures_total",
		Help: "Check or load runs that failed (the mapping answers -code) or hung, by type."}, labels)
	m.checks = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lbclient_agent_check_connections_total",
		Help: "HAProxy agent-check connections by result: the answer (up, drain, maint, down), rejected (too many at once) or failed (the answer could not be written)."},
		[]string{"result"})
	for _, r := range agentcheck.AllResults {
		m.checks.WithLabelValues(r)
	}
	m.requests = prometheus.NewDesc("lbclient_snmp_requests_total",
		"SNMP requests by result: ok (answered), an RFC 3414 Report (unknown_engine_id is SNMPv3 discovery), or dropped (unparsable, wrong community, not for this agent).",
		[]string{"result"}, nil)
	m.reg = prometheus.NewRegistry()
	m.reg.MustRegister(m, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics (with the Go runtime and process collectors).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// ObserveStep records one run of a check (load false) or load of type typ
// that took d; failed: it failed or hung.
func (m *Metrics) ObserveStep(typ string, load bool, d time.Duration, failed bool) {
	kind := "check"
	if load {
		kind = "load"
	}
	typ = strings.ToLower(typ)
	m.duration.WithLabelValues(typ, kind).Observe(d.Seconds())
	c := m.failures.WithLabelValues(typ, kind)
	if failed {
		c.Inc()
	}
}

// ObserveAgentCheck counts one agent-check connection with its result
// (agentcheck.AllResults).
func (m *Metrics) ObserveAgentCheck(result string) {
	m.checks.WithLabelValues(result).Inc()
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.duration.Describe(ch)
	m.failures.Describe(ch)
	m.checks.Describe(ch)
	ch <- m.requests
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.duration.Collect(ch)
	m.failures.Collect(ch)
	m.checks.Collect(ch)
	for i, n := range m.counts() {
		ch <- prometheus.MustNewConstMetric(m.requests, prometheus.CounterValue, float64(n), results[i].name)
	}
}

// counts are the request counts of every responder so far: those of
// the replaced ones are kept in base.
func (m *Metrics) counts() []uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.responder()
	if cur != m.last && m.last != nil {
		for i, r := range results {
			m.base[i] += r.get(m.last.Stats())
		}
	}
	m.last = cur
	out := make([]uint64, len(results))
	for i, r := range results {
		out[i] = m.base[i]
		if cur != nil {
			out[i] += r.get(cur.Stats())
		}
	}
	return out
}
