package lbd

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/lbd-project/lbd/lbclient/agent"
	"github.com/lbd-project/lbd/lbclient/sim"
)

// BenchmarkPollCycle polls an in-process simulated farm (same process, so
// the farm's CPU counts too; make bench uses a separate lbsim process).
func BenchmarkPollCycle(b *testing.B) {
	for _, tc := range []struct {
		members int
		version string
	}{{1000, "2c"}, {1000, "3"}, {10000, "3"}} {
		b.Run(fmt.Sprintf("members=%d/v%s", tc.members, tc.version), func(b *testing.B) {
			port := 20000 + tc.members%1000
			cfg := sim.Config{Members: tc.members, Aliases: tc.members / 10, Port: port, Seed: 1,
				Base: netip.MustParseAddr("127.2.0.1")}
			snmp := SNMPSection{Version: tc.version, Port: port, Timeout: Duration{2 * time.Second}, Retries: 0}
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
			for i, m := range farm.Members {
				addrs[i] = m.Addr
			}
			p, err := NewPoller(snmp, 64)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res := p.PollAll(ctx, addrs)
				for a, r := range res {
					if r.Err != nil {
						b.Fatalf("%s: %v", a, r.Err)
					}
				}
			}
			b.ReportMetric(float64(len(addrs)*b.N)/b.Elapsed().Seconds(), "polls/s")
		})
	}
}
