package snmp

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lbd-project/lbd/internal/tomlconf"
	"github.com/lbd-project/lbd/lbclient/agent"
)

// fakeMember runs the real agent responder in-process on ip:port (unit test
// of the poller; the e2e tests use the lbclient binary).
func fakeMember(t *testing.T, ip string, port int, users []agent.User, community string, v agent.Value) *atomic.Int32 {
	t.Helper()
	var calls atomic.Int32
	r, err := agent.New(agent.Config{Community: community, Users: users, EngineID: agent.EngineIDFor(ip), Boots: 1},
		func() agent.Value { calls.Add(1); return v }, nil)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenPacket("udp", net.JoinHostPort(ip, itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Serve(ctx, conn); close(done) }()
	t.Cleanup(func() { cancel(); conn.Close(); <-done })
	return &calls
}

func itoa(n int) string { return strconv.Itoa(n) }

func freeUDPPort(t testing.TB) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

func TestPollerVersionsAndProtocols(t *testing.T) {
	port := freeUDPPort(t)
	users := []agent.User{
		{Name: "loadbalancing", AuthProtocol: "md5", AuthPassword: "password-md5"},
		{Name: "shauser", AuthProtocol: "sha", AuthPassword: "password-sha", PrivProtocol: "aes", PrivPassword: "privacy-pw"},
		{Name: "sha256user", AuthProtocol: "sha256", AuthPassword: "password-sha256"},
	}
	fakeMember(t, "127.0.0.21", port, users, "public", agent.Value{Int: 42})
	fakeMember(t, "127.0.0.22", port, users, "public", agent.Value{IsString: true, Str: "xa.example=5,a.example=-3,b.example=7"})

	cases := []struct {
		name string
		cfg  Config
	}{
		{"v2c", Config{Version: "2c", Community: "public"}},
		{"v3 md5 authNoPriv", Config{Version: "3", User: "loadbalancing", AuthProtocol: "md5", AuthPassword: "password-md5"}},
		{"v3 sha authPriv aes", Config{Version: "3", User: "shauser", AuthProtocol: "sha", AuthPassword: "password-sha", PrivProtocol: "aes", PrivPassword: "privacy-pw"}},
		{"v3 sha256", Config{Version: "3", User: "sha256user", AuthProtocol: "sha256", AuthPassword: "password-sha256"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.cfg.Port, c.cfg.Timeout, c.cfg.Retries = port, tomlconf.Duration{Duration: time.Second}, 1
			p, err := NewPoller(c.cfg, 4)
			if err != nil {
				t.Fatal(err)
			}
			got := p.PollAll(context.Background(), []netip.Addr{ip("127.0.0.21"), ip("127.0.0.22")})
			r1, r2 := got[ip("127.0.0.21")], got[ip("127.0.0.22")]
			if r1.Err != nil || r1.Value != (Value{Int: 42}) {
				t.Fatalf("integer member: %+v", r1)
			}
			if r2.Err != nil {
				t.Fatal(r2.Err)
			}
			if n, ok := r2.Value.LoadFor("a.example"); !ok || n != -3 {
				t.Fatalf("string member for a.example: %d %v", n, ok)
			}
		})
	}
	// Wrong password: a failure of that address, not a crash or a value.
	p, _ := NewPoller(Config{Version: "3", Port: port, User: "loadbalancing", AuthProtocol: "md5",
		AuthPassword: "not-the-password", Timeout: tomlconf.Duration{Duration: 300 * time.Millisecond}}, 1)
	if r := p.PollAll(context.Background(), []netip.Addr{ip("127.0.0.21")})[ip("127.0.0.21")]; r.Err == nil {
		t.Fatalf("wrong password accepted: %+v", r)
	}
	// Silent address: failure after the timeout.
	if r := p.PollAll(context.Background(), []netip.Addr{ip("127.0.0.29")})[ip("127.0.0.29")]; r.Err == nil {
		t.Fatal("silent address gave a value")
	}
}

// A member of several aliases is polled once per cycle.
func TestCyclePollsSharedMemberOnce(t *testing.T) {
	port := freeUDPPort(t)
	calls := fakeMember(t, "127.0.0.23", port, nil, "public", agent.Value{Int: 7})
	p, _ := NewPoller(Config{Version: "2c", Community: "public", Port: port, Timeout: tomlconf.Duration{Duration: time.Second}}, 4)
	addrs, errs := p.ResolveAll(context.Background(), []string{"127.0.0.23", "127.0.0.23", "[::1]"})
	if len(errs) != 0 || len(addrs["127.0.0.23"]) != 1 || addrs["[::1]"][0] != ip("::1") {
		t.Fatalf("literals: %v %v", addrs, errs)
	}
	// The same address listed for three aliases.
	p.PollAll(context.Background(), []netip.Addr{ip("127.0.0.23"), ip("127.0.0.23"), ip("127.0.0.23")})
	if n := calls.Load(); n != 1 {
		t.Fatalf("agent asked %d times, want 1", n)
	}
}
