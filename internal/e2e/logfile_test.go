package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

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
