package lbclient

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/lbclient/agent"
)

// notification is a received trap or inform, decoded.
type notification struct {
	pdu                       gosnmp.PDUType
	community                 string
	trapOID, changed, sysName string
	upTime                    uint32
	value                     agent.Value
	names                     []string
}

// trapListener runs a gosnmp TrapListener on a free 127.0.0.1 port.
func trapListener(t *testing.T) (string, <-chan notification) {
	t.Helper()
	port := testenv.FreePort(t, "127.0.0.1")
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	ch := make(chan notification, 100)
	tl := gosnmp.NewTrapListener()
	tl.Params = &gosnmp.GoSNMP{Version: gosnmp.Version2c, Community: "lbd-push", Logger: gosnmp.NewLogger(log.New(io.Discard, "", 0))}
	tl.OnNewTrap = func(p *gosnmp.SnmpPacket, _ *net.UDPAddr) {
		n := notification{pdu: p.PDUType, community: p.Community}
		for _, v := range p.Variables {
			n.names = append(n.names, v.Name)
			switch v.Name {
			case sysUpTimeOID:
				n.upTime, _ = v.Value.(uint32)
			case snmpTrapOIDOID:
				n.trapOID, _ = v.Value.(string)
			case agent.OID:
				switch x := v.Value.(type) {
				case int:
					n.value = agent.Value{Int: int32(x)}
				case []byte:
					n.value = agent.Value{IsString: true, Str: string(x)}
				}
			case ChangedOID:
				b, _ := v.Value.([]byte)
				n.changed = string(b)
			case sysNameOID:
				b, _ := v.Value.([]byte)
				n.sysName = string(b)
			}
		}
		select {
		case ch <- n:
		default:
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- tl.Listen(addr) }()
	select {
	case <-tl.Listening():
	case err := <-errc:
		t.Fatalf("trap listener: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("trap listener did not start")
	}
	t.Cleanup(tl.Close)
	return addr, ch
}

// waitTrap waits (bounded) for a notification whose changed list is want.
func waitTrap(t *testing.T, ch <-chan notification, want string) notification {
	t.Helper()
	timeout := time.After(5 * time.Second)
	var seen []string
	for {
		select {
		case n := <-ch:
			if n.changed == want {
				return n
			}
			seen = append(seen, n.changed)
		case <-timeout:
			t.Fatalf("no notification with changed %q (saw %q)", want, seen)
		}
	}
}

func TestPushTrapOnNologin(t *testing.T) {
	trapAddr, traps := trapListener(t)
	cfg, _, root := listenCfg(t, fmt.Sprintf(`push = [%q]
push_community = "lbd-push"
[default]
checks = ["nologin"]
loads = [{ type = "constant", data = "7" }]
[[alias]]
name = "a.example"
checks = ["nologin"]
loads = [{ type = "constant", data = "50" }]
[[alias]]
name = "b.example"
`, trapAddr))
	host, _ := os.Hostname()
	startCfg(t, cfg)

	// the first round makes both aliases usable (they were not ready)
	n := waitTrap(t, traps, "a.example=50,b.example=7")
	assert.Equal(t, gosnmp.SNMPv2Trap, n.pdu)
	assert.Equal(t, "lbd-push", n.community)
	assert.Equal(t, strings.TrimPrefix(TrapOID, "."), strings.TrimPrefix(n.trapOID, "."))
	assert.Equal(t, agent.Value{IsString: true, Str: "a.example=50,b.example=7"}, n.value)
	assert.Equal(t, host, n.sysName)
	assert.Equal(t, []string{sysUpTimeOID, snmpTrapOIDOID, agent.OID, ChangedOID, sysNameOID}, n.names)

	// /etc/iss.nologin drains the default mapping only: one trap for b
	testenv.Touch(t, root, "etc/iss.nologin")
	n = waitTrap(t, traps, "b.example=-1")
	assert.Equal(t, agent.Value{IsString: true, Str: "a.example=50,b.example=-1"}, n.value)
	require.NoError(t, os.Remove(filepath.Join(root, "etc/iss.nologin")))
	n = waitTrap(t, traps, "b.example=7")
	assert.Equal(t, agent.Value{IsString: true, Str: "a.example=50,b.example=7"}, n.value)

	// rounds with no usability change send nothing
	time.Sleep(300 * time.Millisecond) // several 50 ms rounds
	select {
	case n := <-traps:
		t.Errorf("unexpected notification %+v", n)
	default:
	}
}

func TestPushInform(t *testing.T) {
	trapAddr, traps := trapListener(t)
	// a UDP port with nobody reading: informs to it are never acknowledged
	dead, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer dead.Close()
	cfg, _, root := listenCfg(t, fmt.Sprintf(`push = [%q, %q]
push_community = "lbd-push"
push_inform = true
push_timeout = "100ms"
push_retries = 1
[[alias]]
name = "only.example"
checks = ["nologin"]
loads = [{ type = "constant", data = "50" }]
`, dead.LocalAddr().String(), trapAddr))
	a := startCfg(t, cfg)
	n := waitTrap(t, traps, "only.example=50")
	assert.Equal(t, gosnmp.InformRequest, n.pdu)
	assert.Equal(t, agent.Value{Int: 50}, n.value)
	testenv.Touch(t, root, "etc/nologin")
	n = waitTrap(t, traps, "only.example=-1")
	assert.Equal(t, agent.Value{Int: -1}, n.value)

	p := a.push.Load()
	deadline := time.Now().Add(5 * time.Second)
	for (p.sent.Load() < 2 || p.failed.Load() < 1) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if p.sent.Load() < 2 || p.failed.Load() < 1 {
		t.Errorf("sent %d (want ≥ 2 acknowledged), failed %d (want ≥ 1 to the dead port)", p.sent.Load(), p.failed.Load())
	}
	// the dead receiver does not hold up evaluation
	g := v2cClient(t, listenOf(cfg), "public")
	v, err := getValue(g)
	require.NoError(t, err)
	assert.Equal(t, agent.Value{Int: -1}, v)
}

func listenOf(cfg *Compiled) string { return cfg.Agent.Listen[0] }

func TestPushCoalesces(t *testing.T) {
	p := &pusher{targets: []*pushTarget{{wake: make(chan struct{}, 1)}}}
	p.notify(&State{Value: agent.Value{Int: 5}}, []AliasLoad{{Alias: "a", Metric: 5}})
	p.notify(&State{Value: agent.Value{IsString: true, Str: "a=-1,b=3"}}, []AliasLoad{{Alias: "a", Metric: -1}, {Alias: "b", Metric: 3}})
	m := p.targets[0].pending
	assert.Equal(t, agent.Value{IsString: true, Str: "a=-1,b=3"}, m.value)
	assert.Equal(t, "a=-1,b=3", changedString(m.changed))
	assert.Len(t, p.targets[0].wake, 1)
}

func TestReload(t *testing.T) {
	cfg, addr, root := listenCfg(t, `[[alias]]
name = "a"
loads = [{ type = "constant", data = "50" }]
`)
	boots := filepath.Join(root, "boots")
	cfg.Agent.BootsFile = boots
	a := startCfg(t, cfg)
	assert.Equal(t, uint32(1), a.CurrentResponder().Boots())
	g := v2cClient(t, addr, "public")
	eventuallyValue(t, g, agent.Value{Int: 50})

	rewrite := func(body string) {
		t.Helper()
		text := fmt.Sprintf("[agent]\nlisten = [%q]\nroot = %q\nboots_file = %q\ninterval = \"50ms\"\n%s", addr, root, boots, body)
		require.NoError(t, os.WriteFile(cfg.File, []byte(text), 0o644))
	}
	// new loads and aliases, same SNMP settings: same responder
	rewrite("community = \"public\"\n[[alias]]\nname = \"a\"\nloads = [{ type = \"constant\", data = \"60\" }]\n[[alias]]\nname = \"b\"\nloads = [{ type = \"constant\", data = \"70\" }]\n")
	require.NoError(t, a.Reread())
	eventuallyValue(t, g, agent.Value{IsString: true, Str: "a=60,b=70"})
	assert.Equal(t, a.Responder, a.CurrentResponder())

	// an invalid file is refused, the running configuration stays
	rewrite("community = \"public\"\n[[alias]]\nname = \"a\"\nloads = [{ type = \"constant\", data = \"lots\" }]\n")
	if err := a.Reread(); err == nil || !strings.Contains(err.Error(), "alias[0].loads[0]") {
		t.Errorf("want a config error naming the key, got %v", err)
	}
	time.Sleep(150 * time.Millisecond)
	v, err := getValue(g)
	require.NoError(t, err)
	assert.Equal(t, agent.Value{IsString: true, Str: "a=60,b=70"}, v)

	// listen addresses cannot change without a restart
	other := *a.Evaluator.Config()
	other.Agent.Listen = []string{"127.0.0.1:1"}
	if err := a.Reload(&other); err == nil || !strings.Contains(err.Error(), "restart") {
		t.Errorf("listen change: %v", err)
	}

	// a new community: new responder, boots incremented and persisted
	rewrite("community = \"private\"\n[[alias]]\nname = \"a\"\nloads = [{ type = \"constant\", data = \"80\" }]\n")
	require.NoError(t, a.Reread())
	assert.Equal(t, uint32(2), a.CurrentResponder().Boots())
	data, err := os.ReadFile(boots)
	require.NoError(t, err)
	assert.Equal(t, "2\n", string(data))
	eventuallyValue(t, v2cClient(t, addr, "private"), agent.Value{Int: 80})
	if _, err := getValue(v2cClientTimeout(t, addr, "public", 200*time.Millisecond)); err == nil {
		t.Error("the old community still answers")
	}
}

// TestRunSIGHUP sends the process a real SIGHUP while Run is active.
func TestRunSIGHUP(t *testing.T) {
	cfg, addr, _ := listenCfg(t, "[[alias]]\nname = \"a\"\nloads = [{ type = \"constant\", data = \"50\" }]\n")
	ready := make(chan *Agent, 1)
	runReady = func(a *Agent) { ready <- a }
	defer func() { runReady = nil }()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, FileLoader(cfg.File), testenv.QuietLogger()) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	g := v2cClient(t, addr, "public")
	eventuallyValue(t, g, agent.Value{Int: 50})
	text, err := os.ReadFile(cfg.File)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cfg.File, []byte(strings.Replace(string(text), `"50"`, `"55"`, 1)), 0o644))
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
	eventuallyValue(t, g, agent.Value{Int: 55})
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
}

func v2cClientTimeout(t *testing.T, addr, community string, d time.Duration) *gosnmp.GoSNMP {
	g := v2cClient(t, addr, community)
	g.Timeout = d
	return g
}

// eventuallyValue GETs until the answer is want (bounded: 250 tries, 5 s).
func eventuallyValue(t *testing.T, g *gosnmp.GoSNMP, want agent.Value) {
	t.Helper()
	var v agent.Value
	var err error
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; i < 250 && time.Now().Before(deadline); i++ {
		if v, err = getValue(g); err == nil && v == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("want %v, last %v (err %v)", want, v, err)
}
