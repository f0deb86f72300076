package lbd

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/lbd-project/lbd/lbclient/agent"
	"github.com/lbd-project/lbd/lbclient/sim"
)

func TestZZDebugLoss(t *testing.T) {
	port := freeUDPPort(t)
	cfg := sim.Config{Members: 1000, Aliases: 100, Port: port, Seed: 1, Base: netip.MustParseAddr("127.77.0.1"),
		Users: []agent.User{{Name: "loadbalancing", AuthProtocol: "md5", AuthPassword: "bench-password"}}}
	farm, err := sim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); farm.Wait() }()
	if err := farm.Start(ctx); err != nil {
		t.Fatal(err)
	}
	addrs := make([]netip.Addr, len(farm.Members))
	for i, m := range farm.Members {
		addrs[i] = m.Addr
	}
	for round := 0; round < 10; round++ {
		p, _ := NewPoller(SNMPSection{Version: "3", Port: port, Timeout: Duration{2 * time.Second}, User: "loadbalancing", AuthProtocol: "md5", AuthPassword: "bench-password"}, 64)
		for k := 0; k < 3; k++ {
			res := p.PollAll(ctx, addrs)
			for a, r := range res {
				if r.Err != nil {
					t.Errorf("round %d/%d %s: %v", round, k, a, r.Err)
				}
			}
		}
		p.Close()
	}
}
