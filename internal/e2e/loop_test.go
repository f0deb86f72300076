package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/internal/tsig"
)

const alias = "www.lb.test"

func startNamed(t *testing.T) *testenv.Named {
	t.Helper()
	return testenv.StartNamed(t, testenv.NamedOptions{
		Zones: []string{alias},
		Keys:  []tsig.Spec{lbdKey},
	})
}

func startThreeAgents(t *testing.T) []*agent {
	t.Helper()
	testenv.Require(t, "named")
	ensureLoopback(t, "127.0.0.2", "127.0.0.3", "127.0.0.4")
	port := testenv.FreePort(t, "127.0.0.2")
	return []*agent{
		startAgent(t, "127.0.0.2", port, alias, 10),
		startAgent(t, "127.0.0.3", port, alias, 20),
		startAgent(t, "127.0.0.4", port, alias, 30),
	}
}

// The walking skeleton: three agents, lbd -once publishes the two least
// loaded; a member switched to nologin disappears after the next cycle; the
// TTL is the configured one.
func TestLoopPublishesBestAndDrainsNologin(t *testing.T) {
	agents := startThreeAgents(t)
	n := startNamed(t)
	cfg := writeLBDConfig(t, lbdOpts{Role: "master", Server: n.Addr, SNMPPort: agents[0].Port, Alias: alias,
		Members: []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}, BestHosts: 2, TTL: "120s"})

	out, errOut, err := runLBD(t, "-config", cfg, "-once")
	if err != nil {
		t.Fatalf("lbd -once: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	got, ttls := published(t, n, alias)
	if !equal(got, []string{"127.0.0.2", "127.0.0.3"}) {
		t.Fatalf("published %v, want the two least loaded 127.0.0.2 127.0.0.3\n%s\n%s", got, out, errOut)
	}
	for _, ttl := range ttls {
		if ttl != 120 {
			t.Fatalf("TTL %d, want the configured 120", ttl)
		}
	}

	// Unchanged input → no update the second time.
	out, errOut, err = runLBD(t, "-config", cfg, "-once")
	if err != nil || !strings.Contains(out, "DNS unchanged") {
		t.Fatalf("second -once: %v\n%s\n%s", err, out, errOut)
	}

	agents[0].nologin(t, true)
	agents[0].waitLoad(t, -1)
	out, errOut, err = runLBD(t, "-config", cfg, "-once")
	if err != nil {
		t.Fatalf("lbd -once: %v\n%s\n%s", err, out, errOut)
	}
	if got, _ := published(t, n, alias); !equal(got, []string{"127.0.0.3", "127.0.0.4"}) {
		t.Fatalf("after nologin on 127.0.0.2: published %v, want 127.0.0.3 127.0.0.4", got)
	}

	// -dry-run shows the change back without sending it.
	agents[0].nologin(t, false)
	agents[0].waitLoad(t, 10)
	out, errOut, err = runLBD(t, "-config", cfg, "-dry-run")
	if err != nil || !strings.Contains(out, "127.0.0.2") {
		t.Fatalf("dry-run: %v\n%s\n%s", err, out, errOut)
	}
	if got, _ := published(t, n, alias); !equal(got, []string{"127.0.0.3", "127.0.0.4"}) {
		t.Fatalf("dry-run changed DNS: %v", got)
	}
}

// An update signed with a wrong key is refused by named, and lbd says so
// with the rcode and a non-zero exit.
func TestWrongKeyIsReported(t *testing.T) {
	agents := startThreeAgents(t)
	n := startNamed(t)
	cfg := writeLBDConfig(t, lbdOpts{Role: "master", Server: n.Addr, Secret: wrongSecret, SNMPPort: agents[0].Port,
		Alias: alias, Members: []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}, BestHosts: 2})
	out, errOut, err := runLBD(t, "-config", cfg, "-once")
	if err == nil {
		t.Fatalf("lbd -once with a wrong key exited 0\n%s\n%s", out, errOut)
	}
	if !strings.Contains(errOut+out, "NOTAUTH") && !strings.Contains(errOut+out, "BADSIG") {
		t.Fatalf("rcode not reported:\n%s\n%s", out, errOut)
	}
	if got, _ := published(t, n, alias); len(got) != 0 {
		t.Fatalf("DNS changed despite the refused update: %v", got)
	}
}

// A slave with a fresh master heartbeat sends no update; with the master
// stopped it writes within stale_after + one interval (plus a polling
// cycle and slack for process start-up: this is a correctness bound, not
// a speed measurement).
func TestSlaveTakesOverWhenMasterStops(t *testing.T) {
	agents := startThreeAgents(t)
	n := startNamed(t)
	masterHTTP := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "127.0.0.1"))
	// The master serves only the heartbeat here (no aliases), so any record
	// in DNS can only come from the slave.
	mcfg := writeLBDConfig(t, lbdOpts{Role: "master", Server: n.Addr, SNMPPort: agents[0].Port, HTTP: masterHTTP})
	stopMaster, _ := startLBD(t, "-config", mcfg, "-hostname", "master.test")
	url := "http://" + masterHTTP + "/load-balancing/heartbeat"
	waitHTTP(t, url)

	scfg := writeLBDConfig(t, lbdOpts{Role: "slave", Server: n.Addr, SNMPPort: agents[0].Port, URL: url,
		Alias: alias, Members: []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}, BestHosts: 2,
		Interval: "200ms", StaleAfter: "2s", Polling: "200ms"})
	_, slaveLog := startLBD(t, "-config", scfg, "-hostname", "slave.test", "-log-level", "debug")

	// Several slave cycles with a fresh heartbeat: nothing written.
	waitFor(t, 10*time.Second, func() bool { return strings.Count(slaveLog.String(), "slave passive: not writing") >= 5 })
	if got, _ := published(t, n, alias); len(got) != 0 {
		t.Fatalf("slave wrote DNS while the master's heartbeat was fresh: %v", got)
	}

	// lbd -once as the same slave: evaluates, says it did not write.
	out, errOut, err := runLBD(t, "-config", scfg, "-once", "-hostname", "slave.test")
	if err != nil || !strings.Contains(out, "1 server(s) differ, not written (slave passive)") {
		t.Fatalf("slave -once: %v\n%s\n%s", err, out, errOut)
	}
	if got, _ := published(t, n, alias); len(got) != 0 {
		t.Fatalf("slave -once wrote DNS while the master's heartbeat was fresh: %v", got)
	}

	stopMaster()
	stopped := time.Now()
	bound := 2*time.Second + 200*time.Millisecond + 200*time.Millisecond + 3*time.Second
	waitFor(t, bound, func() bool {
		got, _ := published(t, n, alias)
		return equal(got, []string{"127.0.0.2", "127.0.0.3"})
	})
	t.Logf("slave wrote DNS %v after the master stopped", time.Since(stopped).Round(100*time.Millisecond))
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	c := &http.Client{Timeout: 500 * time.Millisecond}
	waitFor(t, 10*time.Second, func() bool {
		r, err := c.Get(url)
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == 200
	})
}

// waitFor polls cond every 50ms until it holds or limit passes (bounded).
func waitFor(t *testing.T, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("condition not met within %v", limit)
}

// external = true writes the same selection into the external view with the
// external key; both views answer it.
func TestExternalView(t *testing.T) {
	agents := startThreeAgents(t)
	ext := tsig.Spec{Name: "lbd-ext.", Algorithm: "hmac-sha512", Secret: extSecret}
	n := testenv.StartNamed(t, testenv.NamedOptions{
		Zones:       []string{alias},
		Keys:        []tsig.Spec{lbdKey},
		ExternalKey: &ext,
	})
	cfg := writeLBDConfig(t, lbdOpts{Role: "master", Server: n.Addr, SNMPPort: agents[0].Port, Alias: alias,
		Members: []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}, BestHosts: 1, External: true})
	if out, errOut, err := runLBD(t, "-config", cfg, "-once"); err != nil {
		t.Fatalf("lbd -once: %v\n%s\n%s", err, out, errOut)
	}
	if got, _ := published(t, n, alias); !equal(got, []string{"127.0.0.2"}) {
		t.Fatalf("internal view: %v", got)
	}
	if extGot := testenv.AddrsA(n.QueryView(t, alias, dns.TypeA, &ext)); !equal(extGot, []string{"127.0.0.2"}) {
		t.Fatalf("external view: %v", extGot)
	}
}

// Two DNS servers: one is stopped while the selection changes; the other is
// updated; when the stopped one returns it is brought up to date.
func TestTwoServersConverge(t *testing.T) {
	agents := startThreeAgents(t)
	a, b := startNamed(t), startNamed(t)
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "127.0.0.1"))
	cfg := writeLBDConfig(t, lbdOpts{Role: "master", Servers: []string{a.Addr, b.Addr}, SNMPPort: agents[0].Port, HTTP: httpAddr,
		Alias: alias, Members: []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}, BestHosts: 2, Polling: "300ms"})
	startLBD(t, "-config", cfg, "-hostname", "master.test")
	best := []string{"127.0.0.2", "127.0.0.3"}
	waitFor(t, 10*time.Second, func() bool {
		ga, _ := published(t, a, alias)
		gb, _ := published(t, b, alias)
		return equal(ga, best) && equal(gb, best)
	})

	b.Stop()
	agents[0].nologin(t, true)
	drained := []string{"127.0.0.3", "127.0.0.4"}
	waitFor(t, 10*time.Second, func() bool { g, _ := published(t, a, alias); return equal(g, drained) })
	// The status page says which server is behind.
	waitFor(t, 10*time.Second, func() bool {
		st := getStatus(t, httpAddr)
		srv := st.Aliases[alias].Servers
		return srv[a.Addr] == "ok" && srv[b.Addr] != "" && srv[b.Addr] != "ok"
	})

	// Both down: nothing can be decided; the status page keeps showing the
	// last decision (what DNS still serves) next to the errors.
	a.Stop()
	waitFor(t, 10*time.Second, func() bool {
		st := getStatus(t, httpAddr).Aliases[alias]
		return st.Servers[a.Addr] != "ok" && st.Servers[a.Addr] != "" && equal(st.Hosts, []string{"127.0.0.3", "127.0.0.4"})
	})
	a.Start(t)

	b.Start(t)
	waitFor(t, 10*time.Second, func() bool { g, _ := published(t, b, alias); return equal(g, drained) })
}

type aliasDoc struct {
	Name    string            `json:"name"`
	Hosts   []string          `json:"hosts"`
	Servers map[string]string `json:"dns_servers"`
}

type statusDoc struct {
	List    []aliasDoc `json:"aliases"`
	Aliases map[string]aliasDoc
}

func getStatus(t *testing.T, addr string) statusDoc {
	t.Helper()
	var st statusDoc
	r, err := (&http.Client{Timeout: time.Second}).Get("http://" + addr + "/status")
	if err != nil {
		return st
	}
	defer r.Body.Close()
	json.NewDecoder(r.Body).Decode(&st)
	st.Aliases = map[string]aliasDoc{}
	for _, a := range st.List {
		st.Aliases[a.Name] = a
	}
	return st
}

// lbd with its embedded authoritative server and no BIND: the alias is
// published into the embedded zone and survives an lbd restart (journal).
func TestEmbeddedServer(t *testing.T) {
	agents := startThreeAgents(t)
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "127.0.0.1"))
	data := t.TempDir()
	cfg := writeLBDConfig(t, lbdOpts{Role: "master", Embedded: addr, DataDir: data, SNMPPort: agents[0].Port,
		Alias: alias, Members: []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}, BestHosts: 2, TTL: "90s"})
	stop, _ := startLBD(t, "-config", cfg, "-hostname", "master.test")
	query := func() []string {
		c := &dns.Client{Timeout: 300 * time.Millisecond}
		m := new(dns.Msg)
		m.SetQuestion(alias+".", dns.TypeA)
		r, _, err := c.Exchange(m, addr)
		if err != nil {
			return nil
		}
		var out []string
		for _, rr := range r.Answer {
			if a, ok := rr.(*dns.A); ok && a.Hdr.Ttl == 90 && r.Authoritative {
				out = append(out, a.A.String())
			}
		}
		sort.Strings(out)
		return out
	}
	waitFor(t, 10*time.Second, func() bool { return equal(query(), []string{"127.0.0.2", "127.0.0.3"}) })
	agents[0].nologin(t, true)
	waitFor(t, 10*time.Second, func() bool { return equal(query(), []string{"127.0.0.3", "127.0.0.4"}) })

	// kill -9 and restart with the agents gone: the zone is loaded from disk
	// and, with fallback keep, the records stay.
	stop()
	for _, a := range agents {
		a.cmd.Process.Kill()
	}
	startLBD(t, "-config", cfg, "-hostname", "master.test")
	waitFor(t, 10*time.Second, func() bool { return equal(query(), []string{"127.0.0.3", "127.0.0.4"}) })
}

// SIGHUP reloads the configuration; an invalid file is refused and the
// running configuration kept.
func TestReloadOnSIGHUP(t *testing.T) {
	agents := startThreeAgents(t)
	n := startNamed(t)
	opts := lbdOpts{Role: "master", Server: n.Addr, SNMPPort: agents[0].Port, Alias: alias,
		Members: []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}, BestHosts: 1}
	cfg := writeLBDConfig(t, opts)
	_, log, cmd := startLBDCmd(t, "-config", cfg, "-hostname", "master.test")
	waitFor(t, 10*time.Second, func() bool { g, _ := published(t, n, alias); return equal(g, []string{"127.0.0.2"}) })

	opts.BestHosts = 3
	data, err := os.ReadFile(writeLBDConfig(t, opts))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, 10*time.Second, func() bool {
		g, _ := published(t, n, alias)
		return equal(g, []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"})
	})

	if err := os.WriteFile(cfg, []byte("[lbd]\nbogus = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, 10*time.Second, func() bool { return strings.Contains(log.String(), "reload failed") })
	agents[2].nologin(t, true) // still running with the last good config
	waitFor(t, 10*time.Second, func() bool {
		g, _ := published(t, n, alias)
		return equal(g, []string{"127.0.0.2", "127.0.0.3"})
	})
}

// lbd -convert-legacy prints a loadable TOML configuration and exits 1
// when the legacy file had errors.
func TestConvertLegacyCommand(t *testing.T) {
	out, errOut, err := runLBD(t, "-convert-legacy", filepath.Join("..", "..", "lbd", "legacyconf", "testdata", "lbd.conf"))
	if err == nil || !strings.Contains(errOut, "metric cmsweb is rejected") {
		t.Fatalf("want exit 1 and the report on stderr: %v\n%s", err, errOut)
	}
	path := filepath.Join(t.TempDir(), "converted.toml")
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	if o, e, err := runLBD(t, "-check-config", path); err != nil || !strings.Contains(o, "OK (2 aliases)") {
		t.Fatalf("converted file: %v\n%s\n%s\n%s", err, o, e, out)
	}
}
