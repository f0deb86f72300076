package lbd

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/internal/testenv/snmpagent"
	"github.com/lbd-project/lbd/lbclient/agent"
	"github.com/lbd-project/lbd/lbd/choice"
	"github.com/lbd-project/lbd/lbd/config"
)

// testDaemon builds a master daemon over src whose DNS server and agents are
// closed UDP ports, so every network step fails fast.
func testDaemon(t *testing.T, src string) *Daemon {
	t.Helper()
	cfg, err := config.Parse("d.toml", []byte(src))
	require.NoError(t, err)
	return daemonFor(t, cfg)
}

// daemonFor builds a daemon for cfg (host name "h") that logs nowhere and
// closes its poller when the test ends.
func daemonFor(t *testing.T, cfg *config.Compiled) *Daemon {
	t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	d, err := New(cfg, "h", log)
	require.NoError(t, err)
	t.Cleanup(func() { d.poller.Close() })
	return d
}

func quickConfig(t *testing.T) string { return quickConfigSNMP(t, testenv.FreePort(t, "127.0.0.1")) }

// quickConfigSNMP is quickConfig polling agents on snmpPort (v2c, "public").
func quickConfigSNMP(t *testing.T, snmpPort int) string {
	dns := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t, "127.0.0.1"))
	return `
[lbd]
role = "master"
[dns]
server = "` + dns + `"
retries = 0
timeout = "200ms"
internal_key = { name = "k.", algorithm = "hmac-sha256", secret = "c2VjcmV0" }
[snmp]
version = "2c"
community = "public"
port = ` + strconv.Itoa(snmpPort) + `
timeout = "50ms"
retries = 0
[[alias]]
name = "a.example.org"
members = ["m.example.org"]
`
}

// A push (or a slave's takeover) that arrives while a cycle is evaluating
// the alias must not be overwritten by that cycle's "next due" time: the
// poll it made may predate the change the push announces.
func TestPokeDuringCycleKeepsAliasDue(t *testing.T) {
	d := testDaemon(t, quickConfig(t))
	d.SetResolver(func(ctx context.Context, host string) ([]netip.Addr, error) {
		// The member's state changes (and its agent pushes) after lbd
		// started this cycle's evaluation.
		d.Poke([]string{"a.example.org"})
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	})
	now := time.Now()
	rep := d.Cycle(context.Background(), now, true)
	if len(rep.Aliases) != 1 {
		t.Fatalf("first cycle evaluated %d aliases", len(rep.Aliases))
	}
	// (The name is cached now: the next cycles do not poke again.)
	if rep := d.Cycle(context.Background(), now, false); len(rep.Aliases) != 1 {
		t.Fatalf("alias poked during the cycle is not due for the next one (evaluated %d aliases)", len(rep.Aliases))
	}
	// Without a poke, the alias is not due again at once.
	if rep := d.Cycle(context.Background(), now, false); len(rep.Aliases) != 0 {
		t.Fatalf("alias due again without a poke (evaluated %d aliases)", len(rep.Aliases))
	}
}

// A reload (SetConfig) while a cycle resolves its members must not make
// that cycle's polls fail: the replaced poller is closed only once the
// cycle is done with it. Failed polls make every member unusable and fire
// the fallback (fallback none empties the alias).
func TestReloadDuringCycleKeepsPolling(t *testing.T) {
	port := testenv.FreePort(t, "127.0.0.1")
	snmpagent.Start(t, "127.0.0.1", port, agent.Config{Community: "public", EngineID: agent.EngineIDFor("reload"), Boots: 1}, agent.Value{Int: 7})
	src := quickConfigSNMP(t, port)
	d := testDaemon(t, src)
	reloaded, err := config.Parse("d.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	d.SetResolver(func(ctx context.Context, host string) ([]netip.Addr, error) {
		once.Do(func() { // SIGHUP while the cycle resolves names
			if err := d.SetConfig(reloaded); err != nil {
				t.Error(err)
			}
		})
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	})
	rep := d.Cycle(context.Background(), time.Now(), true)
	if len(rep.Aliases) != 1 || len(rep.Aliases[0].Members) != 1 {
		t.Fatalf("report %+v", rep)
	}
	if m := rep.Aliases[0].Members[0]; m.Load != 7 {
		t.Fatalf("member polled during a reload: load %d, want 7", m.Load)
	}
}

func TestPushPokesOnlyNamedAliases(t *testing.T) {
	src := strings.Replace(quickConfig(t), "[lbd]\n", "[lbd]\npush_allow = [\"127.0.0.0/8\"]\n", 1)
	d := testDaemon(t, src+"[[alias]]\nname = \"b.example.org\"\nmembers = [\"127.0.0.3\"]\n")
	// Both aliases evaluated: not due for a polling interval.
	for _, st := range d.aliases {
		st.sched.NextDue = time.Now().Add(time.Hour)
	}
	d.onPush(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 9)}, []string{"B.example.org.", "unknown.example.org"})
	select {
	case <-d.wake:
	default:
		t.Fatal("a push naming a configured alias did not wake the cycle loop")
	}
	assert.True(t, d.aliases["b.example.org"].sched.NextDue.IsZero(), "b due")
	assert.False(t, d.aliases["a.example.org"].sched.NextDue.IsZero(), "a not due")
	d.onPush(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 9)}, []string{"unknown.example.org"})
	select {
	case <-d.wake:
		t.Fatal("a push naming no configured alias woke the loop")
	default:
	}
}

// Push notifications are bounded (issue 12): a source that is not allowed
// is ignored (by default only the members' own addresses are); pushes for
// one alias within push_min_interval are coalesced into one evaluation at
// the end of the interval; over push_max_rate they are counted, not acted
// on.
func TestPushIsBounded(t *testing.T) {
	src := strings.Replace(quickConfig(t), "[lbd]\n", "[lbd]\npush_min_interval = \"1h\"\npush_max_rate = 2\n", 1)
	var aliases strings.Builder
	for _, n := range []string{"b", "c", "d"} {
		fmt.Fprintf(&aliases, "[[alias]]\nname = \"%s.example.org\"\nmembers = [\"127.0.0.3\"]\n", n)
	}
	d := testDaemon(t, src+aliases.String())
	far := time.Now().Add(24 * time.Hour)
	for _, st := range d.aliases {
		st.sched.NextDue = far
		st.members = []choice.Member{{Host: "127.0.0.3", All: []netip.Addr{netip.MustParseAddr("127.0.0.3")}}}
	}
	member := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 3)}

	d.onPush(&net.UDPAddr{IP: net.IPv4(192, 0, 2, 66)}, []string{"b.example.org"})
	assert.Equal(t, far, d.aliases["b.example.org"].sched.NextDue, "a stranger's push does nothing")
	assert.Equal(t, uint64(1), d.PushStats().Rejected)

	for i := 0; i < 1000; i++ { // a flood from a member for one alias
		d.onPush(member, []string{"b.example.org"})
	}
	st := d.PushStats()
	assert.Equal(t, uint64(1), st.Accepted, "one evaluation")
	assert.Equal(t, uint64(999), st.Coalesced)
	assert.True(t, d.aliases["b.example.org"].sched.NextDue.IsZero(), "b due once")

	d.onPush(member, []string{"c.example.org", "d.example.org"})
	st = d.PushStats()
	assert.Equal(t, uint64(2), st.Accepted, "push_max_rate = 2 per second")
	assert.Equal(t, uint64(1), st.RateLimited)
	assert.Equal(t, far, d.aliases["d.example.org"].sched.NextDue, "over the rate: not acted on")
}
