package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/stretchr/testify/require"
)

// lbd -log-file writes its log there and reopens the file on SIGHUP, so a
// rotation (rename, then SIGHUP) starts a new file; lbd -h starts with what
// the command does.
func TestLogFileReopenedOnSIGHUP(t *testing.T) {
	agents := startThreeAgents(t)
	n := startNamed(t)
	cfg := writeLBDConfig(t, lbdOpts{Role: "master", Server: n.Addr, SNMPPort: agents[0].Port,
		Alias: alias, Members: []string{"127.0.0.2"}, BestHosts: 1})
	logPath := filepath.Join(t.TempDir(), "lbd.log")
	_, _, cmd := startLBDCmd(t, "-config", cfg, "-hostname", "master.test", "-log-file", logPath)
	read := func(p string) string { b, _ := os.ReadFile(p); return string(b) }
	waitFor(t, 10*time.Second, func() bool { return strings.Contains(read(logPath), "lbd starting") })
	require.NoError(t, os.Rename(logPath, logPath+".1"))
	require.NoError(t, cmd.Process.Signal(syscall.SIGHUP))
	waitFor(t, 10*time.Second, func() bool { return strings.Contains(read(logPath), "configuration reloaded") })
	require.NotContains(t, read(logPath+".1"), "configuration reloaded", "the rotated file gets nothing new")

	out, errOut, _ := runLBD(t, "-h")
	require.True(t, strings.HasPrefix(out+errOut, "lbd keeps DNS aliases pointing at the best members"), out+errOut)
}

// lbclient -log-file -log-json: JSON lines in the file, and the file is
// reopened on SIGHUP (with the reload).
func TestLbclientLogFileAndJSON(t *testing.T) {
	dir := t.TempDir()
	port := testenv.FreePort(t, "127.0.0.1")
	cfg := filepath.Join(dir, "lbclient.toml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`[agent]
listen = ["127.0.0.1:%d"]
root = %q
community = "public"
interval = "100ms"
[[alias]]
name = "a.example.org"
loads = [{ type = "constant", data = "5" }]
`, port, dir)), 0o644))
	logPath := filepath.Join(dir, "lbclient.log")
	cmd := exec.Command(filepath.Join(binDir, "lbclient"), "-config", cfg, "-log-file", logPath, "-log-json")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	read := func(p string) string { b, _ := os.ReadFile(p); return string(b) }
	waitFor(t, 10*time.Second, func() bool { return strings.Contains(read(logPath), "agent started") })
	first := strings.SplitN(read(logPath), "\n", 2)[0]
	var v map[string]any
	require.NoError(t, json.Unmarshal([]byte(first), &v), "a JSON line: %s", first)
	require.NoError(t, os.Rename(logPath, logPath+".1"))
	// The agent may not watch SIGHUP for reloads yet right after its start
	// line: send it until the reload is logged (bounded).
	for i := 0; i < 40 && !strings.Contains(read(logPath), "configuration reloaded"); i++ {
		require.NoError(t, cmd.Process.Signal(syscall.SIGHUP))
		time.Sleep(250 * time.Millisecond)
	}
	require.Contains(t, read(logPath), "configuration reloaded", "logged into the reopened file")
}
