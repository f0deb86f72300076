package lbclient

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/internal/testenv"
)

// The agent started by Start (not just agent.Responder.Serve) answers on a
// wildcard socket from the address it was polled on: a poller with a
// connected socket (gosnmp here, the existing CERN lbd in production) only
// receives replies from that address (docs/protocol.md §3.4 item 1).
func TestStartWildcardRepliesFromPolledAddress(t *testing.T) {
	port := testenv.FreePort(t, "127.0.0.1")
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	text := fmt.Sprintf("[agent]\nlisten = [\"0.0.0.0:%d\"]\nroot = %q\ncommunity = \"public\"\ninterval = \"50ms\"\n"+
		"[[alias]]\nname = \"a\"\nloads = [{ type = \"constant\", data = \"42\" }]\n", port, root)
	file := filepath.Join(root, "lbclient.toml")
	require.NoError(t, os.WriteFile(file, []byte(text), 0o644))
	cfg, err := Load(file)
	require.NoError(t, err)
	startCfg(t, cfg)
	for _, ip := range []string{"127.0.0.1", "127.0.0.7"} {
		g := v2cClient(t, fmt.Sprintf("%s:%d", ip, port), "public")
		if _, err := getValue(g); err != nil {
			t.Fatalf("GET via %s: %v (reply not from the polled address?)", ip, err)
		}
	}
}
