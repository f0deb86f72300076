package agent

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/stretchr/testify/assert"
)

// snmpget runs net-snmp's snmpget against 127.0.0.1:port with a private
// persistent-state directory, bounded to one 2 s attempt.
func snmpget(t *testing.T, bin string, port uint16, args ...string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	all := append([]string{"-r", "0", "-t", "2", "-On", "-Oqv"}, args...)
	all = append(all, "127.0.0.1:"+strconv.Itoa(int(port)), OID)
	cmd := exec.Command(bin, all...)
	cmd.Env = append(os.Environ(), "SNMP_PERSISTENT_DIR="+dir, "SNMPCONFPATH="+dir, "HOME="+dir, "MIBS=", "MIBDIRS="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return strings.TrimSpace(string(out) + stderr.String()), err
	}
	return strings.TrimSpace(string(out)), nil
}

func TestNetSNMP(t *testing.T) {
	bin := testenv.Require(t, "snmpget")[0]
	v := val(Value{IsString: true, Str: "a.example=50,b.example=-1"})
	r := newTest(t, v, nil)
	port := serve(t, r)
	const want = `"a.example=50,b.example=-1"`
	for _, c := range []struct {
		name string
		args []string
	}{
		{"v2c", []string{"-v2c", "-c", "public"}},
		{"md5", []string{"-v3", "-l", "authNoPriv", "-u", "loadbalancing", "-a", "MD5", "-A", testPass}},
		{"sha", []string{"-v3", "-l", "authNoPriv", "-u", "shauser", "-a", "SHA", "-A", testPass}},
		{"sha256", []string{"-v3", "-l", "authNoPriv", "-u", "sha256user", "-a", "SHA-256", "-A", testPass}},
		{"sha512", []string{"-v3", "-l", "authNoPriv", "-u", "sha512user", "-a", "SHA-512", "-A", testPass}},
		{"sha+aes", []string{"-v3", "-l", "authPriv", "-u", "privuser", "-a", "SHA", "-A", testPass, "-x", "AES", "-X", "priv-password"}},
		{"sha256+aes256", []string{"-v3", "-l", "authPriv", "-u", "priv256", "-a", "SHA-256", "-A", testPass, "-x", "AES-256", "-X", "priv-password"}},
		{"md5+aes256", []string{"-v3", "-l", "authPriv", "-u", "md5aes256", "-a", "MD5", "-A", testPass, "-x", "AES-256", "-X", "priv-password"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := snmpget(t, bin, port, c.args...)
			if assert.NoError(t, err, "snmpget %v: %s", c.args, out) {
				assert.Equal(t, want, out, "snmpget %v", c.args)
			}
		})
	}
	v.Store(&Value{Int: -13})
	out, err := snmpget(t, bin, port, "-v3", "-l", "authNoPriv", "-u", "loadbalancing", "-a", "MD5", "-A", testPass)
	if assert.NoError(t, err, "INTEGER: %s", out) {
		assert.Equal(t, "-13", out, "INTEGER")
	}
	start := time.Now()
	out, err = snmpget(t, bin, port, "-v3", "-l", "authNoPriv", "-u", "loadbalancing", "-a", "MD5", "-A", "wrong-password")
	assert.Error(t, err, "wrong password")
	assert.Contains(t, out, "Authentication failure", "wrong password")
	assert.LessOrEqual(t, time.Since(start), time.Second, "wrong password: a Report, not a timeout")
}
