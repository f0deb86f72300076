package metrics

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/lbclient/agent"
)

func responder(t *testing.T) *agent.Responder {
	r, err := agent.New(agent.Config{Community: "public", EngineID: agent.EngineIDFor("m"), Boots: 1},
		func() agent.Value { return agent.Value{Int: 1} }, nil)
	require.NoError(t, err)
	return r
}

func TestMetrics(t *testing.T) {
	var cur atomic.Pointer[agent.Responder]
	cur.Store(responder(t))
	m := New(cur.Load)
	cur.Load().Stats().Answered.Add(3)
	cur.Load().Stats().WrongDigests.Add(2)
	m.ObserveStep("NoLogin", false, 20*time.Millisecond, true)
	m.ObserveStep("nologin", false, 10*time.Millisecond, false)
	m.ObserveStep("constant", true, time.Millisecond, false)

	want := `
# HELP lbclient_check_failures_total Check or load runs that failed (the mapping answers -code) or hung, by type.
# TYPE lbclient_check_failures_total counter
lbclient_check_failures_total{check="constant",kind="load"} 0
lbclient_check_failures_total{check="nologin",kind="check"} 1
# HELP lbclient_snmp_requests_total SNMP requests by result: ok (answered), an RFC 3414 Report (unknown_engine_id is SNMPv3 discovery), or dropped (unparsable, wrong community, not for this agent).
# TYPE lbclient_snmp_requests_total counter
lbclient_snmp_requests_total{result="decryption_error"} 0
lbclient_snmp_requests_total{result="dropped"} 0
lbclient_snmp_requests_total{result="not_in_time_window"} 0
lbclient_snmp_requests_total{result="ok"} 3
lbclient_snmp_requests_total{result="unknown_engine_id"} 0
lbclient_snmp_requests_total{result="unknown_user"} 0
lbclient_snmp_requests_total{result="unsupported_security_level"} 0
lbclient_snmp_requests_total{result="wrong_digest"} 2
`
	require.NoError(t, testutil.CollectAndCompare(m, strings.NewReader(want), "lbclient_check_failures_total", "lbclient_snmp_requests_total"))
	assert.Equal(t, 2, testutil.CollectAndCount(m, "lbclient_check_duration_seconds"), "one histogram per type and kind")

	// A reload replaces the responder: the counts carry over.
	cur.Store(responder(t))
	cur.Load().Stats().Answered.Add(1)
	assert.Contains(t, collect(t, m), `lbclient_snmp_requests_total{result="ok"} 4`)
	cur.Load().Stats().Answered.Add(1)
	assert.Contains(t, collect(t, m), `lbclient_snmp_requests_total{result="ok"} 5`)

	problems, err := testutil.CollectAndLint(m)
	require.NoError(t, err)
	assert.Empty(t, problems)
}

// collect scrapes m's handler.
func collect(t *testing.T, m *Metrics) string {
	t.Helper()
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, Path, nil))
	require.Equal(t, http.StatusOK, w.Code)
	return w.Body.String()
}
