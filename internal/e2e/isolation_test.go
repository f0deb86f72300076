package e2e

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/internal/testenv"
)

// blackhole is a DNS "server" that reads every query and never answers
// (UDP), and accepts TCP connections and never answers on them.
func blackhole(t *testing.T) string {
	t.Helper()
	port := testenv.FreePort(t, "127.0.0.1")
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	pc, err := net.ListenPacket("udp", addr)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { pc.Close(); ln.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for len(held) < 1000 { // bounded
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	return addr
}

// One of two DNS servers is blackholed (it never answers): it is marked
// down, the healthy server keeps getting every change, and a drain reaches
// it within a few cycles (the bound here is a generous correctness bound;
// BENCHMARKS.md has the measured figure).
func TestBlackholedServerDoesNotStallTheOther(t *testing.T) {
	agents := startThreeAgents(t)
	good := startNamed(t)
	dead := blackhole(t)
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "127.0.0.1"))
	// Twelve more aliases and the default DNS timeout (2 s, 2 retries):
	// before per-server isolation every read of the dead server cost 6 s,
	// four aliases at a time, and the healthy server waited for all of
	// them.
	var more strings.Builder
	for i := range 12 {
		fmt.Fprintf(&more, "[[alias]]\nname = \"x%d.%s\"\nzone = %q\nmembers = [\"127.0.0.2\"]\nbest_hosts = 1\n", i, alias, alias)
	}
	cfg := writeLBDConfig(t, lbdOpts{Role: "master", Servers: []string{dead, good.Addr}, SNMPPort: agents[0].Port,
		HTTP: httpAddr, Alias: alias, Members: []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}, BestHosts: 2, Polling: "200ms",
		DNSTimeout: "2s", DNSRetries: 2, Extra: more.String()})
	_, log := startLBD(t, "-config", cfg, "-hostname", "master.test")
	a := func() string { g, _ := published(t, good, alias); return strings.Join(g, " ") }
	waitFor(t, 20*time.Second, func() bool { return a() == "127.0.0.2 127.0.0.3" })
	waitFor(t, 10*time.Second, func() bool { return strings.Contains(log.String(), "DNS server marked down") })
	require.Contains(t, log.String(), dead)

	start := time.Now()
	agents[0].nologin(t, true)
	waitFor(t, 10*time.Second, func() bool { return a() == "127.0.0.3 127.0.0.4" })
	t.Logf("drain reached the healthy server %v after the nologin, with the other server blackholed", time.Since(start).Round(10*time.Millisecond))
	st := statusOf(t, "http://"+httpAddr+"/status")
	require.Contains(t, st, "server down since", "status says the dead server is down")
}
