package snmp

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/checks"
	"github.com/lbd-project/lbd/internal/tomlconf"
	"github.com/lbd-project/lbd/lbclient"
)

// copyTree copies the directory src into dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAgentInterop starts the lbclient agent in-process on a fixture root
// (socket tables with listeners on 22, 80 and 443 but port 21 only as the
// remote end of a connection; the docs/protocol.md default-load inputs), polls it
// with lbd's Poller over SNMPv3 authNoPriv HMAC-MD5 (as the existing CERN
// lbd does) on every address it listens on, and checks that every alias
// gets the load "lbclient -once" computes for the same configuration.
func TestAgentInterop(t *testing.T) {
	root := t.TempDir()
	copyTree(t, "../../checks/testdata/defaultload/compat", root)
	copyTree(t, "../../checks/testdata/net/listen/proc/net", filepath.Join(root, "proc", "net"))
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "iss.nologin.drained.example"), nil, 0o644); err != nil {
		t.Fatal(err)
	}

	port := freeUDPPort(t)
	listen := []string{fmt.Sprintf("127.0.0.1:%d", port)}
	addrs := []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	if c, err := net.ListenPacket("udp6", fmt.Sprintf("[::1]:%d", port)); err == nil {
		c.Close()
		listen = append(listen, fmt.Sprintf("[::1]:%d", port))
		addrs = append(addrs, netip.MustParseAddr("::1"))
	} else {
		t.Logf("no IPv6 loopback (%v): polling 127.0.0.1 only", err)
	}
	text := fmt.Sprintf(`[agent]
listen = [%s]
root = %q
interval = "100ms"
boots_file = %q
users = [{ name = "loadbalancing", auth_protocol = "md5", auth_password = "interop-secret" }]

[default]
checks = ["nologin", "reboot"]          # no loads: the built-in default load

[[alias]]
name = "web.example"
checks = ["nologin", "webdaemon", { type = "daemon", data = '{"port": 443, "protocol": "tcp", "ip": 6}' }]
loads = [{ type = "constant", data = "100" }, { type = "constant", data = "20" }]

[[alias]]
name = "ftp.example"                     # port 21 is only a remote port: -9
checks = ["nologin", "sshdaemon", "ftpdaemon"]
loads = [{ type = "constant", data = "5" }]

[[alias]]
name = "drained.example"                 # /etc/iss.nologin.drained.example: -1
checks = ["nologin"]
loads = [{ type = "constant", data = "5" }]

[[alias]]
name = "default.example"
`, `"`+strings.Join(listen, `", "`)+`"`, root, filepath.Join(root, "boots"))
	file := filepath.Join(root, "lbclient.toml")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := lbclient.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	ctx, cancel := context.WithCancel(context.Background())
	a, err := lbclient.Start(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		if err := a.Wait(); err != nil {
			t.Error(err)
		}
	}()

	// what "lbclient -config FILE -once" prints: a fresh evaluator, one round
	onceCfg, err := lbclient.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	once := lbclient.NewEvaluator(onceCfg, log).Round(context.Background())
	want := map[string]int{}
	for _, l := range once.Loads {
		want[l.Alias] = l.Metric
	}
	defLoad := checks.DefaultLoad(checks.Env{Root: root})
	expect := map[string]int{"web.example": 120, "ftp.example": -9, "drained.example": -1, "default.example": defLoad}
	for alias, v := range expect {
		if want[alias] != v {
			t.Errorf("-once: %s = %d, want %d", alias, want[alias], v)
		}
	}
	if defLoad <= 0 {
		t.Errorf("default load on the fixture is %d", defLoad)
	}

	p, err := NewPoller(Config{Version: "3", Port: port, User: "loadbalancing", AuthProtocol: "md5",
		AuthPassword: "interop-secret", Timeout: tomlconf.Duration{Duration: 2 * time.Second}, Retries: 1}, 4)
	if err != nil {
		t.Fatal(err)
	}
	// wait (bounded) for the agent's first round: until then every alias is NotReady
	var replies map[netip.Addr]Reply
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; i < 100 && time.Now().Before(deadline); i++ {
		replies = p.PollAll(context.Background(), addrs)
		if r := replies[addrs[0]]; r.Err == nil && !strings.Contains(r.Value.Str, fmt.Sprint(lbclient.NotReady)) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	state := a.Evaluator.State()
	if !state.Ready {
		t.Fatal("agent never completed a round")
	}
	for _, addr := range addrs {
		r := replies[addr]
		if r.Err != nil {
			t.Fatalf("poll %s: %v", addr, r.Err)
		}
		if !r.Value.IsString {
			t.Fatalf("poll %s: want a STRING for 4 aliases, got %+v", addr, r.Value)
		}
		for _, l := range state.Loads {
			got, ok := r.Value.LoadFor(l.Alias)
			if !ok {
				t.Errorf("%s: alias %s missing from %q", addr, l.Alias, r.Value.Str)
				continue
			}
			if got != want[l.Alias] || got != l.Metric {
				t.Errorf("%s: %s polled %d, -once %d, agent state %d", addr, l.Alias, got, want[l.Alias], l.Metric)
			}
		}
	}
	if len(state.Loads) != len(expect) {
		t.Errorf("agent state has %d aliases, want %d", len(state.Loads), len(expect))
	}
}

// TestAgentPushInterop: the agent's push notifications, traps and (with
// push_inform) informs, received by lbd's ListenPush: draining one alias
// names exactly that alias, and every inform is acknowledged (the pusher
// logs no failure).
func TestAgentPushInterop(t *testing.T) {
	for _, inform := range []bool{false, true} {
		t.Run(fmt.Sprintf("inform=%v", inform), func(t *testing.T) { testAgentPush(t, inform) })
	}
}

func testAgentPush(t *testing.T, inform bool) {
	trapPort := freeUDPPort(t)
	got := make(chan []string, 50)
	lctx, lcancel := context.WithCancel(context.Background())
	lerr := make(chan error, 1)
	go func() {
		lerr <- ListenPush(lctx, fmt.Sprintf("127.0.0.1:%d", trapPort), "lbd-push", func(_ *net.UDPAddr, aliases []string) {
			select {
			case got <- aliases:
			default:
			}
		})
	}()
	defer func() { lcancel(); require.NoError(t, <-lerr) }()
	waitPushUp(t, trapPort, "lbd-push", got)

	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	text := fmt.Sprintf(`[agent]
listen = ["127.0.0.1:%d"]
root = %q
interval = "50ms"
community = "public"
push = ["127.0.0.1:%d"]
push_community = "lbd-push"
push_inform = %v
push_timeout = "2s"
push_retries = 0
[[alias]]
name = "a.example"
checks = ["nologin"]
loads = [{ type = "constant", data = "10" }]
[[alias]]
name = "b.example"
checks = ["nologin"]
loads = [{ type = "constant", data = "20" }]
`, freeUDPPort(t), root, trapPort, inform)
	cfg, err := lbclient.Parse("push.toml", []byte(text))
	require.NoError(t, err)
	log, hook := logtest.NewNullLogger()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := lbclient.Start(ctx, cfg, log)
	require.NoError(t, err)
	defer func() {
		cancel()
		assert.NoError(t, a.Wait())
	}()
	wait := func(want string) {
		t.Helper()
		timeout := time.After(5 * time.Second)
		var seen []string
		for {
			select {
			case as := <-got:
				s := strings.Join(as, " ")
				if s == want {
					return
				}
				seen = append(seen, s)
			case <-timeout:
				t.Fatalf("no push naming %q (saw %q)", want, seen)
			}
		}
	}
	wait("a.example b.example") // first round: both became usable
	require.NoError(t, os.WriteFile(filepath.Join(root, "etc", "iss.nologin.b.example"), nil, 0o644))
	wait("b.example")
	for _, e := range hook.AllEntries() {
		assert.NotEqual(t, "push notification failed", e.Message, "%v", e.Data)
	}
}
