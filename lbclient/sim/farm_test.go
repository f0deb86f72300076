package sim

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/internal/tomlconf"
	"github.com/lbd-project/lbd/lbclient/agent"
	"github.com/lbd-project/lbd/lbd/snmp"
)

const testPassword = "sim-test-password"

var md5User = []agent.User{{Name: "loadbalancing", AuthProtocol: "md5", AuthPassword: testPassword}}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd: ", err)
	}
	return len(ents)
}

func TestIndexInvertsAddr(t *testing.T) {
	for _, b := range []string{"127.1.0.1", "127.0.2.1", "127.3.4.200", "127.5.6.0"} {
		base := netip.MustParseAddr(b)
		for i := 0; i < 3000; i++ {
			if j, ok := Index(base, Addr(base, i)); !ok || j != i {
				t.Fatalf("base %s: Index(Addr(%d) = %s) = %d, %v", b, i, Addr(base, i), j, ok)
			}
		}
		for _, a := range []string{"127.0.0.0", "127.1.0.0", "127.1.0.255", "126.255.255.254", "::1"} {
			x := netip.MustParseAddr(a)
			if j, ok := Index(base, x); ok && Addr(base, j) != x {
				t.Errorf("base %s: Index(%s) = %d, but Addr(%d) = %s", b, a, j, j, Addr(base, j))
			}
		}
	}
	if _, ok := Index(netip.MustParseAddr("127.1.0.10"), netip.MustParseAddr("127.1.0.9")); ok {
		t.Error("an address below the base has an index")
	}
}

func startFarm(t *testing.T, cfg Config) *Farm {
	t.Helper()
	f, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := f.Start(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); f.Wait() })
	return f
}

// A farm far larger than RLIMIT_NOFILE allows with one socket per member
// holds a handful of descriptors, and a sample of its members (spread over
// the whole address range) answers the lbd poller with their loads.
func TestLargeFarmFewDescriptors(t *testing.T) {
	const members, aliases = 30000, 3000
	before := openFDs(t)
	start := time.Now()
	f := startFarm(t, Config{Members: members, Aliases: aliases, Base: netip.MustParseAddr("127.1.0.1"), Seed: 7, Users: md5User})
	started := time.Since(start)
	if n := openFDs(t) - before; n > 8 || f.Sockets() != 1 {
		t.Fatalf("%d members hold %d more descriptors (%d sockets)", members, n, f.Sockets())
	}
	p, err := snmp.NewPoller(snmp.Config{Version: "3", Port: f.Port(), User: "loadbalancing", AuthProtocol: "md5",
		AuthPassword: testPassword, Timeout: tomlconf.Duration{Duration: 2 * time.Second}, Retries: 1}, 16)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var sample []netip.Addr
	want := map[netip.Addr]*Member{}
	for k := 0; k < 100; k++ {
		m := f.Members[(k*members)/100+k%7]
		m.SetLoad(100 + k) // a load the layout did not choose
		sample = append(sample, m.Addr)
		want[m.Addr] = m
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res := p.PollAll(ctx, sample)
	for _, a := range sample {
		m, r := want[a], res[a]
		if r.Err != nil {
			t.Errorf("%s: %v", a, r.Err)
			continue
		}
		if l, ok := r.Value.LoadFor(m.Aliases[0]); !ok || l != m.Load() {
			t.Errorf("%s: %+v, want %s=%d", a, r.Value, m.Aliases[0], m.Load())
		}
	}
	t.Logf("%d members: started in %v, %d descriptors for the farm, last member %s", members, started, openFDs(t)-before, f.Members[members-1].Addr)
}

func gosnmpClient(t *testing.T, addr netip.Addr, port int, timeout time.Duration) *gosnmp.GoSNMP {
	t.Helper()
	// gosnmp polls on a connected socket: a reply from any other address
	// than the polled one is not received (docs/protocol.md §3.4 item 1).
	g := &gosnmp.GoSNMP{Target: addr.String(), Port: uint16(port), Version: gosnmp.Version2c, Community: "public",
		Timeout: timeout, Retries: 0, Logger: gosnmp.NewLogger(log.New(io.Discard, "", 0))}
	if err := g.Connect(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Conn.Close() })
	return g
}

// Faults behave on the shared socket as on per-member sockets: silent
// members never answer, garbage ones answer non-SNMP, slow ones answer
// after SlowDelay, healthy ones at once, each from the polled address.
func TestFaultsOnSharedSocket(t *testing.T) {
	for _, perAddr := range []bool{false, true} {
		t.Run(fmt.Sprintf("per-address=%v", perAddr), func(t *testing.T) {
			base := "127.1.200.1"
			if perAddr {
				base = "127.1.210.1"
			}
			f := startFarm(t, Config{Members: 40, Aliases: 4, Base: netip.MustParseAddr(base), Seed: 5, Community: "public",
				Silent: 0.25, Garbage: 0.25, Slow: 0.25, SlowDelay: 300 * time.Millisecond, PerAddress: perAddr,
				Port: map[bool]int{false: 0, true: testenv.FreePort(t, base)}[perAddr]})
			if want := map[bool]int{false: 1, true: 40}[perAddr]; f.Sockets() != want {
				t.Fatalf("%d sockets, want %d", f.Sockets(), want)
			}
			done := make(chan error, len(f.Members))
			for _, m := range f.Members {
				go func(m *Member) {
					g := gosnmpClient(t, m.Addr, f.Port(), time.Second)
					t0 := time.Now()
					res, err := g.Get([]string{agent.OID})
					took := time.Since(t0)
					switch m.Fault {
					case Silent, Garbage:
						if err == nil {
							done <- fmt.Errorf("%s (%v) answered %+v", m.Addr, m.Fault, res.Variables)
							return
						}
					case Healthy, Slow:
						if err != nil {
							done <- fmt.Errorf("%s (%v): %v", m.Addr, m.Fault, err)
							return
						}
						if got, want := string(res.Variables[0].Value.([]byte)), fmt.Sprintf("%s=%d", m.Aliases[0], m.Load()); got != want {
							done <- fmt.Errorf("%s: %q, want %q", m.Addr, got, want)
							return
						}
						if (m.Fault == Slow) != (took >= 300*time.Millisecond) {
							done <- fmt.Errorf("%s (%v) answered in %v", m.Addr, m.Fault, took)
							return
						}
					}
					done <- nil
				}(m)
			}
			for range f.Members {
				if err := <-done; err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// An address of 127/8 outside the farm is not answered by the wildcard
// socket.
func TestNonMemberNotAnswered(t *testing.T) {
	f := startFarm(t, Config{Members: 3, Aliases: 1, Base: netip.MustParseAddr("127.1.220.1"), Community: "public"})
	g := gosnmpClient(t, netip.MustParseAddr("127.1.220.4"), f.Port(), 300*time.Millisecond)
	if _, err := g.Get([]string{agent.OID}); err == nil {
		t.Fatal("a non-member address answered")
	}
	g = gosnmpClient(t, netip.MustParseAddr("127.1.220.3"), f.Port(), time.Second)
	if _, err := g.Get([]string{agent.OID}); err != nil {
		t.Fatal(err)
	}
}

// When another socket holds Port on some address, the wildcard bind fails
// and the farm falls back to one socket per member.
func TestFallbackPerAddress(t *testing.T) {
	port := testenv.FreePort(t, "127.1.230.1")
	c, err := net.ListenPacket("udp4", fmt.Sprintf("127.1.230.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f := startFarm(t, Config{Members: 5, Aliases: 1, Base: netip.MustParseAddr("127.1.230.5"), Port: port, Community: "public"})
	if f.Sockets() != 5 || f.Port() != port {
		t.Fatalf("%d sockets on port %d", f.Sockets(), f.Port())
	}
	g := gosnmpClient(t, f.Members[4].Addr, port, time.Second)
	if _, err := g.Get([]string{agent.OID}); err != nil {
		t.Fatal(err)
	}
}
