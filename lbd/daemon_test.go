package lbd

import (
	"context"
	"io"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// testDaemon builds a master daemon over src whose DNS server and agents are
// closed UDP ports, so every network step fails fast.
func testDaemon(t *testing.T, src string) *Daemon {
	t.Helper()
	cfg, err := Parse("d.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	d, err := New(cfg, "h", log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.poller.Close() })
	return d
}

func quickConfig(t *testing.T) string {
	dns := "127.0.0.1:" + strconv.Itoa(freeUDPPort(t))
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
port = ` + strconv.Itoa(freeUDPPort(t)) + `
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
