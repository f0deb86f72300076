package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/internal/testenv"
)

// startMetricsAgent is startAgent with [agent] metrics_listen = maddr.
func startMetricsAgent(t *testing.T, ip string, port int, load int, maddr string) *agent {
	t.Helper()
	dir := t.TempDir()
	a := &agent{IP: ip, Port: port, Root: filepath.Join(dir, "root"), log: &syncBuffer{}}
	require.NoError(t, os.MkdirAll(filepath.Join(a.Root, "etc"), 0o755))
	cfg := fmt.Sprintf(`[agent]
listen = ["%s:%d"]
metrics_listen = %q
root = %q
community = "public"
users = [{ name = "loadbalancing", auth_protocol = "md5", auth_password = %q }]
interval = "100ms"

[[alias]]
name = %q
checks = ["nologin"]
loads = [{ type = "constant", data = "%d" }]
`, ip, port, maddr, a.Root, snmpPassword, alias, load)
	path := filepath.Join(dir, "lbclient.toml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o644))
	a.cmd = exec.Command(filepath.Join(binDir, "lbclient"), "-config", path)
	a.cmd.Stdout, a.cmd.Stderr = a.log, a.log
	require.NoError(t, a.cmd.Start())
	t.Cleanup(func() {
		a.cmd.Process.Kill()
		a.cmd.Wait()
		if t.Failed() {
			t.Logf("lbclient %s log:\n%s", ip, a.log.String())
		}
	})
	a.waitLoad(t, load)
	return a
}

// scrapeMetrics GETs http://addr/metrics (bounded: 5 s of retries while
// the listener comes up).
func scrapeMetrics(t *testing.T, addr string) string {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	var err error
	for i := 0; i < 50; i++ {
		var resp *http.Response
		if resp, err = c.Get("http://" + addr + "/metrics"); err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK {
				return string(body)
			}
			err = fmt.Errorf("status %s, read %v", resp.Status, rerr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("scrape %s: %v", addr, err)
	return ""
}

// promtoolCheck passes a scrape through `promtool check metrics`: no error
// and no lint problem.
func promtoolCheck(t *testing.T, promtool, what, body string) {
	t.Helper()
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil || strings.TrimSpace(out.String()) != "" {
		t.Fatalf("promtool check metrics on the %s scrape: %v\n%s", what, err, out.String())
	}
}

// sample is the value of the series written exactly as series (labels in
// name order, as client_golang writes them); ok is false when absent.
func sample(body, series string) (v float64, ok bool) {
	for line := range strings.SplitSeq(body, "\n") {
		if rest, found := strings.CutPrefix(line, series+" "); found {
			f, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return f, err == nil
		}
	}
	return 0, false
}

func members(body, state string) float64 {
	v, ok := sample(body, `lbd_alias_members{alias="`+alias+`",state="`+state+`"}`)
	if !ok {
		return -1
	}
	return v
}

// A live lbd and lbclient: both /metrics pass promtool, and lbd's per-alias
// gauges follow the farm: 3 members configured, the 2 least loaded
// published; after a drain (nologin) of one of them, 2 usable and the 2
// remaining published.
func TestMetricsLive(t *testing.T) {
	promtool := testenv.Require(t, "promtool")[0]
	testenv.Require(t, "named")
	ensureLoopback(t, "127.0.0.2", "127.0.0.3", "127.0.0.4")
	port := testenv.FreePort(t, "127.0.0.2")
	clientMetrics := fmt.Sprintf("127.0.0.2:%d", testenv.FreePort(t, "127.0.0.2"))
	agents := []*agent{
		startMetricsAgent(t, "127.0.0.2", port, 10, clientMetrics),
		startAgent(t, "127.0.0.3", port, alias, 20),
		startAgent(t, "127.0.0.4", port, alias, 30),
	}
	n := startNamed(t)
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "127.0.0.1"))
	cfg := writeLBDConfig(t, lbdOpts{Role: "master", Server: n.Addr, SNMPPort: port, Alias: alias, HTTP: httpAddr,
		Members: []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}, BestHosts: 2})
	startLBD(t, "-config", cfg, "-hostname", "master.test")

	waitPublished := func(want ...string) {
		t.Helper()
		var got []string
		for i := 0; i < 100; i++ {
			if got, _ = published(t, n, alias); equal(got, want) {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("published %v, want %v", got, want)
	}
	// waitGauges scrapes until the per-alias gauges are the wanted ones
	// (the decision is published before the scrape can see it).
	waitGauges := func(usable, published float64) string {
		t.Helper()
		var body string
		for i := 0; i < 50; i++ {
			body = scrapeMetrics(t, httpAddr)
			if members(body, "usable") == usable && members(body, "published") == published {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		assert.Equal(t, 3.0, members(body, "configured"), "configured members")
		assert.Equal(t, usable, members(body, "usable"), "usable members")
		assert.Equal(t, published, members(body, "published"), "published members")
		return body
	}

	waitPublished("127.0.0.2", "127.0.0.3")
	body := waitGauges(3, 2)
	promtoolCheck(t, promtool, "lbd", body)
	for series, want := range map[string]float64{
		`lbd_alias_fallback_active{alias="` + alias + `"}`:     0,
		`lbd_alias_published_addresses{alias="` + alias + `"}`: 2,
		`lbd_alias_failed{alias="` + alias + `"}`:              0,
		`lbd_alias_stale_members{alias="` + alias + `"}`:       0,
		`lbd_alias_overrides{alias="` + alias + `"}`:           0,
		"lbd_master":  1,
		"lbd_writing": 1,
	} {
		v, ok := sample(body, series)
		assert.True(t, ok, "%s present", series)
		assert.Equal(t, want, v, series)
	}
	for _, series := range []string{
		`lbd_polls_total{result="ok"}`,
		`lbd_dns_updates_total{rcode="NOERROR",server="` + n.Addr + `"}`,
		`lbd_alias_updates_total{alias="` + alias + `"}`,
		"lbd_cycle_duration_seconds_count",
		`lbd_alias_last_update_timestamp_seconds{alias="` + alias + `"}`,
		`lbd_alias_last_success_timestamp_seconds{alias="` + alias + `"}`,
	} {
		v, ok := sample(body, series)
		assert.True(t, ok && v > 0, "%s = %v, want > 0", series, v)
	}
	_, ok := sample(body, "lbd_heartbeat_age_seconds")
	assert.False(t, ok, "a master has no heartbeat age")

	// Drain the best member: 2 usable, the other two published.
	agents[0].nologin(t, true)
	waitPublished("127.0.0.3", "127.0.0.4")
	body = waitGauges(2, 2)
	promtoolCheck(t, promtool, "lbd after the drain", body)
	v, _ := sample(body, `lbd_polls_total{result="negative_code"}`)
	assert.Positive(t, v, "the drained member answers a negative code")

	// The drained agent's own metrics.
	cbody := scrapeMetrics(t, clientMetrics)
	promtoolCheck(t, promtool, "lbclient", cbody)
	for _, series := range []string{
		`lbclient_check_failures_total{check="nologin",kind="check"}`,
		`lbclient_check_duration_seconds_count{check="nologin",kind="check"}`,
		`lbclient_check_duration_seconds_count{check="constant",kind="load"}`,
		`lbclient_snmp_requests_total{result="ok"}`,
		`lbclient_snmp_requests_total{result="unknown_engine_id"}`, // lbd's SNMPv3 discovery
	} {
		v, ok := sample(cbody, series)
		assert.True(t, ok && v > 0, "%s = %v, want > 0", series, v)
	}
}
