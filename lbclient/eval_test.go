package lbclient

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/checks"
	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/lbclient/agent"
)

func TestCompose(t *testing.T) {
	for _, c := range []struct {
		name  string
		loads []AliasLoad
		want  agent.Value
	}{
		{"none", nil, agent.Value{IsString: true, Str: ""}},
		{"one", []AliasLoad{{Alias: "a.example", Metric: 50}}, agent.Value{Int: 50}},
		{"one negative", []AliasLoad{{Alias: "a.example", Metric: -13}}, agent.Value{Int: -13}},
		{"two", []AliasLoad{{Alias: "a.example", Metric: 50}, {Alias: "b.example", Metric: -1}},
			agent.Value{IsString: true, Str: "a.example=50,b.example=-1"}},
		{"order kept", []AliasLoad{{Alias: "z", Metric: 1}, {Alias: "a", Metric: 2}, {Alias: "m", Metric: NotReady}},
			agent.Value{IsString: true, Str: "z=1,a=2,m=-100"}},
		{"clamped", []AliasLoad{{Alias: "a", Metric: 1 << 40}}, agent.Value{Int: 1<<31 - 1}},
	} {
		assert.Equal(t, c.want, Compose(c.loads), c.name)
	}
}

// fixture writes a config with root = a temp dir and returns it with the root.
func fixture(t *testing.T, body string) (*Compiled, string) {
	t.Helper()
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	text := fmt.Sprintf("[agent]\nroot = %q\ncommunity = \"public\"\nlisten = [\"127.0.0.1:1161\"]\ninterval = \"50ms\"\n%s", root, body)
	cfg, err := Parse("test.toml", []byte(text))
	require.NoError(t, err, text)
	return cfg, root
}

func TestEvaluate(t *testing.T) {
	const two = `
[default]
checks = ["nologin"]
loads = [{ type = "constant", data = "7" }]
[[alias]]
name = "a.example"
checks = ["nologin"]
loads = [{ type = "constant", data = "50" }]
[[alias]]
name = "b.example"
`
	for _, c := range []struct {
		name        string
		body        string
		files       []string
		defaultLoad func(string) int
		want        agent.Value
		wantStep    string // of the last alias
	}{
		{"one alias integer", "[[alias]]\nname = \"a.example\"\nloads = [{ type = \"constant\", data = \"50\" }]\n",
			nil, nil, agent.Value{Int: 50}, ""},
		{"loads summed", "[[alias]]\nname = \"a\"\nloads = [{ type = \"constant\", data = \"249\" }, { type = \"constant\", data = \"1.9\" }]\n",
			nil, nil, agent.Value{Int: 250}, ""},
		{"negative constant", "[[alias]]\nname = \"a\"\nloads = [{ type = \"constant\", data = \"-1\" }, { type = \"constant\", data = \"5\" }]\n",
			nil, nil, agent.Value{Int: -16}, "alias[0].loads[0]"},
		{"check stops", "[[alias]]\nname = \"a\"\nchecks = [\"nologin\"]\nloads = [{ type = \"constant\", data = \"5\" }]\n",
			[]string{"etc/nologin"}, nil, agent.Value{Int: -1}, "alias[0].checks[0]"},
		{"no loads: placeholder 1", "[[alias]]\nname = \"a\"\nchecks = [\"nologin\"]\n",
			nil, nil, agent.Value{Int: 1}, ""},
		{"sum 0: default load", "[[alias]]\nname = \"a\"\nloads = [{ type = \"constant\", data = \"0\" }]\n",
			nil, func(string) int { return 777 }, agent.Value{Int: 777}, ""},
		{"default mapping", "[default]\nloads = [\"constant\"]\n[[alias]]\nname = \"a\"\n", nil, nil, agent.Value{}, "bad"},
		{"two aliases", two, nil, nil, agent.Value{IsString: true, Str: "a.example=50,b.example=7"}, ""},
		{"nologin everywhere", two, []string{"etc/nologin"}, nil,
			agent.Value{IsString: true, Str: "a.example=-1,b.example=-1"}, "default.checks[0]"},
		{"iss.nologin: default mapping only", two, []string{"etc/iss.nologin"}, nil,
			agent.Value{IsString: true, Str: "a.example=50,b.example=-1"}, "default.checks[0]"},
		{"iss.nologin.<alias>: that alias only", two, []string{"etc/iss.nologin.a.example"}, nil,
			agent.Value{IsString: true, Str: "a.example=-1,b.example=7"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.wantStep == "bad" { // "constant" needs data: a config error
				_, err := Parse("x.toml", []byte("[agent]\ncommunity=\"x\"\n"+c.body))
				if err == nil {
					t.Fatal("want a config error")
				}
				return
			}
			cfg, root := fixture(t, c.body)
			cfg.DefaultLoad = c.defaultLoad
			for _, f := range c.files {
				testenv.Touch(t, root, f)
			}
			ev := NewEvaluator(cfg, testenv.QuietLogger())
			st := ev.Round(context.Background())
			assert.True(t, st.Ready)
			assert.Equal(t, c.want, st.Value)
			assert.Equal(t, c.want, ev.Value())
			assert.Equal(t, c.wantStep, st.Loads[len(st.Loads)-1].Step)
		})
	}
}

func TestNotReadyAndHung(t *testing.T) {
	cfg, _ := fixture(t, "[[alias]]\nname = \"a\"\n[[alias]]\nname = \"b\"\nloads = [{ type = \"constant\", data = \"3\" }]\n")
	ev := NewEvaluator(cfg, testenv.QuietLogger())
	assert.False(t, ev.State().Ready)
	assert.Equal(t, agent.Value{IsString: true, Str: "a=-100,b=-100"}, ev.Value())

	// a check that ignores its context is abandoned after timeout + grace
	old := HangGrace
	HangGrace = 20 * time.Millisecond
	defer func() { HangGrace = old }()
	release := make(chan struct{})
	defer close(release)
	m := &Mapping{Name: "h", Aliases: []string{"h"}, Steps: []Step{{Key: "alias[0].checks[0]",
		Spec: checks.Spec{Type: "stuck", Timeout: 10 * time.Millisecond},
		Check: checks.CheckFunc(func(context.Context, checks.Env) checks.Result {
			<-release
			return checks.Result{OK: true}
		})}}}
	start := time.Now()
	o := m.Evaluate(context.Background(), "/", nil)
	assert.Equal(t, CheckHung, o.Metric)
	assert.True(t, o.Hard)
	if d := time.Since(start); d > time.Second {
		t.Errorf("hung check held the round for %v", d)
	}

	// a check that honours its timeout reports its own code (a generous
	// grace: under a loaded -race run 20 ms may pass before it is scheduled)
	HangGrace = 30 * time.Second
	m.Steps[0].Check = checks.CheckFunc(func(ctx context.Context, _ checks.Env) checks.Result {
		<-ctx.Done()
		return checks.Result{Code: 14, Hard: true, Reason: "timeout"}
	})
	o = m.Evaluate(context.Background(), "/", nil)
	assert.Equal(t, -14, o.Metric)
}

func TestComposePerMapping(t *testing.T) {
	two := []AliasLoad{{Alias: "a", Metric: 5}, {Alias: "b", Metric: 5}}
	assert.Equal(t, agent.Value{Int: 5}, ComposePerMapping(1, two), "one mapping, two aliases")
	assert.Equal(t, agent.Value{IsString: true, Str: "a=5,b=5"}, Compose(two), "TOML rule")
	assert.Equal(t, agent.Value{IsString: true, Str: "a=5,b=5"}, ComposePerMapping(2, two))
	assert.Equal(t, agent.Value{IsString: true, Str: ""}, ComposePerMapping(0, nil))
	assert.Equal(t, agent.Value{Int: -13}, ComposePerMapping(1, []AliasLoad{{Alias: "a", Metric: -13}}))
}
