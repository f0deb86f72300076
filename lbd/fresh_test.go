package lbd

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/dnsupdate"
	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/internal/testenv/snmpagent"
	"github.com/lbd-project/lbd/internal/tsig"
	"github.com/lbd-project/lbd/lbclient/agent"
	"github.com/lbd-project/lbd/lbd/lease"
)

// Zones a master has never seen (cycle.FreshZones) against real servers:
// a new zone is written with one UPDATE and nothing read before it; a zone
// that holds someone else's records, this group's records from before its
// state was lost, or another instance's lease refuses the presumption, and
// the same cycle reads it and decides as it always would: foreign, in sync,
// fenced. Nothing in those zones is changed.
func TestFreshZonesAgainstServers(t *testing.T) {
	zones := []string{"new.example.org", "foreign.example.org", "mine.example.org", "held.example.org"}
	key := tsig.Spec{Name: "lbd-internal.", Algorithm: "hmac-sha256", Secret: "c2VjcmV0LWZvci1mcmVzaC16b25lcw=="}
	for _, srv := range liveServers(zones, key) {
		t.Run(srv.name, func(t *testing.T) {
			addr := srv.start(t)
			relay := testenv.StartDNSRelay(t, addr)
			port := testenv.FreePort(t, "127.0.0.1")
			snmpagent.Start(t, "127.0.0.1", port, agent.Config{Community: "public", EngineID: agent.EngineIDFor("f1"), Boots: 1}, agent.Value{Int: 7})
			snmpagent.Start(t, "127.0.0.2", port, agent.Config{Community: "public", EngineID: agent.EngineIDFor("f2"), Boots: 1}, agent.Value{Int: 8})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			now := time.Now()
			daemon := func(stateDir string, aliases ...string) (*Daemon, *test.Hook) {
				t.Helper()
				var tables string
				for _, a := range aliases {
					tables += "[[alias]]\nname = \"" + a + "\"\nzone = \"" + a + "\"\nbest_hosts = 2\nmembers = [\"127.0.0.1\", \"127.0.0.2\"]\n"
				}
				return liveDaemon(t, relay.Addr, key, port, `state_dir = "`+stateDir+`"`, tables)
			}
			c := &dnsupdate.Client{Server: addr, Key: testenv.CompileKey(t, key), Timeout: 2 * time.Second}
			served := func(name string) []netip.Addr {
				t.Helper()
				st, err := c.QuerySigned(ctx, name)
				require.NoError(t, err)
				return st.Addrs()
			}
			meta := func(name string) []string {
				t.Helper()
				txt, err := c.QueryTXT(ctx, name)
				require.NoError(t, err)
				return txt
			}
			both := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")}
			foreign := []netip.Addr{netip.MustParseAddr("192.0.2.99")}

			// What is there before: a foreign A; this group's records and
			// lease, written by an earlier lbd whose state_dir is gone; a
			// lease another instance holds for an hour.
			require.NoError(t, c.Apply(ctx, []dnsupdate.Change{dnsupdate.Diff("foreign.example.org", "foreign.example.org", dnsupdate.State{}, foreign, 60)}))
			earlier, _ := daemon(t.TempDir(), "mine.example.org")
			now = now.Add(time.Second)
			rep := earlier.Cycle(ctx, now, true)
			require.NoError(t, rep.Err())
			require.Equal(t, both, served("mine.example.org"))
			mineMeta := meta(dnsupdate.OwnerName("mine.example.org"))
			mineLease := meta(dnsupdate.LeaseName("mine.example.org"))
			held := lease.Record{Holder: "other", Epoch: 3, Until: now.Add(time.Hour)}.String()
			require.NoError(t, c.ApplyFenced(ctx, nil, map[string]dnsupdate.Lease{"held.example.org": {Set: held}}).Zone("held.example.org"))

			// A new zone alone: one UPDATE and its read-back, nothing read
			// before.
			d, hook := daemon(t.TempDir(), zones...)
			relay.Counts()
			now = now.Add(time.Second)
			rep = d.Cycle(ctx, now, false)
			counts := relay.Counts()
			byName := map[string]AliasResult{}
			for _, a := range rep.Aliases {
				byName[a.Alias] = a
			}
			require.Len(t, byName, 4)
			require.NoError(t, byName["new.example.org"].Err)
			assert.True(t, byName["new.example.org"].Wrote)
			assert.Equal(t, both, served("new.example.org"))
			assert.Equal(t, []string{d.cfg.Owner}, meta(dnsupdate.OwnerName("new.example.org")))
			newLease := meta(dnsupdate.LeaseName("new.example.org"))
			require.Len(t, newLease, 1)
			l, ok := lease.Parse(newLease[0])
			require.True(t, ok, newLease[0])
			assert.Equal(t, "h", l.Holder)

			// The others: read after their presumption was refused, and
			// left exactly as they were.
			assert.ErrorContains(t, byName["foreign.example.org"].Err, "did not write")
			assert.Equal(t, foreign, served("foreign.example.org"))
			assert.Empty(t, meta(dnsupdate.OwnerName("foreign.example.org")))
			require.NoError(t, byName["mine.example.org"].Err, "this group's own records: in sync")
			assert.False(t, byName["mine.example.org"].Wrote)
			assert.Equal(t, both, served("mine.example.org"))
			assert.Equal(t, mineMeta, meta(dnsupdate.OwnerName("mine.example.org")))
			assert.Equal(t, mineLease, meta(dnsupdate.LeaseName("mine.example.org")))
			assert.ErrorContains(t, byName["held.example.org"].Err, "lease held by other")
			assert.Empty(t, served("held.example.org"))
			assert.Equal(t, []string{held}, meta(dnsupdate.LeaseName("held.example.org")))

			// The foreign zone had no lease: as for any zone read without
			// one, the master takes it (a message of its own, §9.4).
			fl := meta(dnsupdate.LeaseName("foreign.example.org"))
			require.Len(t, fl, 1)
			l, ok = lease.Parse(fl[0])
			require.True(t, ok, fl[0])
			assert.Equal(t, "h", l.Holder)

			// Four presumed writes, three of them refused; a probe of the
			// lease alone tells a refused lease from refused records
			// (dnsupdate.ApplyFenced). The three are then read: A, AAAA
			// (their apex exists, RFC 8020), ownership TXT and lease TXT;
			// the foreign zone's lease is taken; the new zone only has its
			// A read back.
			assert.Equal(t, map[uint16]int{dns.TypeNone: 4 + 3 + 1, dns.TypeA: 3 + 1, dns.TypeAAAA: 3, dns.TypeTXT: 3 + 3}, counts)
			var presumed bool
			for _, e := range hook.AllEntries() {
				presumed = presumed || e.Message == "zones presumed new hold records: read and decided again" && e.Data["aliases"] == 3
			}
			assert.True(t, presumed, "the second pass is logged")
			for _, e := range hook.AllEntries() {
				if e.Level <= logrus.WarnLevel {
					assert.NotContains(t, e.Message+fmt.Sprint(e.Data), "mine.example.org", "a refused presumption is not reported: %s", e.Message)
					assert.NotContains(t, e.Message+fmt.Sprint(e.Data), "new.example.org", e.Message)
				}
			}

			// The next cycle reads every zone (none is new any more) and
			// writes nothing.
			relay.Counts()
			now = now.Add(time.Second)
			rep = d.Cycle(ctx, now, true)
			counts = relay.Counts()
			assert.Zero(t, counts[dns.TypeNone], "%v", counts)
			assert.Equal(t, 4, counts[dns.TypeA], "every zone read: %v", counts)
			assert.Equal(t, 8, counts[dns.TypeTXT], "every zone's ownership record and lease: %v", counts)
			require.Len(t, rep.Aliases, 4)
		})
	}
}
