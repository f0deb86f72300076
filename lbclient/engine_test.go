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
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/checks"
	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/lbclient/agent"
)

// replaceChecks replaces every step whose Spec.Type is typ by f.
func replaceChecks(cfg *Compiled, typ string, f checks.CheckFunc) {
	for _, m := range cfg.Mappings() {
		for i := range m.Steps {
			if m.Steps[i].Spec.Type == typ {
				m.Steps[i].Check = f
			}
		}
	}
}

func TestSharedChecksRunOncePerRound(t *testing.T) {
	cfg, root := fixture(t, `
[[alias]]
name = "a"
checks = ["nologin", { type = "command", data = "/bin/true" }]
loads = [{ type = "constant", data = "10" }]
[[alias]]
name = "b"
checks = ["nologin", { type = "command", data = "/bin/true" }]
loads = [{ type = "constant", data = "20" }]
[[alias]]
name = "c"
checks = ["nologin", { type = "command", data = "/bin/true", timeout = "5s" }]
loads = [{ type = "constant", data = "30" }]
`)
	var cmdRuns, nologinRuns atomic.Int32
	replaceChecks(cfg, "command", func(context.Context, checks.Env) checks.Result {
		cmdRuns.Add(1)
		time.Sleep(5 * time.Millisecond) // let the other mappings arrive while it runs
		return checks.Result{OK: true}
	})
	nologin := cfg.Mappings()[0].Steps[0].Check
	replaceChecks(cfg, "nologin", func(ctx context.Context, env checks.Env) checks.Result {
		nologinRuns.Add(1)
		return nologin.Run(ctx, env)
	})
	testenv.Touch(t, root, "etc/iss.nologin.b")
	ev := NewEvaluator(cfg, testenv.QuietLogger())
	for round := 1; round <= 3; round++ {
		st := ev.Round(context.Background())
		assert.Equal(t, agent.Value{IsString: true, Str: "a=10,b=-1,c=30"}, st.Value, "round %d", round)
		// "command /bin/true" with the default timeout is shared by a and b
		// (b stops at nologin before reaching it); c's has another timeout.
		assert.Equal(t, int32(2*round), cmdRuns.Load(), "command runs after round %d", round)
		// nologin depends on the alias: one run per alias
		assert.Equal(t, int32(3*round), nologinRuns.Load(), "nologin runs after round %d", round)
		assert.Equal(t, int64(7), ev.runs.Load(), "steps started, round %d", round) // 3 nologin + 2 command + constants of a and c
	}
}

func TestDefaultLoadSharedAndConstantsShared(t *testing.T) {
	cfg, _ := fixture(t, `
[[alias]]
name = "a"
loads = [{ type = "constant", data = "0" }]
[[alias]]
name = "b"
loads = [{ type = "constant", data = "0" }]
`)
	var n atomic.Int32
	cfg.DefaultLoad = func(string) int { n.Add(1); return 321 }
	st := NewEvaluator(cfg, testenv.QuietLogger()).Round(context.Background())
	assert.Equal(t, agent.Value{IsString: true, Str: "a=321,b=321"}, st.Value)
	assert.Equal(t, int32(1), n.Load())
}

func TestBoundedConcurrency(t *testing.T) {
	var b strings.Builder
	b.WriteString("[[alias]]\nname = \"first\"\n")
	for i := range 8 {
		fmt.Fprintf(&b, "[[alias]]\nname = \"a%d\"\nchecks = [{ type = \"command\", data = \"/bin/echo %d\" }]\nloads = [{ type = \"constant\", data = \"%d\" }]\n", i, i, i+1)
	}
	cfg, _ := fixture(t, b.String())
	cfg.Agent.Workers = 3
	var active, peak, runs atomic.Int32
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	replaceChecks(cfg, "command", func(context.Context, checks.Env) checks.Result {
		n := active.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		// wait (bounded) until 3 run at once, to show that 3 do
		mu.Lock()
		cond.Broadcast()
		deadline := time.Now().Add(2 * time.Second)
		for active.Load() < 3 && peak.Load() < 3 && time.Now().Before(deadline) {
			mu.Unlock()
			time.Sleep(time.Millisecond)
			mu.Lock()
		}
		mu.Unlock()
		active.Add(-1)
		runs.Add(1)
		return checks.Result{OK: true}
	})
	cfg.DefaultLoad = func(string) int { return 5 }
	st := NewEvaluator(cfg, testenv.QuietLogger()).Round(context.Background())
	assert.Equal(t, int32(8), runs.Load())
	assert.Equal(t, int32(3), peak.Load(), "peak concurrency with workers = 3")
	assert.Equal(t, "first=5,a0=1,a1=2,a2=3,a3=4,a4=5,a5=6,a6=7,a7=8", st.Value.Str)
}

func TestShortCircuit(t *testing.T) {
	cfg, root := fixture(t, `
[[alias]]
name = "a"
checks = ["nologin", { type = "command", data = "/bin/true" }]
loads = [{ type = "constant", data = "10" }]
`)
	var runs atomic.Int32
	replaceChecks(cfg, "command", func(context.Context, checks.Env) checks.Result {
		runs.Add(1)
		return checks.Result{OK: true}
	})
	testenv.Touch(t, root, "etc/nologin")
	st := NewEvaluator(cfg, testenv.QuietLogger()).Round(context.Background())
	assert.Equal(t, agent.Value{Int: -1}, st.Value)
	assert.Equal(t, int32(0), runs.Load(), "a check after a failing one must not run")
}

func TestHungCheckNotRestarted(t *testing.T) {
	old := HangGrace
	HangGrace = 10 * time.Millisecond
	defer func() { HangGrace = old }()
	cfg, _ := fixture(t, `
[[alias]]
name = "a"
checks = [{ type = "command", data = "/bin/true", timeout = "10ms" }]
loads = [{ type = "constant", data = "10" }]
`)
	release := make(chan struct{})
	var runs atomic.Int32
	replaceChecks(cfg, "command", func(context.Context, checks.Env) checks.Result {
		if runs.Add(1) == 1 {
			<-release // ignores its context
		}
		return checks.Result{OK: true}
	})
	ev := NewEvaluator(cfg, testenv.QuietLogger())
	st := ev.Round(context.Background())
	assert.Equal(t, agent.Value{Int: CheckHung}, st.Value)
	st = ev.Round(context.Background())
	assert.Equal(t, agent.Value{Int: CheckHung}, st.Value)
	if !strings.Contains(st.Loads[0].Reason, "still running since") {
		t.Errorf("reason %q", st.Loads[0].Reason)
	}
	assert.Equal(t, int32(1), runs.Load(), "a hung check is not started again while it runs")
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; i < 500 && time.Now().Before(deadline); i++ {
		if st = ev.Round(context.Background()); st.Value == (agent.Value{Int: 10}) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	assert.Equal(t, agent.Value{Int: 10}, st.Value, "after the hung run returned")
	assert.Equal(t, int32(2), runs.Load())
}

// v2cClient returns a gosnmp v2c client of addr ("ip:port").
func v2cClient(t *testing.T, addr, community string) *gosnmp.GoSNMP {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	var p int
	fmt.Sscan(port, &p)
	g := &gosnmp.GoSNMP{Target: host, Port: uint16(p), Transport: "udp", Version: gosnmp.Version2c, Community: community,
		Timeout: 2 * time.Second, Retries: 0, MaxOids: 1, Logger: gosnmp.NewLogger(log.New(io.Discard, "", 0))}
	require.NoError(t, g.Connect())
	t.Cleanup(func() { g.Conn.Close() })
	return g
}

// getValue GETs the load OID and returns it as an agent.Value.
func getValue(g *gosnmp.GoSNMP) (agent.Value, error) {
	pkt, err := g.Get([]string{agent.OID})
	if err != nil {
		return agent.Value{}, err
	}
	if len(pkt.Variables) != 1 {
		return agent.Value{}, fmt.Errorf("%d varbinds", len(pkt.Variables))
	}
	switch v := pkt.Variables[0].Value.(type) {
	case int:
		return agent.Value{Int: int32(v)}, nil
	case []byte:
		return agent.Value{IsString: true, Str: string(v)}, nil
	}
	return agent.Value{}, fmt.Errorf("unexpected %v", pkt.Variables[0].Type)
}

// startCfg starts an agent for cfg and stops it at cleanup.
func startCfg(t *testing.T, cfg *Compiled) *Agent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := Start(ctx, cfg, testenv.QuietLogger())
	require.NoError(t, err)
	t.Cleanup(func() {
		cancel()
		done := make(chan error, 1)
		go func() { done <- a.Wait() }()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Error("agent did not stop")
		}
	})
	return a
}

func listenCfg(t *testing.T, body string) (*Compiled, string, string) {
	t.Helper()
	port := testenv.FreePort(t, "127.0.0.1")
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	text := fmt.Sprintf("[agent]\nlisten = [%q]\nroot = %q\ncommunity = \"public\"\ninterval = \"50ms\"\n%s", addr, root, body)
	file := filepath.Join(root, "lbclient.toml")
	require.NoError(t, os.WriteFile(file, []byte(text), 0o644))
	cfg, err := Load(file)
	require.NoError(t, err, text)
	return cfg, addr, root
}

// A GET never waits for a check: before the first round it answers
// NotReady, and while a round hangs it answers the previous value.
func TestGetNeverWaitsForChecks(t *testing.T) {
	cfg, addr, _ := listenCfg(t, `
[[alias]]
name = "a"
checks = [{ type = "command", data = "/bin/true", timeout = "60s" }]
loads = [{ type = "constant", data = "50" }]
`)
	var calls atomic.Int32
	gate := make(chan struct{})
	entered := make(chan int32, 10)
	replaceChecks(cfg, "command", func(ctx context.Context, _ checks.Env) checks.Result {
		n := calls.Add(1)
		entered <- n
		if n == 1 || n == 2 {
			select { // blocks far longer than the client's 2 s timeout
			case <-gate:
			case <-ctx.Done():
			}
		}
		return checks.Result{OK: true}
	})
	a := startCfg(t, cfg)
	t.Cleanup(func() { close(gate) }) // runs before the agent's cleanup
	g := v2cClient(t, addr, "public")

	<-entered // first round is running, blocked in the check
	v, err := getValue(g)
	require.NoError(t, err)
	assert.Equal(t, agent.Value{Int: NotReady}, v, "before the first round completes")

	gate <- struct{}{} // let round 1 finish
	deadline := time.Now().Add(5 * time.Second)
	for v.Int != 50 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		v, err = getValue(g)
		require.NoError(t, err)
	}
	assert.Equal(t, agent.Value{Int: 50}, v)

	<-entered // round 2 is blocked in the check
	for range 20 {
		v, err = getValue(g)
		require.NoError(t, err, "GET while a check hangs")
		assert.Equal(t, agent.Value{Int: 50}, v, "previous value while a check hangs")
	}
	assert.Equal(t, int32(2), calls.Load())
	assert.True(t, a.Evaluator.State().Ready)
}

func TestBootsPath(t *testing.T) {
	cfg, _ := fixture(t, "[[alias]]\nname = \"a\"\n")
	t.Setenv("STATE_DIRECTORY", "")
	assert.Equal(t, "", cfg.BootsPath())
	t.Setenv("STATE_DIRECTORY", "/var/lib/lbclient:/other")
	assert.Equal(t, "/var/lib/lbclient/boots", cfg.BootsPath())
	cfg.Agent.BootsFile = "/srv/boots"
	assert.Equal(t, "/srv/boots", cfg.BootsPath())

	dir := t.TempDir()
	f := filepath.Join(dir, "boots")
	for want := uint32(1); want <= 3; want++ {
		b, err := nextBoots(f)
		require.NoError(t, err)
		assert.Equal(t, want, b)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "file"), nil, 0o644))
	_, err := nextBoots(filepath.Join(dir, "file", "boots")) // not a directory, even for root
	if err == nil || !strings.Contains(err.Error(), "boots_file") {
		t.Errorf("want an error naming boots_file, got %v", err)
	}
	require.NoError(t, os.WriteFile(f, []byte("garbage\n"), 0o644))
	if _, err := nextBoots(f); err == nil {
		t.Error("garbage boots file accepted")
	}
}

func TestNewAgentKeys(t *testing.T) {
	cfg, err := Parse("x.toml", []byte(`[agent]
community = "c"
workers = 8
push = ["127.0.0.1:10162", "[::1]:162", "lbd1.example.org:162"]
push_inform = true
push_timeout = "250ms"
push_retries = 0
[[alias]]
name = "a"
`))
	require.NoError(t, err)
	assert.Equal(t, 8, cfg.Workers())
	s := cfg.pushSettings()
	assert.Equal(t, pushSettings{targets: []string{"127.0.0.1:10162", "[::1]:162", "lbd1.example.org:162"}, community: "c",
		inform: true, timeout: 250 * time.Millisecond, retries: 0}, s)
	for _, c := range []struct{ text, key string }{
		{"workers = 0", "agent.workers"},
		{"push = [\"127.0.0.1\"]", "agent.push[0]"},
		{"push = [\"127.0.0.1:0\"]", "agent.push[0]"},
		{"push_timeout = \"x\"", "agent.push_timeout"},
		{"push_timeout = \"0s\"", "agent.push_timeout"},
		{"interval = \"0s\"", "agent.interval"},
		{"push_retries = 99", "agent.push_retries"},
	} {
		_, err := Parse("x.toml", []byte("[agent]\ncommunity = \"c\"\n"+c.text+"\n[[alias]]\nname = \"a\"\n"))
		if err == nil || !strings.Contains(err.Error(), c.key) {
			t.Errorf("%s: want an error about %s, got %v", c.text, c.key, err)
		}
	}
}
