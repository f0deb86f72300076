package snmp

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/lbd-project/lbd/internal/tomlconf"
	"github.com/lbd-project/lbd/lbclient/agent"
	"github.com/lbd-project/lbd/lbclient/sim"
)

// BenchmarkPollCycle polls an in-process simulated farm (same process, so
// the farm's CPU and allocations count too; make bench uses a separate
// lbsim process). One op is one PollAll over every member, in the steady
// state: a first, unmeasured cycle discovers the SNMPv3 engines (its wall
// time is reported as cold-ms). allocs/poll and B/poll are the process's
// heap allocations (poller and farm) per polled member.
func BenchmarkPollCycle(b *testing.B) {
	for _, tc := range []struct {
		members int
		version string
		silent  float64
		timeout time.Duration
	}{
		{1000, "2c", 0, 2 * time.Second},
		{1000, "3", 0, 2 * time.Second},
		{10000, "3", 0, 2 * time.Second},
		{10000, "3", 0.1, time.Second},
	} {
		name := fmt.Sprintf("members=%d/v%s", tc.members, tc.version)
		if tc.silent > 0 {
			name += fmt.Sprintf("/silent=%g%%", tc.silent*100)
		}
		b.Run(name, func(b *testing.B) {
			port := freeUDPPort(b)
			cfg := sim.Config{Members: tc.members, Aliases: tc.members / 10, Port: port, Seed: 1,
				Base: netip.MustParseAddr("127.2.0.1"), Silent: tc.silent}
			snmp := Config{Version: tc.version, Port: port, Timeout: tomlconf.Duration{Duration: tc.timeout}, Retries: 0}
			if tc.version == "2c" {
				cfg.Community, snmp.Community = "public", "public"
			} else {
				cfg.Users = []agent.User{{Name: "loadbalancing", AuthProtocol: "md5", AuthPassword: "bench-password"}}
				snmp.User, snmp.AuthProtocol, snmp.AuthPassword = "loadbalancing", "md5", "bench-password"
			}
			farm, err := sim.New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer func() { cancel(); farm.Wait() }()
			if err := farm.Start(ctx); err != nil {
				b.Skip("cannot start farm: ", err)
			}
			addrs := make([]netip.Addr, len(farm.Members))
			silent := map[netip.Addr]bool{}
			for i, m := range farm.Members {
				addrs[i] = m.Addr
				silent[m.Addr] = m.Fault == sim.Silent
			}
			p, err := NewPoller(snmp, 64)
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			check := func(res map[netip.Addr]Reply) {
				for a, r := range res {
					if (r.Err != nil) != silent[a] {
						b.Fatalf("%s (silent %v): %+v", a, silent[a], r)
					}
				}
			}
			start := time.Now()
			check(p.PollAll(ctx, addrs)) // discovery; every farm goroutine has started
			cold := time.Since(start)
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				check(p.PollAll(ctx, addrs))
			}
			b.StopTimer()
			runtime.ReadMemStats(&m1)
			polls := float64(len(addrs) * b.N)
			b.ReportMetric(polls/b.Elapsed().Seconds(), "polls/s")
			b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/polls, "allocs/poll")
			b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/polls, "B/poll")
			b.ReportMetric(float64(cold.Milliseconds()), "cold-ms")
		})
	}
}
