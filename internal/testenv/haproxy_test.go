package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// haproxyCfg is a TCP proxy on port with one server whose health check is
// off, weight w.
func haproxyCfg(port, w int) string {
	return fmt.Sprintf(`defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen fe
    bind 127.0.0.1:%d
    server m1 127.0.0.1:1 weight %d
`, port, w)
}

func TestStartHAProxy(t *testing.T) {
	port := FreePort(t, "127.0.0.1")
	h := StartHAProxy(t, haproxyCfg(port, 10))
	st := h.Stat(t, "fe", "m1")
	assert.Equal(t, "10", st["weight"])
	assert.Equal(t, "no check", st["status"])
	out, err := h.Command("show servers state fe")
	require.NoError(t, err)
	assert.Contains(t, out, "m1")
	servers, err := h.Servers("fe")
	require.NoError(t, err)
	assert.Equal(t, []string{"m1 127.0.0.1:1"}, servers)
	_, err = h.Servers("nosuch")
	assert.Error(t, err, "an unknown backend")
	master, err := os.ReadFile(h.PidFile)
	require.NoError(t, err, "the pid file")
	assert.FileExists(t, h.MasterSocket)
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	require.NoError(t, err, "the frontend listens")
	c.Close()

	// a reload reads the rewritten file
	data, err := os.ReadFile(h.Conf)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(h.Conf, []byte(strings.Replace(string(data), "weight 10", "weight 20", 1)), 0o644))
	h.Reload(t)
	assert.Equal(t, "20", h.Stat(t, "fe", "m1")["weight"])
	again, err := os.ReadFile(h.PidFile)
	require.NoError(t, err)
	assert.Equal(t, string(master), string(again), "a reload keeps the master")

	h.Stop()
	_, err = h.Command("show info")
	assert.Error(t, err, "stopped")
}

func TestCheckHAProxyConfig(t *testing.T) {
	Require(t, "haproxy")
	dir := t.TempDir()
	good := filepath.Join(dir, "good.cfg")
	require.NoError(t, os.WriteFile(good, []byte(haproxyCfg(FreePort(t, "127.0.0.1"), 1)), 0o644))
	_, err := CheckHAProxyConfig(good)
	assert.NoError(t, err)
	bad := filepath.Join(dir, "bad.cfg")
	require.NoError(t, os.WriteFile(bad, []byte("listen fe\n    frobnicate yes\n"), 0o644))
	out, err := CheckHAProxyConfig(bad)
	assert.Error(t, err)
	assert.Contains(t, out, "frobnicate")
}

// The [[render]] way: the test (lbd) writes Conf, declaring Socket and
// binding Port, checked by CheckCmd; Start runs it; ReloadCmd, run by a
// shell, makes it read the rewritten file; WaitServers follows.
func TestHAProxyRenderCommands(t *testing.T) {
	h := NewHAProxy(t)
	conf := func(servers string) {
		t.Helper()
		text := fmt.Sprintf("global\n    stats socket %s mode 600 level admin\n%s", h.Socket, haproxyCfg(h.Port, 1)) + servers
		require.NoError(t, os.WriteFile(h.Conf, []byte(text), 0o644))
		check := strings.ReplaceAll(h.CheckCmd(), "{{.File}}", h.Conf)
		out, err := exec.Command("sh", "-c", check).CombinedOutput()
		require.NoError(t, err, string(out))
	}
	conf("")
	h.Start(t)
	h.WaitServers(t, "fe", []string{"m1 127.0.0.1:1"}, 5*time.Second)
	conf("    server m2 127.0.0.1:2\n")
	out, err := exec.Command("sh", "-c", h.ReloadCmd()).CombinedOutput()
	require.NoError(t, err, string(out))
	h.WaitServers(t, "fe", []string{"m2 127.0.0.1:2", "m1 127.0.0.1:1"}, 15*time.Second)
}
