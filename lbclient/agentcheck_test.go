package lbclient

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/lbclient/agent"
)

// askAgent connects to addr, sends send (unless empty) and returns the
// whole answer.
func askAgent(t *testing.T, addr, send string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	if send != "" {
		_, err = io.WriteString(c, send)
		require.NoError(t, err)
	}
	b, err := io.ReadAll(c)
	require.NoError(t, err)
	return string(b)
}

// eventuallyAnswer asks until the answer is want (bounded: 250 tries, 5 s).
func eventuallyAnswer(t *testing.T, addr, send, want string) {
	t.Helper()
	var got string
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; i < 250 && time.Now().Before(deadline); i++ {
		if got = askAgent(t, addr, send); got == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("agent check %q: want %q, last %q", send, want, got)
}

// The agent check answers from the evaluator's state: agent-send picks
// the alias, a mapped port answers its alias, nologin drains, and the
// SNMP answer says the same at the same time.
func TestAgentCheckAnswers(t *testing.T) {
	ck := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "127.0.0.1"))
	mapped := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "127.0.0.1"))
	_, mport, _ := net.SplitHostPort(mapped)
	maddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "127.0.0.1"))
	cfg, addr, root := listenCfg(t, fmt.Sprintf(`agent_check_listen = [%q, %q]
agent_check_port_alias = { %s = "ssh.example" }
agent_check_full_load = 100
metrics_listen = %q
[[alias]]
name = "www.example"
checks = ["nologin"]
loads = [{ type = "constant", data = "200" }]
[[alias]]
name = "ssh.example"
loads = [{ type = "constant", data = "50" }]
`, ck, mapped, mport, maddr))
	a := startCfg(t, cfg)
	g := v2cClient(t, addr, "public")
	eventuallyValue(t, g, agent.Value{IsString: true, Str: "www.example=200,ssh.example=50"})

	assert.Equal(t, "up ready 50% #load 200\n", askAgent(t, ck, "www.example\n"))
	assert.Equal(t, "up ready 100% #load 50\n", askAgent(t, ck, "SSH.example.\n"))
	assert.Equal(t, "up ready 100% #load 50\n", askAgent(t, mapped, ""), "mapped port")
	assert.Equal(t, "up ready 100% #load 50\n", askAgent(t, mapped, "www.example\n"), "mapped port wins")
	assert.Equal(t, "down ready #unknown alias ftp.example\n", askAgent(t, ck, "ftp.example\n"))
	assert.Contains(t, askAgent(t, ck, ""), "down ready #no alias named")

	testenv.Touch(t, root, "etc/nologin")
	eventuallyAnswer(t, ck, "www.example\n", "up drain #load -1: alias[0].checks[0]: /etc/nologin exists\n")
	v, err := getValue(g)
	require.NoError(t, err)
	assert.Equal(t, agent.Value{IsString: true, Str: "www.example=-1,ssh.example=50"}, v, "SNMP drains too")
	require.NoError(t, os.Remove(filepath.Join(root, "etc", "nologin")))
	eventuallyAnswer(t, ck, "www.example\n", "up ready 50% #load 200\n")

	body := scrape(t, maddr)
	assert.Contains(t, body, `lbclient_agent_check_connections_total{result="drain"}`)
	assert.NotContains(t, body, `lbclient_agent_check_connections_total{result="up"} 0`)
	assert.Contains(t, body, `lbclient_agent_check_connections_total{result="rejected"} 0`)

	// agent_check_listen needs a restart; the words apply at a reload
	other := *a.Evaluator.Config()
	other.Agent.AgentCheckListen = []string{ck}
	err = a.Reload(&other)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "agent_check_listen")
	text, err := os.ReadFile(cfg.File)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cfg.File, []byte(strings.Replace(string(text), "agent_check_full_load = 100", "agent_check_full_load = 100\nagent_check_drained = \"maint\"", 1)), 0o644))
	require.NoError(t, a.Reread())
	testenv.Touch(t, root, "etc/nologin")
	eventuallyAnswer(t, ck, "www.example\n", "up maint #load -1: alias[0].checks[0]: /etc/nologin exists\n")
}

// Before the first round every alias answers "not ready", drained.
func TestAgentCheckNotReady(t *testing.T) {
	cfg, _, _ := listenCfg(t, "[[alias]]\nname = \"a\"\n")
	ev := NewEvaluator(cfg, testenv.QuietLogger())
	tb := ev.agentCheckTable()
	s, ok := tb.Status("a")
	require.True(t, ok)
	assert.False(t, s.Ready)
	name, one := tb.Single()
	assert.True(t, one)
	assert.Equal(t, "a", name)
	_, ok = tb.Status("b")
	assert.False(t, ok)
}

func TestAgentCheckConfig(t *testing.T) {
	cfg, err := Parse("x.toml", []byte("[agent]\ncommunity = \"c\"\n[[alias]]\nname = \"a\"\n"))
	require.NoError(t, err)
	assert.Empty(t, cfg.Agent.AgentCheckListen)
	assert.Equal(t, "drain", cfg.Agent.AgentCheckDrained)
	assert.Equal(t, "down", cfg.Agent.AgentCheckUnusable)
	assert.Equal(t, 100, cfg.Agent.AgentCheckFullLoad)

	for _, c := range []struct {
		name, agent string
		want        []string
	}{
		{"bad listen", `agent_check_listen = ["localhost:9777"]`, []string{"bad.toml:3", "agent.agent_check_listen[0]", "localhost:9777"}},
		{"port 0", `agent_check_listen = ["127.0.0.1:0"]`, []string{"agent.agent_check_listen[0]", "port 0"}},
		{"twice", `agent_check_listen = ["127.0.0.1:9777", "127.0.0.1:9777"]`, []string{"agent.agent_check_listen[1]", "twice"}},
		{"same as metrics", "metrics_listen = \"127.0.0.1:9777\"\nagent_check_listen = [\"127.0.0.1:9777\"]", []string{"agent.agent_check_listen[0]", "metrics_listen"}},
		{"port not listened", "agent_check_listen = [\"127.0.0.1:9777\"]\nagent_check_port_alias = { 9778 = \"a\" }", []string{"bad.toml:4", "agent.agent_check_port_alias.9778", "not the port"}},
		{"port not a number", "agent_check_listen = [\"127.0.0.1:9777\"]\nagent_check_port_alias = { x = \"a\" }", []string{"agent.agent_check_port_alias.x", "not a port"}},
		{"unknown alias", "agent_check_listen = [\"127.0.0.1:9777\"]\nagent_check_port_alias = { 9777 = \"b\" }", []string{"agent.agent_check_port_alias.9777", `"b" is not a configured`}},
		{"bad drained", `agent_check_drained = "stopped"`, []string{"bad.toml:3", "agent.agent_check_drained", "drain, maint, down"}},
		{"bad unusable", `agent_check_unusable = "up"`, []string{"agent.agent_check_unusable", "drain, maint, down"}},
		{"bad full load", `agent_check_full_load = 0`, []string{"agent.agent_check_full_load", "1..99999"}},
		{"unknown key", `agent_check_port = 9777`, []string{"agent.agent_check_port", "unknown key"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			f := filepath.Join(dir, "bad.toml")
			text := "[agent]\ncommunity = \"c\"\n" + c.agent + "\n[[alias]]\nname = \"a\"\n"
			require.NoError(t, os.WriteFile(f, []byte(text), 0o644))
			_, err := Load(f)
			require.Error(t, err, text)
			msg := strings.ReplaceAll(err.Error(), dir+"/", "")
			for _, w := range c.want {
				assert.Contains(t, msg, w)
			}
		})
	}
	// mapped alias compared like alias names
	_, err = Parse("x.toml", []byte("[agent]\ncommunity = \"c\"\nagent_check_listen = [\"127.0.0.1:9777\"]\nagent_check_port_alias = { 9777 = \"A.\" }\n[[alias]]\nname = \"a\"\n"))
	assert.NoError(t, err)
}

// Start fails, naming the address, when an agent-check address is taken.
func TestAgentCheckListenTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	cfg, _, _ := listenCfg(t, fmt.Sprintf("agent_check_listen = [%q]\n[[alias]]\nname = \"a\"\n", ln.Addr().String()))
	_, err = Start(t.Context(), cfg, testenv.QuietLogger())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "agent check listen "+ln.Addr().String())
}
