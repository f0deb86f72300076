package lbclient

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/lbclient/agent"
)

// snmpget runs net-snmp's snmpget (one 2 s attempt) with private state dirs.
func snmpget(t *testing.T, bin, target string, args ...string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	all := append([]string{"-r", "1", "-t", "2", "-On", "-Oqv"}, args...)
	all = append(all, target, agent.OID)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, all...)
	cmd.Env = append(os.Environ(), "SNMP_PERSISTENT_DIR="+dir, "SNMPCONFPATH="+dir, "HOME="+dir, "MIBS=", "MIBDIRS="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return strings.TrimSpace(string(out) + stderr.String()), err
	}
	return strings.TrimSpace(string(out)), nil
}

// eventually runs get until it returns want (bounded: 100 tries, 5 s).
func eventually(t *testing.T, want string, get func() (string, error)) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	var out string
	var err error
	for i := 0; i < 100 && time.Now().Before(deadline); i++ {
		if out, err = get(); err == nil && out == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("want %s, last answer %q (err %v)", want, out, err)
}

func startAgent(t *testing.T, body string) (string, string) {
	t.Helper()
	port := testenv.FreePort(t, "127.0.0.1")
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	text := fmt.Sprintf(`[agent]
listen = ["127.0.0.1:%d"]
root = %q
community = "public"
interval = "50ms"
boots_file = %q
users = [
  { name = "loadbalancing", auth_protocol = "md5", auth_password = "lb-secret-1" },
  { name = "private", auth_protocol = "sha", auth_password = "lb-secret-2", priv_protocol = "aes", priv_password = "lb-secret-3" },
]
%s`, port, root, filepath.Join(root, "boots"), body)
	file := filepath.Join(root, "lbclient.toml")
	require.NoError(t, os.WriteFile(file, []byte(text), 0o644))
	cfg, err := Load(file)
	require.NoError(t, err)
	startCfg(t, cfg)
	return "127.0.0.1:" + strconv.Itoa(port), root
}

func TestNetSNMPString(t *testing.T) {
	bin := testenv.Require(t, "snmpget")[0]
	target, root := startAgent(t, `
[default]
checks = ["nologin"]
loads = [{ type = "constant", data = "7" }]
[[alias]]
name = "a.example"
loads = [{ type = "constant", data = "50" }]
[[alias]]
name = "b.example"
`)
	v2c := func() (string, error) { return snmpget(t, bin, target, "-v2c", "-c", "public") }
	md5 := func() (string, error) {
		return snmpget(t, bin, target, "-v3", "-l", "authNoPriv", "-u", "loadbalancing", "-a", "MD5", "-A", "lb-secret-1")
	}
	aes := func() (string, error) {
		return snmpget(t, bin, target, "-v3", "-l", "authPriv", "-u", "private", "-a", "SHA", "-A", "lb-secret-2", "-x", "AES", "-X", "lb-secret-3")
	}
	eventually(t, `"a.example=50,b.example=7"`, v2c)
	for name, get := range map[string]func() (string, error){"md5": md5, "sha+aes": aes} {
		out, err := get()
		if err != nil || out != `"a.example=50,b.example=7"` {
			t.Errorf("%s: %q %v", name, out, err)
		}
	}

	// nologin drains the aliases of the default mapping at the next round
	testenv.Touch(t, root, "etc/nologin")
	eventually(t, `"a.example=50,b.example=-1"`, md5)
	out, err := aes()
	if err != nil || out != `"a.example=50,b.example=-1"` {
		t.Errorf("sha+aes after nologin: %q %v", out, err)
	}

	// wrong password: net-snmp reports the wrongDigests Report as an authentication failure
	out, err = snmpget(t, bin, target, "-v3", "-l", "authNoPriv", "-u", "loadbalancing", "-a", "MD5", "-A", "not-the-password")
	if err == nil || !strings.Contains(out, "Authentication failure") {
		t.Errorf("wrong password: %q %v", out, err)
	}
	// unknown user
	out, err = snmpget(t, bin, target, "-v3", "-l", "authNoPriv", "-u", "nobody", "-a", "MD5", "-A", "lb-secret-1")
	if err == nil || !strings.Contains(out, "Unknown user name") {
		t.Errorf("unknown user: %q %v", out, err)
	}
	data, err := os.ReadFile(filepath.Join(root, "boots"))
	require.NoError(t, err)
	assert.Equal(t, "1\n", string(data))
}

func TestNetSNMPInteger(t *testing.T) {
	bin := testenv.Require(t, "snmpget")[0]
	target, root := startAgent(t, `
[[alias]]
name = "only.example"
checks = ["nologin"]
loads = [{ type = "constant", data = "50000" }]
`)
	md5 := func() (string, error) {
		return snmpget(t, bin, target, "-v3", "-l", "authNoPriv", "-u", "loadbalancing", "-a", "MD5", "-A", "lb-secret-1")
	}
	eventually(t, "50000", md5)
	testenv.Touch(t, root, "etc/iss.nologin.only.example")
	eventually(t, "-1", md5)
}

func TestStartErrors(t *testing.T) {
	port := testenv.FreePort(t, "127.0.0.1")
	cfg, _ := fixture(t, "[[alias]]\nname = \"a\"\n")
	cfg.Agent.Listen = []string{fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("127.0.0.1:%d", port)}
	if _, err := Start(context.Background(), cfg, testenv.QuietLogger()); err == nil {
		t.Error("binding the same address twice must fail")
	}
	cfg.Agent.Listen = []string{fmt.Sprintf("127.0.0.1:%d", port)}
	cfg.Agent.BootsFile = filepath.Join(t.TempDir(), "boots")
	require.NoError(t, os.WriteFile(cfg.Agent.BootsFile, []byte("41\n"), 0o644))
	ctx, cancel := context.WithCancel(context.Background())
	a, err := Start(ctx, cfg, testenv.QuietLogger())
	require.NoError(t, err)
	assert.Equal(t, uint32(42), a.Responder.Boots())
	assert.Len(t, a.Addrs(), 1)
	cancel()
	require.NoError(t, a.Wait())
}
