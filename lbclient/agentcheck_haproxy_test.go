package lbclient

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/lbclient/agent"
)

// tcpSink accepts and closes connections on a free 127.0.0.1 port (the
// members' service, for HAProxy's regular health check) until the test
// ends.
func tcpSink(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitServer polls HAProxy's "show stat" until proxy/m1 has status and
// weight (bounded: 15 s, far more than the few 200 ms agent intervals it
// takes).
func waitServer(t *testing.T, h *testenv.HAProxy, proxy, status, weight string) {
	t.Helper()
	var st map[string]string
	deadline := time.Now().Add(15 * time.Second)
	for i := 0; i < 1500 && time.Now().Before(deadline); i++ {
		st = h.Stat(t, proxy, "m1")
		if st["status"] == status && (weight == "" || st["weight"] == weight) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s/m1: want status %q weight %q, have %q weight %q (agent: %q)", proxy, status, weight, st["status"], st["weight"], st["last_agt"])
}

// TestAgentCheckHAProxy is the acceptance test with a real HAProxy: three
// backends whose server m1 is this agent (agent-send names the alias, or
// the agent port is mapped to it).
// The weights follow the loads; /etc/nologin drains www in HAProxy and
// in the SNMP answer alike, and removing it brings it back; a failing
// load marks it down; with agent_check_drained = "maint" nologin puts it
// in maintenance, from which the agent check brings it back.
func TestAgentCheckHAProxy(t *testing.T) {
	testenv.Require(t, "haproxy")
	ck, mapped := testenv.FreePort(t, "127.0.0.1"), testenv.FreePort(t, "127.0.0.1")
	agentKeys := fmt.Sprintf("agent_check_listen = [\"127.0.0.1:%d\", \"127.0.0.1:%d\"]\nagent_check_port_alias = { %d = \"ssh.example\" }\n", ck, mapped, mapped)
	aliases := func(wwwLoad string) string {
		return fmt.Sprintf(`[[alias]]
name = "www.example"
checks = ["nologin"]
loads = [{ type = "constant", data = %q }]
[[alias]]
name = "ssh.example"
loads = [{ type = "constant", data = "50" }]
`, wwwLoad)
	}
	cfg, addr, root := listenCfg(t, agentKeys+aliases("200"))
	a := startCfg(t, cfg)
	rewrite := func(agentExtra, wwwLoad string) {
		t.Helper()
		text := fmt.Sprintf("[agent]\nlisten = [%q]\nroot = %q\ncommunity = \"public\"\ninterval = \"50ms\"\n%s%s%s", addr, root, agentKeys, agentExtra, aliases(wwwLoad))
		require.NoError(t, os.WriteFile(cfg.File, []byte(text), 0o644))
		require.NoError(t, a.Reread())
	}

	web := tcpSink(t)
	server := func(alias string) string {
		return fmt.Sprintf("    server m1 127.0.0.1:%d weight 100 check inter 200ms agent-check agent-port %d agent-inter 200ms agent-send \"%s\\n\"\n", web, ck, alias)
	}
	h := testenv.StartHAProxy(t, "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n    timeout check 1s\n"+
		"backend www\n"+server("www.example")+"backend ssh\n"+server("ssh.example")+
		// no agent-send: the port is mapped to the alias
		fmt.Sprintf("backend sshport\n    server m1 127.0.0.1:%d weight 100 check inter 200ms agent-check agent-port %d agent-inter 200ms\n", web, mapped))
	nologin := filepath.Join(root, "etc", "nologin")
	g := v2cClient(t, addr, "public")

	// loads 200 and 50 with agent_check_full_load 100: 50 % and 100 %
	waitServer(t, h, "www", "UP", "50")
	waitServer(t, h, "ssh", "UP", "100")
	waitServer(t, h, "sshport", "UP", "100")

	// the load changes: the weight follows
	rewrite("", "400")
	waitServer(t, h, "www", "UP", "25")

	// nologin drains www in HAProxy and in DNS (the SNMP answer); ssh has
	// no nologin check and stays up
	testenv.Touch(t, root, "etc/nologin")
	waitServer(t, h, "www", "DRAIN (agent)", "")
	eventuallyValue(t, g, agent.Value{IsString: true, Str: "www.example=-1,ssh.example=50"})
	waitServer(t, h, "ssh", "UP", "100")
	require.True(t, strings.Contains(h.Stat(t, "www", "m1")["last_agt"], "/etc/nologin exists"), "the reason is shown")
	require.NoError(t, os.Remove(nologin))
	waitServer(t, h, "www", "UP", "25")

	// a failing load (a negative constant) is unusable: down
	rewrite("", "-5")
	waitServer(t, h, "www", "DOWN (agent)", "")
	rewrite("", "400")
	waitServer(t, h, "www", "UP", "25")

	// agent_check_drained = "maint": nologin puts www in maintenance, and
	// the agent check, which goes on in MAINT, brings it back
	rewrite("agent_check_drained = \"maint\"\n", "400")
	testenv.Touch(t, root, "etc/nologin")
	waitServer(t, h, "www", "MAINT", "")
	require.NoError(t, os.Remove(nologin))
	waitServer(t, h, "www", "UP", "25")
}
