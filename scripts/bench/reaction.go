package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

const (
	benchAlias    = "www." + benchZone
	agentInterval = "1s"
)

// agentSet is three real lbclient agents on 127.0.0.2–4, one alias each
// with checks ["nologin"] and constant loads 10, 20, 30.
type agentSet struct {
	dir   string
	port  int
	procs []*proc
}

var agentLoads = map[int]int{2: 10, 3: 20, 4: 30}

func (a *agentSet) root(i int) string { return filepath.Join(a.dir, fmt.Sprintf("node%d", i)) }

// drain creates (on) or removes (off) /etc/nologin in agent i's root.
func (a *agentSet) drain(i int, on bool) error {
	f := filepath.Join(a.root(i), "etc", "nologin")
	if on {
		return os.WriteFile(f, nil, 0o644)
	}
	if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

func startAgents(dir string, bin string, push string) (*agentSet, error) {
	port, err := freePort("127.0.0.1")
	if err != nil {
		return nil, err
	}
	for range 20 {
		if udpPortFree(port, "127.0.0.2", "127.0.0.3", "127.0.0.4") {
			break
		}
		if port, err = freePort("127.0.0.1"); err != nil {
			return nil, err
		}
	}
	a := &agentSet{dir: dir, port: port}
	for _, i := range []int{2, 3, 4} {
		if err := os.MkdirAll(filepath.Join(a.root(i), "etc"), 0o755); err != nil {
			return nil, err
		}
		pushLine := ""
		if push != "" {
			pushLine = fmt.Sprintf("push = [%q]\n", push)
		}
		conf := fmt.Sprintf(`[agent]
listen = ["127.0.0.%d:%d"]
root = %q
users = [{ name = "loadbalancing", auth_protocol = "md5", auth_password = %q }]
interval = %q
%s
[[alias]]
name = %q
checks = ["nologin"]
loads = [{ type = "constant", data = "%d" }]
`, i, port, a.root(i), benchPassword, agentInterval, pushLine, benchAlias, agentLoads[i])
		path := filepath.Join(dir, fmt.Sprintf("lbclient%d.toml", i))
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			return nil, err
		}
		p, err := startProc(filepath.Join(bin, "lbclient"), filepath.Join(dir, fmt.Sprintf("lbclient%d.log", i)), "", "-config", path)
		if err != nil {
			a.stop()
			return nil, err
		}
		a.procs = append(a.procs, p)
	}
	// lbd starts once every agent listens: a first poll of an agent not
	// listening yet fails, and with a polling_interval of 30 s nothing
	// but a change of the agent's value would bring the member back.
	deadline := time.Now().Add(20 * time.Second)
	for _, p := range a.procs {
		for {
			if b, _ := os.ReadFile(p.log); bytes.Contains(b, []byte("lbclient agent started")) {
				break
			}
			if !p.running() || time.Now().After(deadline) {
				a.stop()
				return nil, fmt.Errorf("lbclient not started: log %s:\n%s", p.log, p.Tail())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return a, nil
}

func (a *agentSet) stop() {
	for _, p := range a.procs {
		p.stop(3 * time.Second)
	}
}

// lbdConf is a daemon configuration for the reaction and failover sections.
type lbdConf struct {
	role, master       string
	httpListen, hbURL  string
	dnsServer          string // "" = the embedded server on authListen
	authListen         string
	dataDir            string
	snmpPort           int
	polling            time.Duration
	pushListen, secret string
	// silentAlias adds an alias whose one member (127.0.0.9, no agent)
	// never answers, due every second, and leaves [snmp] timeout and
	// retries to lbd's defaults (2 s, 1 retry): nearly every cycle then
	// waits 4 s for it.
	silentAlias bool
}

func (c lbdConf) write(path string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "[lbd]\nrole = %q\n", c.role)
	if c.master != "" {
		fmt.Fprintf(&b, "master = %q\n", c.master)
	}
	if c.httpListen != "" {
		fmt.Fprintf(&b, "http_listen = %q\n", c.httpListen)
	}
	if c.pushListen != "" {
		fmt.Fprintf(&b, "push_listen = %q\npush_community = \"public\"\n", c.pushListen)
	}
	fmt.Fprintf(&b, "\n[heartbeat]\ninterval = \"1s\"\nstale_after = \"3s\"\n")
	if c.hbURL != "" {
		fmt.Fprintf(&b, "url = %q\n", c.hbURL)
	}
	fmt.Fprintf(&b, "\n[dns]\ninternal_key = { name = %q, algorithm = \"hmac-sha256\", secret = %q }\ntimeout = \"2s\"\n", keyName, c.secret)
	if c.dnsServer != "" {
		fmt.Fprintf(&b, "server = %q\n", c.dnsServer)
	}
	fmt.Fprintf(&b, "\n[snmp]\nversion = \"3\"\nport = %d\nuser = \"loadbalancing\"\nauth_protocol = \"md5\"\nauth_password = %q\n",
		c.snmpPort, benchPassword)
	if !c.silentAlias {
		b.WriteString("timeout = \"1s\"\nretries = 0\n")
	}
	fmt.Fprintf(&b, "\n[defaults]\nbest_hosts = 2\nttl = \"60s\"\npolling_interval = %q\n", c.polling.String())
	if c.dnsServer == "" {
		fmt.Fprintf(&b, "\n[authoritative]\nrrl_responses_per_second = 0 # the harness queries every 10 ms\nlisten = %q\ndata_dir = %q\nkeys = [{ name = %q, algorithm = \"hmac-sha256\", secret = %q }]\n\n[[authoritative.zone]]\nname = %q\nns = [\"ns1.%s.\"]\nupdate_keys = [%q]\n",
			c.authListen, c.dataDir, keyName, c.secret, benchZone, benchZone, keyName)
	}
	fmt.Fprintf(&b, "\n[[alias]]\nname = %q\nzone = %q\nmembers = [\"127.0.0.2\", \"127.0.0.3\", \"127.0.0.4\"]\n", benchAlias, benchZone)
	if c.silentAlias {
		fmt.Fprintf(&b, "\n[[alias]]\nname = %q\nzone = %q\nmembers = [\"127.0.0.9\"]\npolling_interval = \"1s\"\n", "silent."+benchZone, benchZone)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

const (
	answerBest    = "127.0.0.2 127.0.0.3" // loads 10, 20
	answerDrained = "127.0.0.3 127.0.0.4" // 127.0.0.2 has /etc/nologin
)

// reactionSection: /etc/nologin appears (or disappears) on a published
// member → the alias's answer from lbd's embedded server changes.
func reactionSection(ctx context.Context, o options, dir string) []*table {
	t := &table{title: "Reaction time (member flips nologin → DNS answer changes; embedded DNS server)",
		cols: []string{"mode", "lbd polling_interval", "samples", "median s", "max s", "drains", "drain median s", "drain p99 s", "samples s"}}
	t.note("method: 3 bin/lbclient agents (127.0.0.2–4, SNMPv3 MD5, checks [\"nologin\"], constant loads 10/20/30, [agent] interval %s) and a bin/lbd daemon (master, embedded [authoritative] server, best_hosts 2, tick 1s, [snmp] timeout 1s); "+
		"alternately /etc/nologin is created and removed in 127.0.0.2's root (answer %q ↔ %q); the time from the file operation until the A query answer (miekg/dns, every 10 ms) changes is one sample; a pause of 1 s + uniform 0–2 s between flips (one full polling period, so a flip's phase against lbd's cycle and the agents' rounds is uniform)", agentInterval, answerBest, answerDrained)
	t.note("without push the delay is bounded by agent interval + polling_interval + tick; with push (agents `push = [lbd]`, lbd `push_listen`; polling_interval 30 s, so only a push can explain a fast reaction) by the agent's reaction: it watches the nologin file (inotify), evaluates at once and sends the trap")
	t.note("samples alternate: a drain (nologin created), then its undo (removed); 'drain …' are the drains alone, p99 by nearest rank (of 20 samples: the largest)")
	t.note("'push, silent member': as push, with a second alias whose one member (127.0.0.9, no agent) never answers, due every second, and lbd's default [snmp] timeout and retries (2 s, 1 retry): nearly every cycle waits 4 s for that member when the drain's trap arrives")
	t.note("targets: ≤ 2 s with push (docs/design.md §6); issue 13: drain with push p99 ≤ 0.3 s over 20 samples")
	for _, mode := range []string{"polling", "push", "push, silent member"} {
		push, silent := mode != "polling", mode == "push, silent member"
		progress("reaction %s", mode)
		polling, flips := "2s", o.reps
		if push {
			polling, flips = "30s", o.pushFlips
		}
		d, err := reactionOne(ctx, o, filepath.Join(dir, strings.ReplaceAll(strings.ReplaceAll(mode, ",", ""), " ", "-")), push, silent, flips)
		if len(d) > 0 {
			var drains []time.Duration
			for i := 0; i < len(d); i += 2 {
				drains = append(drains, d[i])
			}
			slices.Sort(drains)
			med, mx := stats(d)
			dmed, _ := stats(drains)
			t.row(mode, polling, fmt.Sprint(len(d)), secs(med), secs(mx), fmt.Sprint(len(drains)), secs(dmed), secs(percentile(drains, 99)), list(d))
		}
		if err != nil {
			t.fail("%s: %v", mode, err)
		}
	}
	return []*table{t}
}

// reactionOne flips 127.0.0.2's nologin flips times, a drain first, and
// returns each flip's delay until the DNS answer changed.
func reactionOne(ctx context.Context, o options, dir string, push, silent bool, flips int) ([]time.Duration, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(flips)*15*time.Second+30*time.Second)
	defer cancel()
	dnsPort, err := freePort("127.0.0.1")
	if err != nil {
		return nil, err
	}
	pushAddr := ""
	if push {
		pp, err := freePort("127.0.0.1")
		if err != nil {
			return nil, err
		}
		pushAddr = fmt.Sprintf("127.0.0.1:%d", pp)
	}
	agents, err := startAgents(dir, o.bin, pushAddr)
	if err != nil {
		return nil, err
	}
	defer agents.stop()
	c := lbdConf{role: "master", authListen: fmt.Sprintf("127.0.0.1:%d", dnsPort), dataDir: filepath.Join(dir, "dns"),
		snmpPort: agents.port, polling: 2 * time.Second, pushListen: pushAddr, secret: newSecret(), silentAlias: silent}
	if push {
		c.polling = 30 * time.Second
	}
	cfg := filepath.Join(dir, "lbd.toml")
	if err := c.write(cfg); err != nil {
		return nil, err
	}
	lbd, err := startProc(filepath.Join(o.bin, "lbd"), filepath.Join(dir, "lbd.log"), "", "-config", cfg, "-hostname", "bench-master")
	if err != nil {
		return nil, err
	}
	defer lbd.stop(3 * time.Second)
	server := c.authListen
	if _, _, err := waitAnswer(ctx, server, benchAlias, answerBest, 20*time.Second); err != nil {
		return nil, fmt.Errorf("initial answer: %v; lbd log %s: %s", err, lbd.log, lbd.Tail())
	}
	var out []time.Duration
	drained := false
	for i := range flips {
		if err := sleepCtx(ctx, time.Second+rand.N(2*time.Second)); err != nil {
			return out, err
		}
		want := answerDrained
		if drained {
			want = answerBest
		}
		t0 := time.Now()
		if err := agents.drain(2, !drained); err != nil {
			return out, err
		}
		drained = !drained
		t1, _, err := waitAnswer(ctx, server, benchAlias, want, 15*time.Second)
		if err != nil {
			return out, fmt.Errorf("flip %d: %v; lbd log %s", i+1, err, lbd.log)
		}
		out = append(out, t1.Sub(t0))
		debugf("reaction push=%v flip %d: %v", push, i+1, t1.Sub(t0))
	}
	if !lbd.running() {
		return out, fmt.Errorf("lbd exited: %s", lbd.Tail())
	}
	return out, nil
}

// failoverSection: the master lbd is SIGKILLed → the slave's first DNS
// write (seen as the answer changing in named).
func failoverSection(ctx context.Context, o options, dir string) []*table {
	t := &table{title: "Failover time (master SIGKILLed → slave's first successful DNS write, into named)",
		cols: []string{"samples", "median s", "max s", "target s", "within target", "samples s"}}
	t.note("method: a throwaway named serves zone %s; master and slave bin/lbd daemons (explicit roles, [heartbeat] interval 1s, stale_after 3s, the slave fetches the master's /load-balancing/heartbeat; polling_interval 1s, tick 1s) poll the same 3 lbclient agents (SNMPv3 MD5, [agent] interval %s) and have the same alias; "+
		"per sample: start the master, wait until it published %q and the slave has a fresh beat, pause 0–1 s at random, SIGKILL the master, at once create /etc/nologin on 127.0.0.2, and time until named answers %q (A query every 10 ms)", benchZone, agentInterval, answerBest, answerDrained)
	t.note("target (docs/design.md §6): within 3 heartbeat intervals (3 s); the slave checks its role between fetches and, the moment its newest beat (whole seconds, fetched every interval) is older than stale_after (3 s), evaluates every alias and writes; so 1–3 s after the kill is expected with these settings")
	progress("failover")
	d, err := failoverRun(ctx, o, dir)
	if len(d) > 0 {
		med, mx := stats(d)
		ok := 0
		for _, x := range d {
			if x <= 3*time.Second {
				ok++
			}
		}
		t.row(fmt.Sprint(len(d)), secs(med), secs(mx), "3.000", fmt.Sprintf("%d/%d", ok, len(d)), list(d))
	}
	if err != nil {
		t.fail("%v", err)
	}
	return []*table{t}
}

func failoverRun(ctx context.Context, o options, dir string) ([]time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(o.reps)*25*time.Second+30*time.Second)
	defer cancel()
	secret := newSecret()
	nd, err := startNamed(ctx, filepath.Join(dir, "named"), []string{benchZone}, secret, 1)
	if err != nil {
		return nil, fmt.Errorf("named: %w", err)
	}
	defer nd.p.stop(5 * time.Second)
	agents, err := startAgents(dir, o.bin, "")
	if err != nil {
		return nil, err
	}
	defer agents.stop()
	mport, err := freePort("127.0.0.1")
	if err != nil {
		return nil, err
	}
	sport, err := freePort("127.0.0.1")
	if err != nil {
		return nil, err
	}
	base := lbdConf{master: "bench-master", dnsServer: nd.addr, snmpPort: agents.port, polling: time.Second, secret: secret,
		hbURL: fmt.Sprintf("http://127.0.0.1:%d/load-balancing/heartbeat", mport)}
	mc, sc := base, base
	mc.role, mc.httpListen = "master", fmt.Sprintf("127.0.0.1:%d", mport)
	sc.role, sc.httpListen = "slave", fmt.Sprintf("127.0.0.1:%d", sport)
	mcfg, scfg := filepath.Join(dir, "master.toml"), filepath.Join(dir, "slave.toml")
	if err := mc.write(mcfg); err != nil {
		return nil, err
	}
	if err := sc.write(scfg); err != nil {
		return nil, err
	}
	var slave *proc
	defer func() {
		if slave != nil {
			slave.stop(3 * time.Second)
		}
	}()
	var out []time.Duration
	for i := range o.reps {
		if err := agents.drain(2, false); err != nil {
			return out, err
		}
		master, err := startProc(filepath.Join(o.bin, "lbd"), filepath.Join(dir, "master.log"), "", "-config", mcfg, "-hostname", "bench-master")
		if err != nil {
			return out, err
		}
		if _, _, err := waitAnswer(ctx, nd.addr, benchAlias, answerBest, 20*time.Second); err != nil {
			master.kill()
			return out, fmt.Errorf("sample %d: master did not publish: %v; master log: %s", i+1, err, master.Tail())
		}
		if slave == nil {
			if slave, err = startProc(filepath.Join(o.bin, "lbd"), filepath.Join(dir, "slave.log"), "", "-config", scfg, "-hostname", "bench-slave"); err != nil {
				master.kill()
				return out, err
			}
		}
		if err := waitFreshBeat(ctx, sc.httpListen, 15*time.Second); err != nil {
			master.kill()
			return out, fmt.Errorf("sample %d: slave: %v; slave log: %s", i+1, err, slave.Tail())
		}
		if err := sleepCtx(ctx, rand.N(time.Second)); err != nil {
			master.kill()
			return out, err
		}
		t0 := time.Now()
		master.kill()
		if err := agents.drain(2, true); err != nil {
			return out, err
		}
		t1, _, err := waitAnswer(ctx, nd.addr, benchAlias, answerDrained, 20*time.Second)
		if err != nil {
			return out, fmt.Errorf("sample %d: slave did not take over: %v; slave log %s: %s", i+1, err, slave.log, slave.Tail())
		}
		out = append(out, t1.Sub(t0))
		debugf("failover sample %d: %v", i+1, t1.Sub(t0))
	}
	return out, nil
}

// waitFreshBeat waits until the slave's /status shows a master beat less
// than 1.5 s old (so it is passive and the failover clock starts fair).
func waitFreshBeat(ctx context.Context, listen string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	cl := &http.Client{Timeout: time.Second}
	var last string
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+listen+"/status", nil)
		if resp, err := cl.Do(req); err == nil {
			var st struct {
				LastBeat time.Time `json:"master_last_beat"`
			}
			err = json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			if err == nil && !st.LastBeat.IsZero() && time.Since(st.LastBeat) < 1500*time.Millisecond {
				return nil
			}
			last = fmt.Sprintf("last beat %v", st.LastBeat)
		} else {
			last = err.Error()
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("no fresh master beat after %v (%s)", limit, last)
}
