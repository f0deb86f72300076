package testenv

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	require.NoError(t, err, "the frontend listens")
	c.Close()

	// a reload reads the rewritten file
	data, err := os.ReadFile(h.Conf)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(h.Conf, []byte(strings.Replace(string(data), "weight 10", "weight 20", 1)), 0o644))
	h.Reload(t)
	assert.Equal(t, "20", h.Stat(t, "fe", "m1")["weight"])

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
