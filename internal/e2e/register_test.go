package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/internal/register"
	"github.com/lbd-project/lbd/internal/testenv"
)

const registerSecret = "e2e-register-secret-0123456789"

// Self-registration (issue 14): a member announces itself to the master
// and the slave, appears in DNS with no lbd configuration change, is shown
// in /status, /metrics and the audit log, survives an lbd restart, and
// leaves DNS once it stops renewing and its registration expires. A
// forged registration changes nothing and is counted.
func TestSelfRegistration(t *testing.T) {
	testenv.Require(t, "named")
	ensureLoopback(t, "127.0.0.2", "127.0.0.3")
	port := testenv.FreePort(t, "127.0.0.2")
	n := startNamed(t)
	dir := t.TempDir()
	secrets := filepath.Join(dir, "register.secrets")
	require.NoError(t, os.WriteFile(secrets, []byte("# alias secret\n"+alias+" "+registerSecret+"\n"), 0o600))
	startAgent(t, "127.0.0.2", port, alias, 10)

	masterHTTP := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "127.0.0.1"))
	slaveHTTP := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "127.0.0.1"))
	auditLog := filepath.Join(dir, "audit.log")
	regAlias := fmt.Sprintf("[[alias]]\nname = %q\nmembers = [\"127.0.0.2\"]\nmembers_from = \"register\"\nbest_hosts = 2\nttl = \"60s\"\n", alias)
	lbdCfg := func(role, httpAddr, state string) string {
		path := writeLBDConfig(t, lbdOpts{Role: role, Server: n.Addr, SNMPPort: port, HTTP: httpAddr, StateDir: state,
			AuditLog: auditLog, URL: "http://" + masterHTTP + "/load-balancing/heartbeat", Polling: "200ms", Extra: regAlias})
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		b = bytes.Replace(b, []byte("[lbd]\n"), []byte(fmt.Sprintf("[lbd]\nregister_secret_file = %q\n", secrets)), 1)
		require.NoError(t, os.WriteFile(path, b, 0o644))
		return path
	}
	masterCfg := lbdCfg("master", masterHTTP, filepath.Join(dir, "master-state"))
	slaveCfg := lbdCfg("slave", slaveHTTP, filepath.Join(dir, "slave-state"))
	stopMaster, _ := startLBD(t, "-config", masterCfg, "-hostname", "master.test")
	startLBD(t, "-config", slaveCfg, "-hostname", "slave.test")
	waitHTTP(t, "http://"+masterHTTP+"/status")
	waitHTTP(t, "http://"+slaveHTTP+"/status")
	a := func() string { g, _ := published(t, n, alias); return strings.Join(g, " ") }
	waitFor(t, 10*time.Second, func() bool { return a() == "127.0.0.2" })

	// A forged registration (a MAC made with another secret): refused with
	// 403, counted, nothing in DNS.
	forged := register.Sign(register.New(alias, "intruder.test", nil, time.Minute, time.Now()), []byte("not-the-secret-0123456789"))
	body, _ := json.Marshal(register.Request{Registrations: []register.Registration{forged}})
	resp, err := http.Post("http://"+masterHTTP+register.Path, "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Contains(t, scrapeMetrics(t, masterHTTP), `lbd_registrations_total{result="bad_signature"} 1`)

	// The member registers itself with both instances (renewing every
	// 300 ms, expiring 2 s after its last renewal) and joins the alias.
	member := startAgentWith(t, "127.0.0.3", port, alias, 20, fmt.Sprintf(
		"register = [%q, %q]\nregister_secret_file = %q\nregister_interval = \"1s\"\nregister_ttl = \"3s\"\nregister_host = \"node3.test\"\nregister_addresses = [\"127.0.0.3\"]\n",
		masterHTTP, slaveHTTP, secrets))
	waitFor(t, 10*time.Second, func() bool { return a() == "127.0.0.2 127.0.0.3" })
	for _, h := range []string{masterHTTP, slaveHTTP} {
		st := statusOf(t, "http://"+h+"/status")
		require.Contains(t, st, `"host": "node3.test"`, "both instances see the registration (%s)", h)
		require.Contains(t, st, `"registered_until"`)
	}
	require.Contains(t, scrapeMetrics(t, masterHTTP), `lbd_alias_registered_members{alias="`+alias+`"} 1`)
	require.Contains(t, statusOf(t, "http://"+masterHTTP+"/"), "registered until", "the status page shows it")
	waitFor(t, 5*time.Second, func() bool {
		b, _ := os.ReadFile(auditLog)
		return strings.Contains(string(b), `"event":"registration"`) && strings.Contains(string(b), `"change":"added"`)
	})
	require.NotContains(t, a(), "intruder", "the forged registration changed nothing")

	// An lbd restart keeps the registration (state_dir) until it expires.
	stopMaster()
	startLBD(t, "-config", masterCfg, "-hostname", "master.test")
	waitHTTP(t, "http://"+masterHTTP+"/status")
	require.Contains(t, statusOf(t, "http://"+masterHTTP+"/status"), `node3.test`)

	// The member stops registering (a reload without [agent] register)
	// but keeps answering SNMP: its registration expires and it leaves DNS.
	b, err := os.ReadFile(member.Config)
	require.NoError(t, err)
	b = bytes.Replace(b, []byte("register = "), []byte("# register = "), 1)
	require.NoError(t, os.WriteFile(member.Config, b, 0o644))
	require.NoError(t, member.cmd.Process.Signal(syscall.SIGHUP))
	waitFor(t, 5*time.Second, func() bool { return strings.Contains(member.log.String(), "configuration reloaded") })
	waitFor(t, 15*time.Second, func() bool { return a() == "127.0.0.2" })
	waitFor(t, 5*time.Second, func() bool {
		b, _ := os.ReadFile(auditLog)
		return strings.Contains(string(b), `"change":"expired"`)
	})
	member.waitLoad(t, 20) // it still answers: it left because its registration expired
	waitFor(t, 5*time.Second, func() bool { return !strings.Contains(statusOf(t, "http://"+masterHTTP+"/status"), `node3.test`) })
}
