package faults

import (
	"bufio"
	"fmt"
	"net/netip"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"time"

	"github.com/miekg/dns"

	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/lbclient/sim"
)

// 10 % dead and 5 % garbage members (bin/lbsim -silent 0.1 -garbage 0.05):
// the running daemon publishes, for every alias, exactly the best usable
// members (docs/design.md §5), and garbage crashes nothing. Figure: the
// cycle time over the whole farm (dead members cost one timeout in
// parallel, docs/design.md §6).
func deadAndGarbageMembers(t *testing.T) {
	const (
		members, aliases = 200, 20
		zone             = "lb.farm"
		seed             = 7
		base             = "127.71.0.1"
	)
	port := testenv.FreePort(t, base)
	emitted := filepath.Join(t.TempDir(), "aliases.toml")
	sp := startProc(t, "lbsim", filepath.Join(binDir, "lbsim"), "-members", fmt.Sprint(members), "-aliases", fmt.Sprint(aliases),
		"-base", base, "-port", fmt.Sprint(port), "-version", "3", "-auth-password", snmpPassword,
		"-silent", "0.1", "-garbage", "0.05", "-walk", "0", "-seed", fmt.Sprint(seed), "-zone", zone, "-emit-config", emitted)
	waitFor(t, 30*time.Second, "lbsim ready", func() bool {
		sc := bufio.NewScanner(strings.NewReader(sp.log.String()))
		for sc.Scan() {
			if sc.Text() == "ready" {
				return true
			}
		}
		return false
	})
	// The same layout, computed here: lbsim is deterministic for a seed.
	layout, err := sim.New(sim.Config{Members: members, Aliases: aliases, Base: netip.MustParseAddr(base), Port: port,
		Silent: 0.1, Garbage: 0.05, Zone: zone, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	byAddr := map[string]*sim.Member{}
	for _, m := range layout.Members {
		byAddr[m.Addr.String()] = m
	}
	want := map[string]string{}
	faulty := 0
	for _, a := range layout.AliasNames {
		var healthy []*sim.Member
		for _, ad := range layout.AliasMembers[a] {
			if m := byAddr[ad.String()]; m.Fault == sim.Healthy {
				healthy = append(healthy, m)
			} else {
				faulty++
			}
		}
		sort.Slice(healthy, func(i, j int) bool { return healthy[i].Load() < healthy[j].Load() })
		var best []string
		for _, m := range healthy[:min(2, len(healthy))] {
			best = append(best, m.Addr.String())
		}
		sort.Strings(best)
		want[a] = strings.Join(best, " ")
	}
	if faulty != 30 {
		t.Fatalf("%d faulty members in the layout, want 30", faulty)
	}

	n := startNamed(t, zone)
	cfg := lbdConf{Role: "master", Servers: []string{n.Addr}, SNMPPort: port, Polling: "2s",
		Defaults: "best_hosts = 2\nfallback = \"none\"\n", Extra: mustRead(t, emitted)}.write(t)
	p := startLBD(t, cfg, "master.test")
	var wrong []string
	waitFor(t, 30*time.Second, "every alias publishing its best usable members", func() bool {
		wrong = wrong[:0]
		for _, a := range layout.AliasNames {
			if got := served(n.Addr, a); got != want[a] {
				wrong = append(wrong, fmt.Sprintf("%s: %q, want %q", a, got, want[a]))
			}
		}
		return len(wrong) == 0
	})
	// A few more full cycles for the figure.
	waitFor(t, 20*time.Second, "three full cycles", func() bool { return len(fullCycles(p, aliases)) >= 3 })
	c := fullCycles(p, aliases)
	if p.has("panic") {
		t.Fatal("lbd panicked")
	}
	report(t, "published set = best usable for %d/%d aliases; cycle over %d members (30 dead or garbage) %.2f s (median of %d, first %.2f s)",
		aliases, aliases, members, median(c), len(c), c[0])
}

// fullCycles are the cycle_seconds of the cycles over every alias.
func fullCycles(p *proc, aliases int) []float64 {
	var out []float64
	for _, e := range p.logLines() {
		if e["msg"] == "cycle" && e["aliases"] == float64(aliases) {
			out = append(out, e["cycle_seconds"].(float64))
		}
	}
	return out
}

// failoverSetup is a master (members 0 and 1: it publishes member 0) and a
// slave (member 2 only) writing the same alias on one named, the slave
// fetching heartbeatURL(masterHTTP): different member lists, so that DNS
// shows which one wrote and a second writer shows as a flap.
type failoverSetup struct {
	f          *farm
	a          string
	n          string // named's address
	masterCfg  string
	masterHTTP string
	master     *proc
	slave      *proc
}

func startFailover(t *testing.T, base string, heartbeatURL func(masterHTTP string) string) *failoverSetup {
	s := &failoverSetup{f: startFarm(t, base, 1, "lb.fault", 10, 20, 30)}
	s.a = s.f.alias(0)
	s.n = startNamed(t, s.a).Addr
	s.masterHTTP = freeAddr(t)
	s.masterCfg = lbdConf{Role: "master", Servers: []string{s.n}, SNMPPort: s.f.port, HTTP: s.masterHTTP,
		Aliases: []aliasConf{{Name: s.a, Members: []string{s.f.addr(0), s.f.addr(1)}, Best: 1}}}.write(t)
	s.master = startLBD(t, s.masterCfg, "master.test")
	waitFor(t, 20*time.Second, "the master's first write", func() bool { return served(s.n, s.a) == s.f.addr(0) })
	scfg := lbdConf{Role: "slave", Servers: []string{s.n}, SNMPPort: s.f.port, URL: heartbeatURL(s.masterHTTP),
		Aliases: []aliasConf{{Name: s.a, Members: []string{s.f.addr(2)}, Best: 1}}}.write(t)
	s.slave = startLBD(t, scfg, "slave.test")
	waitFor(t, 15*time.Second, "a passive slave", func() bool { return s.slave.count("slave passive: not writing") >= 3 })
	if got := served(s.n, s.a); got != s.f.addr(0) {
		t.Fatalf("a passive slave wrote: %q", got)
	}
	return s
}

// doubleWrites is how many changes of the sampled answer there were beyond
// the expected take-over and hand-back.
func doubleWrites(t *testing.T, smp *sampler, want []string) (int, int) {
	t.Helper()
	smp.halt()
	seq, samples := smp.changes()
	if len(seq) < len(want) {
		t.Fatalf("sampled %v, want at least %v", seq, want)
	}
	if len(seq) != len(want) {
		t.Errorf("DNS flapped (a second writer?): sampled %q, want %q", seq, want)
	}
	return len(seq) - len(want), samples
}

func direct(masterHTTP string) string { return "http://" + masterHTTP + "/load-balancing/heartbeat" }

// Master kill -9 and restart, slave present: the slave takes over after
// stale_after, takes the zone's lease and writes; the restarted master is
// fenced until the slave, seeing its beat, hands the lease back
// (docs/design.md §7, §9.4). Figures: seconds to fail over, double writes.
func masterKill9(t *testing.T) {
	s := startFailover(t, "127.70.6.1", direct)
	smp := startSampler(t, s.n, s.a)
	time.Sleep(time.Second)
	s.master.kill()
	failover := waitFor(t, 20*time.Second, "the slave's take-over", func() bool { return served(s.n, s.a) == s.f.addr(2) })
	time.Sleep(time.Second)
	startLBD(t, s.masterCfg, "master.test")
	handed := waitFor(t, 20*time.Second, "the slave's hand-back", func() bool { return s.slave.has("lease handed back") })
	lease := leaseState(s.n, s.a)
	back := handed + waitFor(t, 20*time.Second, "the master's write", func() bool { return served(s.n, s.a) == s.f.addr(0) })
	time.Sleep(time.Second)
	double, samples := doubleWrites(t, smp, []string{s.f.addr(0), s.f.addr(2), s.f.addr(0)})
	report(t, "%d double writes in %d samples (every 50 ms); failover %s after kill -9 (stale_after 2 s); after the restart the slave logged the hand-back in %s (then the lease in DNS: %s), the master wrote in %s",
		double, samples, secs(failover), secs(handed), lease, secs(back))
}

// Heartbeat partition: the slave cannot reach the master's heartbeat, both
// reach DNS. The zone lease lets only one of them write (docs/design.md
// §9.4). Figure: double writes while cut and after the heal.
func heartbeatPartition(t *testing.T) {
	var part *partition
	s := startFailover(t, "127.70.7.1", func(masterHTTP string) string {
		part = newPartition(t, masterHTTP)
		return part.URL
	})
	smp := startSampler(t, s.n, s.a)
	time.Sleep(time.Second)
	part.cut.Store(true)
	takeover := waitFor(t, 20*time.Second, "the slave's take-over", func() bool { return served(s.n, s.a) == s.f.addr(2) })
	waitFor(t, 10*time.Second, "the master fenced", func() bool { return s.master.has("lease lost") })
	time.Sleep(3 * time.Second) // many master cycles, all fenced
	part.cut.Store(false)
	handed := waitFor(t, 20*time.Second, "the slave's hand-back", func() bool { return s.slave.has("lease handed back") })
	lease := leaseState(s.n, s.a)
	heal := handed + waitFor(t, 20*time.Second, "the master's write", func() bool { return served(s.n, s.a) == s.f.addr(0) })
	time.Sleep(time.Second)
	double, samples := doubleWrites(t, smp, []string{s.f.addr(0), s.f.addr(2), s.f.addr(0)})
	report(t, "%d double writes in %d samples (every 50 ms; the master fenced: \"lease lost\"); take-over %s after the cut; after the heal the slave logged the hand-back in %s (then the lease in DNS: %s), the master wrote in %s",
		double, samples, secs(takeover), secs(handed), lease, secs(heal))

}

// Invalid configuration on SIGHUP (garbage, an unknown key, nesting deeper
// than the limit): each reload fails, the running configuration stays and
// changes keep being written (docs/design.md §5, D5). Figure: write outage,
// the longest time a change took to reach DNS after the bad reloads beyond
// the longest before.
func sighupInvalidConfig(t *testing.T) {
	f := startFarm(t, "127.70.8.1", 1, "lb.fault", 10, 20, 30)
	a := f.alias(0)
	n := startNamed(t, a)
	cfg := lbdConf{Role: "master", Servers: []string{n.Addr}, SNMPPort: f.port,
		Aliases: []aliasConf{{Name: a, Members: f.members(0), Best: 1}}}.write(t)
	good := mustRead(t, cfg)
	p := startLBD(t, cfg, "master.test")
	waitFor(t, 20*time.Second, "first write", func() bool { return served(n.Addr, a) == f.addr(0) })
	toggles := 0
	toggle := func() time.Duration { // member 0 out and in again, alternately
		toggles++
		want := f.addr(1)
		if toggles%2 == 0 {
			f.set(0, 10)
			want = f.addr(0)
		} else {
			f.set(0, 500)
		}
		return waitFor(t, 15*time.Second, "a change written", func() bool { return served(n.Addr, a) == want })
	}
	var before, after time.Duration
	for i := 0; i < 4; i++ {
		before = max(before, toggle())
	}
	bad := []string{
		"[lbd\nrole = \x00 master\n",
		good + "\n[bogus]\nkey = 1\n",
		good + "\n[extra]\nx = " + strings.Repeat("{ a = ", 64) + "1" + strings.Repeat(" }", 64) + "\n",
	}
	for i, b := range bad {
		mustWrite(t, cfg, b)
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		after = max(after, toggle()) // at once: a reload must not hold writes up
		waitFor(t, 10*time.Second, "the reload refused", func() bool { return p.count("reload failed, keeping the running configuration") >= i+1 })
		after = max(after, toggle())
	}
	if p.has("configuration reloaded") {
		t.Fatal("an invalid configuration was loaded")
	}
	outage := max(0, after-before)
	report(t, "%s of write outage over 3 refused reloads (garbage, unknown key, nesting 64 deep): changes written within %s after, %s before",
		secs(outage), secs(after), secs(before))
}

// leaseState says what the zone's lease record in DNS is (docs/design.md
// §9.4): "released", "held by <holder>", or what was read.
func leaseState(addr, zone string) string {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn("_lbd-lease."+zone), dns.TypeTXT)
	m.RecursionDesired = false
	r, err := exchange(m, addr, nil, time.Second)
	if err != nil {
		return err.Error()
	}
	var txt []string
	for _, rr := range r.Answer {
		if t, ok := rr.(*dns.TXT); ok {
			txt = append(txt, strings.Join(t.Txt, ""))
		}
	}
	if len(txt) != 1 {
		return fmt.Sprintf("%d records", len(txt))
	}
	for _, f := range strings.Fields(txt[0]) {
		if f == "released" {
			return "released"
		}
		if h, ok := strings.CutPrefix(f, "holder="); ok {
			return "held by " + h
		}
	}
	return fmt.Sprintf("%q", txt[0])
}
