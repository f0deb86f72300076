package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/lbd/render"
)

// renderTemplate is lbd/render's HAProxy fixture (a whole configuration:
// one backend per alias, one server per published member) made concrete
// for h.
func renderTemplate(t *testing.T, h *testenv.HAProxy) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "lbd", "render", "testdata", "haproxy.cfg.tmpl"))
	require.NoError(t, err)
	text := strings.NewReplacer("@STATS@", h.Socket, "@PORT@", strconv.Itoa(h.Port)).Replace(string(b))
	p := filepath.Join(h.Dir, "haproxy.cfg.tmpl")
	require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	return p
}

// The real lbd renders an HAProxy configuration from the membership of
// its alias after every cycle: HAProxy, reloaded by reload_cmd, runs with
// the published members and follows a member that drains (nologin) and
// comes back. Each replacement is audited and counted; a section whose
// check refuses the new file keeps its old file and says why.
func TestRenderHAProxyFollowsMembership(t *testing.T) {
	h := testenv.NewHAProxy(t)
	agents := startThreeAgents(t)
	tmpl := renderTemplate(t, h)
	out := h.Conf
	const backend = "www_lb_test"

	// HAProxy runs before lbd, with the template's file for no member.
	tmplParsed, err := render.ParseTemplate(tmpl)
	require.NoError(t, err)
	empty, err := (&render.Target{Template: tmplParsed}).Render(render.Data{Aliases: []render.Alias{{Name: alias}}})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(out, empty, 0o644))
	h.Start(t)
	h.WaitServers(t, backend, nil, 15*time.Second)

	refused := filepath.Join(t.TempDir(), "refused.cfg")
	require.NoError(t, os.WriteFile(refused, []byte("old\n"), 0o644))
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "127.0.0.1"))
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "127.0.0.1"))
	auditPath := filepath.Join(t.TempDir(), "audit.log")
	cfg := writeLBDConfig(t, lbdOpts{Role: "master", Embedded: addr, DataDir: t.TempDir(), SNMPPort: agents[0].Port,
		HTTP: httpAddr, AuditLog: auditPath, Polling: "200ms",
		Alias: alias, Members: []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}, BestHosts: 2,
		Extra: fmt.Sprintf(`
[[render]]
template = %q
output = %q
check_cmd = %q
reload_cmd = %q
timeout = "30s"

[[render]]
template = %q
output = %q
check_cmd = "echo refused by the test >&2; exit 1"
`, tmpl, out, h.CheckCmd(), h.ReloadCmd(), tmpl, refused)})
	_, log := startLBD(t, "-config", cfg, "-hostname", "master.test")

	servers := func(ips ...string) []string {
		var s []string
		for _, ip := range ips {
			s = append(s, strings.ReplaceAll(ip, ".", "_")+" "+ip+":80")
		}
		return s
	}
	file := func() string { b, _ := os.ReadFile(out); return string(b) }
	follow := func(ips ...string) {
		t.Helper()
		h.WaitServers(t, backend, servers(ips...), 30*time.Second)
		for _, s := range servers(ips...) {
			assert.Contains(t, file(), "server "+s+"\n")
		}
		assert.Equal(t, len(ips), strings.Count(file(), "    server "), file())
	}
	follow("127.0.0.2", "127.0.0.3")

	agents[0].nologin(t, true)
	follow("127.0.0.3", "127.0.0.4")
	assert.Contains(t, file(), "2 published of 2 usable, 3 configured", "the drained member is not usable")

	agents[0].nologin(t, false)
	follow("127.0.0.2", "127.0.0.3")

	// The refused section: its old file stays, the error says why.
	waitFor(t, 15*time.Second, func() bool { return strings.Contains(log.String(), "refused by the test") })
	b, err := os.ReadFile(refused)
	require.NoError(t, err)
	assert.Equal(t, "old\n", string(b))
	assert.Contains(t, log.String(), "the previous file is kept")
	left, err := filepath.Glob(filepath.Join(filepath.Dir(refused), ".refused.cfg.lbd-*"))
	require.NoError(t, err)
	assert.Empty(t, left, "no temporary file left behind")

	// Counted and audited: three replacements of the HAProxy file, and
	// rounds with nothing to do once the membership settled.
	unchanged := regexp.MustCompile(`lbd_render_total\{output="` + regexp.QuoteMeta(out) + `",result="unchanged"\} [1-9]`)
	var metrics string
	waitFor(t, 15*time.Second, func() bool {
		metrics = statusOf(t, "http://"+httpAddr+"/metrics")
		return unchanged.MatchString(metrics)
	})
	assert.Contains(t, metrics, `lbd_render_total{output="`+out+`",result="replaced"} 3`+"\n")
	assert.Contains(t, metrics, `lbd_render_total{output="`+refused+`",result="check_failed"}`)
	al, err := os.ReadFile(auditPath)
	require.NoError(t, err)
	assert.Equal(t, 3, strings.Count(string(al), `"event":"render"`), string(al))
	assert.Contains(t, string(al), `"file":"`+out+`"`)
	assert.NotContains(t, string(al), refused, "a refused file is not audited")
}

// Rendering runs on every instance: a passive slave, which does not write
// DNS, renders the same membership as the master and follows a drain.
func TestRenderOnPassiveSlave(t *testing.T) {
	agents := startThreeAgents(t)
	dir := t.TempDir()
	tmpl := filepath.Join(dir, "members.tmpl")
	require.NoError(t, os.WriteFile(tmpl, []byte("{{range .Aliases}}{{.Name}}:{{range .Published}} {{.Host}}{{end}}\n{{end}}"), 0o644))
	section := func(out string) string {
		return fmt.Sprintf("\n[[render]]\ntemplate = %q\noutput = %q\n", tmpl, out)
	}
	outM, outS := filepath.Join(dir, "master.txt"), filepath.Join(dir, "slave.txt")
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "127.0.0.1"))
	masterHTTP := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "127.0.0.1"))
	slaveHTTP := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "127.0.0.1"))
	members := []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}
	mcfg := writeLBDConfig(t, lbdOpts{Role: "master", Embedded: addr, DataDir: t.TempDir(), SNMPPort: agents[0].Port,
		HTTP: masterHTTP, Polling: "200ms", Alias: alias, Members: members, BestHosts: 2, Extra: section(outM)})
	scfg := writeLBDConfig(t, lbdOpts{Role: "slave", Server: addr, SNMPPort: agents[0].Port, HTTP: slaveHTTP,
		URL: "http://" + masterHTTP + "/load-balancing/heartbeat", StaleAfter: "30s",
		Polling: "200ms", Alias: alias, Members: members, BestHosts: 2, Extra: section(outS)})
	startLBD(t, "-config", mcfg, "-hostname", "master.test")
	waitHTTP(t, "http://"+masterHTTP+"/status")
	startLBD(t, "-config", scfg, "-hostname", "slave.test")
	waitHTTP(t, "http://"+slaveHTTP+"/status")

	both := func(want string) {
		t.Helper()
		waitFor(t, 30*time.Second, func() bool {
			m, _ := os.ReadFile(outM)
			s, _ := os.ReadFile(outS)
			return string(m) == want && string(s) == want
		})
	}
	both(alias + ": 127.0.0.2 127.0.0.3\n")
	agents[0].nologin(t, true)
	both(alias + ": 127.0.0.3 127.0.0.4\n")
	agents[0].nologin(t, false)
	both(alias + ": 127.0.0.2 127.0.0.3\n")
	assert.Contains(t, statusOf(t, "http://"+slaveHTTP+"/status"), `"writing": false`, "the slave stayed passive")
}
