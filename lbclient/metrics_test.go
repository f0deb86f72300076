package lbclient

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/lbclient/agent"
)

func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// [agent] metrics_listen serves the agent's requests, check durations
// and failures; a drain (nologin) is a failure of the nologin check.
func TestAgentMetrics(t *testing.T) {
	maddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "127.0.0.1"))
	cfg, addr, root := listenCfg(t, fmt.Sprintf("metrics_listen = %q\n[default]\nchecks = [\"nologin\"]\nloads = [{ type = \"constant\", data = \"5\" }]\n[[alias]]\nname = \"a\"\n", maddr))
	startCfg(t, cfg)
	g := v2cClient(t, addr, "public")
	eventuallyValue(t, g, agent.Value{Int: 5})
	body := scrape(t, maddr)
	assert.Contains(t, body, `lbclient_check_failures_total{check="nologin",kind="check"} 0`)
	assert.Contains(t, body, `lbclient_check_duration_seconds_count{check="constant",kind="load"}`)
	assert.Contains(t, body, `lbclient_snmp_requests_total{result="dropped"} 0`)
	assert.NotContains(t, body, `lbclient_snmp_requests_total{result="ok"} 0`)
	assert.Contains(t, body, "go_goroutines")

	require.NoError(t, os.WriteFile(filepath.Join(root, "etc", "nologin"), nil, 0o644))
	eventuallyValue(t, g, agent.Value{Int: -1})
	assert.Eventually(t, func() bool {
		return !strings.Contains(scrape(t, maddr), `lbclient_check_failures_total{check="nologin",kind="check"} 0`)
	}, 5*time.Second, 20*time.Millisecond, "nologin failures counted")
}

func TestMetricsListenConfig(t *testing.T) {
	_, err := Parse("x.toml", []byte("[agent]\ncommunity = \"c\"\nmetrics_listen = \"localhost\"\n[[alias]]\nname = \"a\"\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "agent.metrics_listen")

	maddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "127.0.0.1"))
	cfg, _, _ := listenCfg(t, fmt.Sprintf("metrics_listen = %q\n[[alias]]\nname = \"a\"\n", maddr))
	a := startCfg(t, cfg)
	other := *cfg
	other.Agent.MetricsListen = "127.0.0.1:1"
	err = a.Reload(&other)
	require.Error(t, err, "metrics_listen needs a restart")
	assert.Contains(t, err.Error(), "metrics_listen")

	// The address is taken: Start fails and says which.
	cfg2, _, _ := listenCfg(t, fmt.Sprintf("metrics_listen = %q\n[[alias]]\nname = \"a\"\n", maddr))
	_, err = Start(t.Context(), cfg2, testenv.QuietLogger())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "metrics listen")
}
