package lbclient

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/checks"
	"github.com/lbd-project/lbd/lbclient/agent"
)

func TestExampleConfigLoads(t *testing.T) {
	t.Setenv("STATE_DIRECTORY", "")
	cfg, err := Load("../etc/lbclient.toml")
	require.NoError(t, err)
	assert.Equal(t, 10*time.Second, cfg.Interval())
	assert.Equal(t, []string{"0.0.0.0:161", "[::]:161"}, cfg.Agent.Listen)
	assert.Equal(t, []string{"www.lb.example.org", "ssh.lb.example.org", "batch.lb.example.org", "ftp.lb.example.org"}, cfg.Aliases())
	ms := cfg.Mappings()
	if len(ms) != 4 {
		t.Fatalf("want 4 mappings, got %d", len(ms))
	}
	assert.Equal(t, "www.lb.example.org", ms[0].Name)
	assert.Len(t, ms[0].Steps, 5)
	assert.Equal(t, "alias[0].checks[3]", ms[0].Steps[3].Key)
	assert.Equal(t, 3*time.Second, ms[0].Steps[3].Spec.Timeout)
	assert.True(t, ms[3].Default)
	assert.Equal(t, []string{"ssh.lb.example.org"}, ms[3].Aliases)
	assert.Len(t, cfg.EngineID(), 13)
	assert.Equal(t, 4, cfg.Workers())
	assert.Equal(t, "/var/lib/lbclient/boots", cfg.BootsPath())
	assert.Equal(t, pushSettings{community: "public", timeout: time.Second, retries: 2, targets: []string{}}, cfg.pushSettings())

	// every check and load type is shown (active or commented out)
	data, err := os.ReadFile("../etc/lbclient.toml")
	require.NoError(t, err)
	text := string(data)
	for _, name := range append(checks.CheckNames(), checks.LoadNames()...) {
		if !strings.Contains(text, `"`+name+`"`) {
			t.Errorf("etc/lbclient.toml does not show %q", name)
		}
	}
}

const base = `[agent]
listen = ["127.0.0.1:1161"]
users = [{ name = "loadbalancing", auth_protocol = "md5", auth_password = "12345678" }]
`

func TestConfigDefaults(t *testing.T) {
	cfg, err := Parse("x.toml", []byte(`[agent]
community = "public"
engine_id = "0x8000006005:01:02:03"
[[alias]]
name = "a.example"
`))
	require.NoError(t, err)
	assert.Equal(t, DefaultListen, cfg.Agent.Listen)
	assert.Equal(t, "/", cfg.Agent.Root)
	assert.Equal(t, DefaultInterval, cfg.Interval())
	assert.Equal(t, []byte{0x80, 0, 0, 0x60, 5, 1, 2, 3}, cfg.EngineID())
	assert.Len(t, cfg.Mappings(), 1)
	assert.True(t, cfg.Mappings()[0].Default)
}

func TestBadConfigs(t *testing.T) {
	for _, c := range []struct {
		name, text string
		want       []string // substrings of the error
	}{
		{"unknown key", base + "color = \"blue\"\n[[alias]]\nname = \"a\"\n",
			[]string{"bad.toml:4", "agent.color", "unknown key"}},
		{"unknown key in alias", base + "[[alias]]\nname = \"a\"\nttl = 5\n",
			[]string{"bad.toml:6", "alias.ttl", "unknown key"}},
		{"missing alias name", base + "[[alias]]\nname = \"a\"\n[[alias]]\nchecks = [\"nologin\"]\n",
			[]string{"bad.toml:6", "alias[1].name", "required"}},
		{"duplicate alias", base + "[[alias]]\nname = \"a.example\"\n[[alias]]\nname = \"A.example.\"\n",
			[]string{"bad.toml:7", "alias[1].name", "duplicate"}},
		{"bad check args", base + "[[alias]]\nname = \"a\"\n[[alias]]\nname = \"b\"\nloads = [{type=\"constant\", data=\"abc\"}]\n",
			[]string{"bad.toml:8", "alias[1].loads[0]", "not a number"}},
		{"unknown check", base + "[[alias]]\nname = \"a\"\nchecks = [\"nologin\", \"frobnicate\"]\n",
			[]string{"bad.toml:6", "alias[0].checks[1]", "unknown check"}},
		{"check constant", base + "[default]\nchecks = [\"constant\"]\n[[alias]]\nname = \"a\"\n",
			[]string{"bad.toml:5", "default.checks[0]", "unknown check"}},
		{"bad duration", "[agent]\ninterval = \"10 parsecs\"\ncommunity = \"x\"\n[[alias]]\nname = \"a\"\n",
			[]string{"bad.toml:2", "agent.interval", "duration"}},
		{"bad item timeout", base + "[[alias]]\nname = \"a\"\nchecks = [{ type = \"nologin\", timeout = \"soon\" }]\n",
			[]string{"bad.toml:6", "alias[0].checks[0].timeout"}},
		{"unknown item key", base + "[[alias]]\nname = \"a\"\nchecks = [{ type = \"nologin\", args = \"x\" }]\n",
			[]string{"bad.toml:6", "alias[0].checks[0].args", "unknown key"}},
		{"item without type", base + "[[alias]]\nname = \"a\"\nloads = [{ data = \"5\" }]\n",
			[]string{"alias[0].loads[0].type", "required"}},
		{"item not a list", base + "[[alias]]\nname = \"a\"\nloads = \"constant\"\n",
			[]string{"bad.toml:6: key alias.loads: incompatible types"}},
		{"bad auth protocol", "[agent]\nusers = [{ name = \"u\", auth_protocol = \"sha1024\", auth_password = \"12345678\" }]\n[[alias]]\nname = \"a\"\n",
			[]string{"bad.toml:2", "agent.users[0].auth_protocol", "sha1024"}},
		{"bad priv protocol", "[agent]\nusers = [{ name = \"u\", auth_protocol = \"md5\", auth_password = \"12345678\", priv_protocol = \"des\", priv_password = \"12345678\" }]\n[[alias]]\nname = \"a\"\n",
			[]string{"agent.users[0].priv_protocol"}},
		{"short password", "[agent]\nusers = [{ name = \"u\", auth_protocol = \"md5\", auth_password = \"1234\" }]\n[[alias]]\nname = \"a\"\n",
			[]string{"agent.users[0].auth_password", "8 characters"}},
		{"no listen", "[agent]\nlisten = []\ncommunity = \"x\"\n[[alias]]\nname = \"a\"\n",
			[]string{"bad.toml:2", "agent.listen", "at least one"}},
		{"bad listen", "[agent]\nlisten = [\"localhost:161\"]\ncommunity = \"x\"\n[[alias]]\nname = \"a\"\n",
			[]string{"bad.toml:2", "agent.listen[0]", "localhost:161"}},
		{"no auth", "[agent]\nlisten = [\"127.0.0.1:161\"]\n[[alias]]\nname = \"a\"\n",
			[]string{"key agent:", "community"}},
		{"no alias", base, []string{"key alias:", "at least one"}},
		{"bad engine id", base + "engine_id = \"zz\"\n[[alias]]\nname = \"a\"\n", []string{"bad.toml:4", "agent.engine_id"}},
		{"bad root", base + "root = \"/nonexistent/dir\"\n[[alias]]\nname = \"a\"\n", []string{"bad.toml:4", "agent.root"}},
		{"bad alias name", base + "[[alias]]\nname = \"a=b\"\n", []string{"bad.toml:5", "alias[0].name"}},
		{"syntax", base + "[[alias]\nname = \"a\"\n", []string{"bad.toml:5"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			f := filepath.Join(dir, "bad.toml")
			require.NoError(t, os.WriteFile(f, []byte(c.text), 0o644))
			_, err := Load(f)
			if err == nil {
				t.Fatalf("no error for:\n%s", c.text)
			}
			msg := strings.ReplaceAll(err.Error(), dir+"/", "")
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

// Compile builds a Plan: steps, configuration errors as failing steps, the
// composition rule, and step errors under their key.
func TestCompile(t *testing.T) {
	steps := []StepPlan{{Key: "k0", Spec: checks.Spec{Type: "constant", Data: "5"}, Load: true}}
	failing := []StepPlan{{Key: "f:1", Failure: &Failure{Metric: ConfigError, Msg: "broken"}}}
	two := []MappingPlan{{Name: "a", Aliases: []string{"a"}, Steps: steps}, {Default: true, Aliases: []string{"b", "c"}, Steps: failing}}
	one := []MappingPlan{{Default: true, Aliases: []string{"b", "c"}, Steps: steps}}
	for _, c := range []struct {
		name     string
		mappings []MappingPlan
		rule     Rule
		want     agent.Value
	}{
		{"per alias", two, PerAlias, agent.Value{IsString: true, Str: "a=5,b=-102,c=-102"}},
		{"per alias, one mapping", one, PerAlias, agent.Value{IsString: true, Str: "b=5,c=5"}},
		{"per mapping, one mapping", one, PerMapping, agent.Value{Int: 5}},
		{"per mapping, two mappings", two, PerMapping, agent.Value{IsString: true, Str: "a=5,b=-102,c=-102"}},
		{"always config error", two, AlwaysConfigError, agent.Value{Int: ConfigError}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var aliases []string
			for _, m := range c.mappings {
				aliases = append(aliases, m.Aliases...)
			}
			cfg, err := Compile(&Plan{File: "p", Agent: Defaults().Agent, Mappings: c.mappings, Aliases: aliases, Rule: c.rule})
			require.NoError(t, err)
			assert.Equal(t, c.rule, cfg.Rule())
			assert.Equal(t, DefaultInterval, cfg.Interval())
			assert.Equal(t, c.want, cfg.Compose(EvaluateOnce(context.Background(), cfg, 0, nil)))
		})
	}

	_, err := Compile(&Plan{File: "p", Mappings: []MappingPlan{{Name: "a", Aliases: []string{"a"},
		Steps: []StepPlan{{Key: "alias[0].loads[0]", Spec: checks.Spec{Type: "constant", Data: "x"}, Load: true}}}}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "p: key alias[0].loads[0]: load constant")
	_, err = Compile(nil)
	assert.Error(t, err)

	broken := BrokenConfig()
	assert.Equal(t, agent.Value{Int: ConfigError}, broken.Compose(nil))
	assert.Empty(t, broken.Aliases())
}
