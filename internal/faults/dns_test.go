package faults

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// DNS server down and back: named stops, the farm changes while it is
// down, named starts again; lbd, which marked the server down and probes
// it with backoff (docs/design.md §8), writes the change once it answers.
// Figure: seconds from named answering again to the change served.
func dnsDownAndBack(t *testing.T) {
	f := startFarm(t, "127.70.1.1", 1, "lb.fault", 10, 20, 30)
	a := f.alias(0)
	n := startNamed(t, a)
	cfg := lbdConf{Role: "master", Servers: []string{n.Addr}, SNMPPort: f.port,
		Aliases: []aliasConf{{Name: a, Members: f.members(0), Best: 1}}}.write(t)
	p := startLBD(t, cfg, "master.test")
	waitFor(t, 20*time.Second, "first write", func() bool { return served(n.Addr, a) == f.addr(0) })

	n.Stop()
	f.set(0, 500) // member 1 is now the best
	const down = 3 * time.Second
	time.Sleep(down)
	n.Start(t)
	took := waitFor(t, 30*time.Second, "the change after named returned", func() bool { return served(n.Addr, a) == f.addr(1) })
	report(t, "converged %s after the server returned (down %s; lbd logged %d \"marked down\", %d \"answers again\")",
		secs(took), secs(down), p.count("DNS server marked down"), p.count("DNS server answers again"))
}

// REFUSED: of two zones on one named, the second refuses lbd's key (no
// update-policy grant). The refusal is reported (log and /status) and the
// other zone is still written (docs/design.md §9.6). Figure: lbd cycles
// until the refusal is reported.
func refused(t *testing.T) {
	f := startFarm(t, "127.70.2.1", 2, "lb.fault", 10, 10, 20, 20)
	ok, bad := f.alias(0), f.alias(1)
	n := startNamed(t, ok, bad)
	// Drop the grant of the second zone: named then refuses its updates.
	n.Stop()
	conf := mustRead(t, n.Conf)
	i := strings.Index(conf, fmt.Sprintf("zone %q", bad+"."))
	j := strings.Index(conf[i:], "update-policy")
	k := strings.Index(conf[i+j:], "};\n")
	if i < 0 || j < 0 || k < 0 {
		t.Fatalf("no update-policy for %s in:\n%s", bad, conf)
	}
	conf = conf[:i+j] + conf[i+j+k+3:]
	mustWrite(t, n.Conf, conf)
	n.Start(t)

	httpAddr := freeAddr(t)
	cfg := lbdConf{Role: "master", Servers: []string{n.Addr}, SNMPPort: f.port, HTTP: httpAddr,
		Aliases: []aliasConf{{Name: ok, Members: f.members(0), Best: 1}, {Name: bad, Members: f.members(1), Best: 1}}}.write(t)
	p := startLBD(t, cfg, "master.test")
	waitFor(t, 20*time.Second, "the granted zone written", func() bool { return served(n.Addr, ok) == f.addr(0) })
	var reported int
	waitFor(t, 20*time.Second, "REFUSED reported", func() bool {
		c := 0
		for _, e := range p.logLines() {
			if e["msg"] == "cycle" {
				c++
			}
			if e["alias"] == bad && e["level"] == "error" && strings.Contains(fmt.Sprint(e["msg"]), "REFUSED") {
				reported = c + 1 // this cycle's own line comes after its errors
				return true
			}
		}
		return false
	})
	waitFor(t, 10*time.Second, "REFUSED in /status", func() bool {
		_, body, err := httpGet(&http.Client{Timeout: 2 * time.Second}, "http://"+httpAddr+"/status")
		return err == nil && strings.Contains(body, "REFUSED")
	})
	if got := served(n.Addr, bad); got != "" {
		t.Fatalf("the refusing zone serves %q", got)
	}
	report(t, "reported in cycle %d (log and /status); the granted zone was written in the same run (%s)", reported, served(n.Addr, ok))
}

// drainBesideBadServer runs lbd writing to a healthy named and to a bad
// server (slow or dead, made by bad for the alias); a member drained must
// reach the healthy server within one normal cycle plus [dns] stall (1 s),
// the bad one being marked down (issue 12 acceptance; docs/design.md §8).
func drainBesideBadServer(t *testing.T, base, what string, bad func(alias string) string) {
	f := startFarm(t, base, 1, "lb.fault", 10, 20, 30)
	a := f.alias(0)
	good := startNamed(t, a)
	cfg := lbdConf{Role: "master", Servers: []string{bad(a), good.Addr}, SNMPPort: f.port,
		Aliases: []aliasConf{{Name: a, Members: f.members(0), Best: 1}}}.write(t)
	p := startLBD(t, cfg, "master.test")
	waitFor(t, 20*time.Second, "first write to the healthy server", func() bool { return served(good.Addr, a) == f.addr(0) })
	waitFor(t, 10*time.Second, "the bad server marked down", func() bool { return p.has("DNS server marked down") })
	// A normal cycle is one that did not wait for the bad server (its
	// reads cut at [dns] stall, 1 s).
	var quick []float64
	for _, c := range cycles(p) {
		if c < 0.9 {
			quick = append(quick, c)
		}
	}
	normal := median(quick)
	f.set(0, 100000) // not usable (docs/design.md §5): drained
	took := waitFor(t, 15*time.Second, "the drain on the healthy server", func() bool { return served(good.Addr, a) == f.addr(1) })
	// A normal cycle: the polling interval (0.3 s) and the cycle itself.
	cycle := 300*time.Millisecond + time.Duration(normal*float64(time.Second))
	within := "within"
	if took > cycle+time.Second {
		within = "OVER"
	}
	report(t, "drain on the healthy server %s after the change, %s (%s the bound: one normal cycle %s + stall 1 s)",
		secs(took), what, within, secs(cycle))
	if took > 10*time.Second {
		t.Fatalf("the drain took %v", took)
	}
}

// Slow server: a proxy holding every query 3 s in front of a second named.
func slowServer(t *testing.T) {
	drainBesideBadServer(t, "127.70.3.1", "the other behind a 3 s delay", func(a string) string {
		return delayProxy(t, startNamed(t, a).Addr, 3*time.Second)
	})
}

// One of two servers dead (blackholed: it never answers).
func oneOfTwoDead(t *testing.T) {
	drainBesideBadServer(t, "127.70.4.1", "the other blackholed", func(string) string { return blackhole(t) })
}
