package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lbd-project/lbd/internal/testenv"
)

// addHeartbeatKeys inserts keys at the top of the [heartbeat] table of the
// lbd configuration at path.
func addHeartbeatKeys(t *testing.T, path, keys string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "[heartbeat]\n", "[heartbeat]\n"+keys+"\n", 1)
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func secretFile(t *testing.T, secret string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "heartbeat.secret")
	if err := os.WriteFile(p, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Real processes: a master with a heartbeat secret, started without
// -hostname, serves the legacy line naming [lbd] master and warns that its
// host name differs; a slave with the same secret stays passive; a slave
// with another secret (so, to it, a forger) takes over DNS writes after
// stale_after although the master keeps beating. The bounds are generous
// correctness bounds, not speed measurements.
func TestSlaveAuthenticatedHeartbeat(t *testing.T) {
	agents := startThreeAgents(t)
	n := startNamed(t)
	good := secretFile(t, "e2e-heartbeat-secret-shared-by-master-and-slave")
	wrong := secretFile(t, "e2e-heartbeat-secret-the-master-does-not-know")
	masterHTTP := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "127.0.0.1"))
	// The master has no aliases: any record in DNS comes from a slave.
	mcfg := writeLBDConfig(t, lbdOpts{Role: "master", Server: n.Addr, SNMPPort: agents[0].Port, HTTP: masterHTTP})
	addHeartbeatKeys(t, mcfg, fmt.Sprintf("secret_file = %q", good))
	_, masterLog := startLBD(t, "-config", mcfg)
	legacyURL := "http://" + masterHTTP + "/load-balancing/heartbeat"
	url := legacyURL + ".v2"
	waitHTTP(t, url)

	// The legacy line names [lbd] master (master.test), not os.Hostname().
	resp, err := http.Get(legacyURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(body), "master.test : ") || !strings.HasSuffix(string(body), " : I am alive\n") {
		t.Fatalf("legacy line %q does not name [lbd] master", body)
	}
	if host, _ := os.Hostname(); host != "master.test" {
		waitFor(t, 5*time.Second, func() bool {
			l := masterLog.String()
			return strings.Contains(l, "differs from [lbd] master") && strings.Contains(l, host)
		})
	}

	slaveOpts := lbdOpts{Role: "slave", Server: n.Addr, SNMPPort: agents[0].Port, URL: url,
		Alias: alias, Members: []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}, BestHosts: 2,
		Interval: "200ms", StaleAfter: "2s", Polling: "200ms"}
	scfg := writeLBDConfig(t, slaveOpts)
	addHeartbeatKeys(t, scfg, fmt.Sprintf("secret_file = %q", good))
	stopSlave, slaveLog := startLBD(t, "-config", scfg, "-hostname", "slave.test", "-log-level", "debug")
	// Well past stale_after with a verified heartbeat: nothing written.
	waitFor(t, 15*time.Second, func() bool {
		return strings.Count(slaveLog.String(), "slave passive: not writing") >= 20
	})
	if got, _ := published(t, n, alias); len(got) != 0 {
		t.Fatalf("slave with the master's secret wrote DNS: %v\n%s", got, slaveLog.String())
	}
	if strings.Contains(slaveLog.String(), "takes over") || strings.Contains(slaveLog.String(), "heartbeat rejected") {
		t.Fatalf("slave with the master's secret rejected its beats:\n%s", slaveLog.String())
	}
	stopSlave()

	fcfg := writeLBDConfig(t, slaveOpts)
	addHeartbeatKeys(t, fcfg, fmt.Sprintf("secret_file = %q", wrong))
	started := time.Now()
	_, forgedLog := startLBD(t, "-config", fcfg, "-hostname", "slave.test")
	bound := 2*time.Second + 200*time.Millisecond + 200*time.Millisecond + 5*time.Second
	waitFor(t, bound, func() bool {
		got, _ := published(t, n, alias)
		return equal(got, []string{"127.0.0.2", "127.0.0.3"})
	})
	t.Logf("slave with a wrong secret wrote DNS %v after it started", time.Since(started).Round(100*time.Millisecond))
	l := forgedLog.String()
	if !strings.Contains(l, "heartbeat rejected") || !strings.Contains(l, "HMAC does not verify") || !strings.Contains(l, "takes over") {
		t.Fatalf("slave log does not say why it took over:\n%s", l)
	}
}
