package lbd

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/dnsupdate"
	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/internal/testenv/snmpagent"
	"github.com/lbd-project/lbd/internal/tsig"
	"github.com/lbd-project/lbd/lbclient/agent"
)

// The serial cache ([dns] serial_cache) against real servers: a cycle
// whose zone's SOA serial is unchanged reads the serial alone; a change
// made behind lbd's back with a new serial (an operator's nsupdate) is
// seen at the next cycle and repaired. All four servers move the serial
// with every update (PowerDNS 4.7 by its default SOA-EDIT-DNSUPDATE); what
// lbd does with one that does not is TestForget in lbd/cycle.
func TestSerialCacheAgainstServers(t *testing.T) {
	const zone = "lb.example.org"
	key := tsig.Spec{Name: "lbd-internal.", Algorithm: "hmac-sha256", Secret: "c2VjcmV0LWZvci10aGUtc2VyaWFsLWNhY2hl"}
	servers := liveServers([]string{zone}, key)
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			addr := srv.start(t)
			relay := testenv.StartDNSRelay(t, addr)
			port := testenv.FreePort(t, "127.0.0.1")
			snmpagent.Start(t, "127.0.0.1", port, agent.Config{Community: "public", EngineID: agent.EngineIDFor("c1"), Boots: 1}, agent.Value{Int: 7})
			stop2 := snmpagent.Start(t, "127.0.0.2", port, agent.Config{Community: "public", EngineID: agent.EngineIDFor("c2"), Boots: 1}, agent.Value{Int: 7})
			d, hook := liveDaemon(t, relay.Addr, key, port, "", `
[[alias]]
name = "a.lb.example.org"
zone = "lb.example.org"
best_hosts = 2
members = ["127.0.0.1", "127.0.0.2"]
`)

			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			now := time.Now()
			cycle := func(what string) (map[uint16]int, CycleReport) {
				t.Helper()
				now = now.Add(time.Second)
				relay.Counts()
				rep := d.Cycle(ctx, now, true)
				for _, a := range rep.Aliases {
					require.NoError(t, a.Err, what)
				}
				return relay.Counts(), rep
			}
			c := &dnsupdate.Client{Server: addr, Key: testenv.CompileKey(t, key), Timeout: 2 * time.Second}
			served := func() []netip.Addr {
				t.Helper()
				st, err := c.QuerySigned(ctx, "a.lb.example.org")
				require.NoError(t, err)
				return st.Addrs()
			}
			both := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")}
			one := both[:1]

			counts, _ := cycle("first: writes")
			assert.Equal(t, 1, counts[dns.TypeNone], "one UPDATE")
			require.Equal(t, both, served())

			counts, _ = cycle("second: read in full after the serial")
			assert.Equal(t, 1, counts[dns.TypeSOA], "%v", counts)
			assert.Equal(t, 1, counts[dns.TypeA], "%v", counts)
			assert.Equal(t, 2, counts[dns.TypeTXT], "ownership record and lease: %v", counts)

			counts, rep := cycle("third: the serial alone")
			assert.Equal(t, map[uint16]int{dns.TypeSOA: 1}, counts, "an unchanged serial: nothing else is read")
			assert.Equal(t, 2, rep.CachedReads, "the alias's records and the zone's lease from the cache")

			// A write of lbd's own (member 2 goes silent) under a known
			// serial: the serial moves, the view stays cached.
			stop2()
			counts, _ = cycle("fourth: writes one member")
			assert.Equal(t, 1, counts[dns.TypeNone])
			require.Equal(t, one, served())
			for _, e := range hook.AllEntries() {
				assert.False(t, e.Level == logrus.WarnLevel && e.Data["server"] == relay.Addr, "the serial moved: %s", e.Message)
			}

			counts, _ = cycle("fifth: read in full after the serial")
			assert.Equal(t, 1, counts[dns.TypeSOA], "%v", counts)
			assert.Equal(t, 1, counts[dns.TypeA], "%v", counts)

			// An operator's change behind lbd's back.
			elsewhere := []netip.Addr{netip.MustParseAddr("10.9.9.9")}
			require.NoError(t, c.Apply(ctx, []dnsupdate.Change{dnsupdate.Diff(zone, "a.lb.example.org", dnsupdate.State{A: one}, elsewhere, 60)}))
			require.Equal(t, elsewhere, served())
			counts, rep = cycle("sixth: sees the change and repairs it")
			assert.Equal(t, 1, counts[dns.TypeNone], "the repair: %v", counts)
			require.Equal(t, one, served())
			require.Len(t, rep.Aliases, 1)

			cycle("seventh: read in full after lbd's write")
			counts, _ = cycle("eighth: the serial alone again")
			assert.Equal(t, map[uint16]int{dns.TypeSOA: 1}, counts)
		})
	}
}
