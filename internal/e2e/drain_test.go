package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/internal/testenv"
)

const adminToken = "e2e-admin-token-0123456789abcdef"

func tokenFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tokens")
	require.NoError(t, os.WriteFile(p, []byte("# operators\nalice:"+adminToken+"\n"), 0o600))
	return p
}

// Drain from the load balancer: lbd -drain talks to the running master,
// the member leaves DNS at once, /status says why, and the drain ends by
// itself. A wrong token is refused with 401 and changes nothing. A drain
// survives a restart of lbd (it is stored in the zone), and a slave that
// takes over from a dead master keeps it.
func TestDrainFromLBD(t *testing.T) {
	agents := startThreeAgents(t)
	n := startNamed(t)
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "127.0.0.1"))
	tokens := tokenFile(t)
	opts := lbdOpts{Role: "master", Server: n.Addr, SNMPPort: agents[0].Port, HTTP: httpAddr, TokenFile: tokens,
		Alias: alias, Members: []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}, BestHosts: 2, Polling: "200ms"}
	cfg := writeLBDConfig(t, opts)
	stop, _ := startLBD(t, "-config", cfg, "-hostname", "master.test")
	waitHTTP(t, "http://"+httpAddr+"/status")
	a := func() string { g, _ := published(t, n, alias); return strings.Join(g, " ") }
	waitFor(t, 10*time.Second, func() bool { return a() == "127.0.0.2 127.0.0.3" })

	// A wrong token: 401, nothing changes.
	req, _ := http.NewRequest(http.MethodPost, "http://"+httpAddr+"/admin/drain",
		bytes.NewReader([]byte(`{"alias":"`+alias+`","member":"127.0.0.2","for":"1h","reason":"x"}`)))
	req.Header.Set("Authorization", "Bearer not-the-token-0123456789")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	time.Sleep(500 * time.Millisecond) // a few cycles
	require.Equal(t, "127.0.0.2 127.0.0.3", a(), "a refused request changes nothing")

	// -drain for 3 s: out at once, back by itself.
	out, errOut, err := runLBD(t, "-config", cfg, "-drain", alias+"/127.0.0.2", "-for", "3s", "-reason", "kernel upgrade")
	require.NoError(t, err, "lbd -drain:\n%s\n%s", out, errOut)
	require.Contains(t, out, "200 OK: written")
	require.Equal(t, "127.0.0.3 127.0.0.4", a(), "written before the request returned")
	st := statusOf(t, "http://"+httpAddr+"/status")
	require.Contains(t, st, "kernel upgrade")
	require.Contains(t, st, "drain by alice")
	out, _, err = runLBD(t, "-config", cfg, "-overrides")
	require.NoError(t, err)
	require.Contains(t, out, `"member": "127.0.0.2"`)
	waitFor(t, 10*time.Second, func() bool { return a() == "127.0.0.2 127.0.0.3" })
	require.NotContains(t, statusOf(t, "http://"+httpAddr+"/status"), "kernel upgrade", "expired: gone from status")

	// A long drain survives a restart (kill -9).
	out, errOut, err = runLBD(t, "-config", cfg, "-drain", alias+"/127.0.0.3", "-for", "1h", "-reason", "disk swap")
	require.NoError(t, err, "%s\n%s", out, errOut)
	require.Equal(t, "127.0.0.2 127.0.0.4", a())
	stop()
	stop, _ = startLBD(t, "-config", cfg, "-hostname", "master.test")
	waitHTTP(t, "http://"+httpAddr+"/status")
	waitFor(t, 10*time.Second, func() bool { return strings.Contains(statusOf(t, "http://"+httpAddr+"/status"), "disk swap") })
	time.Sleep(500 * time.Millisecond)
	require.Equal(t, "127.0.0.2 127.0.0.4", a(), "still drained after the restart")

	// The master dies; the slave takes over and keeps the drain.
	slave := writeLBDConfig(t, lbdOpts{Role: "slave", Server: n.Addr, SNMPPort: agents[0].Port, URL: "http://" + httpAddr + "/load-balancing/heartbeat",
		Alias: alias, Members: []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}, BestHosts: 2, Polling: "200ms",
		Interval: "200ms", StaleAfter: "2s"})
	_, slaveLog := startLBD(t, "-config", slave, "-hostname", "slave.test")
	waitFor(t, 10*time.Second, func() bool { return strings.Contains(slaveLog.String(), "lbd starting") })
	time.Sleep(time.Second)
	stop()
	waitFor(t, 15*time.Second, func() bool { return strings.Contains(slaveLog.String(), "lease held") })
	agents[0].nologin(t, true) // 127.0.0.2 leaves: only the slave can write that
	waitFor(t, 15*time.Second, func() bool { return a() == "127.0.0.4" })
	require.NotContains(t, a(), "127.0.0.3", "the slave keeps the drain")
}

// -dry-run reads a running lbd's embedded server over DNS (its data
// directory is the daemon's) and shows the change it would make.
func TestDryRunAgainstRunningEmbeddedServer(t *testing.T) {
	agents := startThreeAgents(t)
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "127.0.0.1"))
	opts := lbdOpts{Role: "master", Embedded: addr, DataDir: t.TempDir(), SNMPPort: agents[0].Port,
		Alias: alias, Members: []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}, BestHosts: 2, Polling: "1h"}
	cfg := writeLBDConfig(t, opts)
	startLBD(t, "-config", cfg, "-hostname", "master.test")
	waitFor(t, 10*time.Second, func() bool {
		out, _, err := runLBD(t, "-config", cfg, "-dry-run")
		return err == nil && !strings.Contains(out, "; alias")
	})
	// A member drains; the daemon polls only every hour, so the dry run
	// is the first to see it.
	agents[0].nologin(t, true)
	agents[0].waitLoad(t, -1)
	out, errOut, err := runLBD(t, "-config", cfg, "-dry-run")
	require.NoError(t, err, "%s\n%s", out, errOut)
	require.Contains(t, out, "; alias "+alias+" on "+addr)
	require.Contains(t, out, "delete "+alias+". IN A 127.0.0.2")
}
