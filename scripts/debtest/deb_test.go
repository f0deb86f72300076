package debtest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const repoRoot = "../.."

// need skips (or, under CI=true, fails) when the test cannot run here.
func need(t *testing.T, ok bool, why string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("package test cannot run under CI: %s", why)
	}
	t.Logf("*** SKIPPED: the Debian package test did not run: %s ***", why)
	t.Skipf("*** SKIPPED (not CI): %s ***", why)
}

type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, timeout time.Duration, dir, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MANPAGER=cat", "PAGER=cat", "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C.UTF-8")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if err != nil {
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, "%s %v: %s", name, args, errb.String())
		r.code = ee.ExitCode()
	}
	return r
}

// dpkg runs dpkg, waiting while another dpkg holds its lock.
func dpkg(t *testing.T, args ...string) result {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		r := run(t, 2*time.Minute, "", "dpkg", args...)
		if r.code == 0 || !strings.Contains(r.stderr, "lock") || time.Now().After(deadline) {
			return r
		}
		time.Sleep(2 * time.Second)
	}
}

// lock serialises this test between concurrent runs on one machine.
func lock(t *testing.T) {
	f, err := os.OpenFile("/run/lock/lbd-debtest.lock", os.O_CREATE|os.O_RDWR, 0o600)
	require.NoError(t, err)
	require.NoError(t, syscall.Flock(int(f.Fd()), syscall.LOCK_EX))
	t.Cleanup(func() { f.Close() })
}

func TestDebianPackages(t *testing.T) {
	need(t, os.Geteuid() == 0, "dpkg -i needs root (run as root, or under CI)")
	for _, tool := range []string{"dpkg", "dpkg-deb", "lintian", "man", "go"} {
		_, err := exec.LookPath(tool)
		need(t, err == nil, tool+" is not installed (scripts/ensure-deps.sh installs lintian and man-db)")
	}
	lock(t)
	for _, p := range []string{"lbd", "lbclient"} {
		r := run(t, 30*time.Second, "", "dpkg-query", "-W", "-f=${Status}", p)
		need(t, !strings.Contains(r.stdout, "installed") || strings.Contains(r.stdout, "not-installed"),
			"package "+p+" is already installed on this machine; the test would replace and purge it")
	}

	out := t.TempDir()
	r := run(t, 4*time.Minute, repoRoot, "go", "run", "./scripts/mkdeb", "-out", out)
	require.Equal(t, 0, r.code, "mkdeb: %s%s", r.stdout, r.stderr)
	debs := strings.Fields(r.stdout)
	require.Len(t, debs, 2, r.stdout)
	m := regexp.MustCompile(`/lbd_([^_]+)_[a-z0-9]+\.deb$`).FindStringSubmatch(debs[0])
	require.NotNil(t, m, debs[0])
	version := m[1]
	upstream := version[:strings.LastIndex(version, "-")]
	for i, d := range debs {
		if !filepath.IsAbs(d) {
			debs[i] = filepath.Join(repoRoot, d)
		}
	}

	t.Run("lintian", func(t *testing.T) {
		r := run(t, 3*time.Minute, "", "lintian", append([]string{"--no-cfg", "--fail-on", "error"}, debs...)...)
		for _, l := range strings.Split(r.stdout, "\n") {
			assert.False(t, strings.HasPrefix(l, "E: "), "lintian error: %s", l)
			if strings.HasPrefix(l, "W: ") {
				t.Log("lintian " + l)
			}
		}
		assert.Equal(t, 0, r.code, "lintian: %s%s", r.stdout, r.stderr)
	})

	t.Cleanup(func() {
		r := dpkg(t, "--purge", "lbd", "lbclient")
		assert.Equal(t, 0, r.code, "purge: %s%s", r.stdout, r.stderr)
	})
	r = dpkg(t, append([]string{"-i"}, debs...)...)
	require.Equal(t, 0, r.code, "dpkg -i: %s%s", r.stdout, r.stderr)

	for _, p := range []string{"lbd", "lbclient"} {
		r := run(t, 10*time.Second, "", "/usr/sbin/"+p, "-version")
		assert.Equal(t, 0, r.code, r.stderr)
		assert.True(t, strings.HasPrefix(r.stdout, p+" "+upstream), "%s -version: %q, want version %s", p, r.stdout, upstream)

		u, err := user.Lookup(p)
		require.NoError(t, err, "system user %s", p)
		g, err := user.LookupGroup(p)
		require.NoError(t, err, "system group %s", p)

		conf := "/etc/lbd/" + p + ".toml"
		st, err := os.Stat(conf)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o640), st.Mode().Perm(), conf)
		sys := st.Sys().(*syscall.Stat_t)
		assert.Equal(t, "0", uidString(sys.Uid), conf+" owner")
		assert.Equal(t, g.Gid, uidString(sys.Gid), conf+" group")
		assert.NotEqual(t, "0", u.Uid)

		r = run(t, 10*time.Second, "", "/usr/sbin/"+p, "-check-config", conf)
		assert.Equal(t, 0, r.code, "%s -check-config %s: %s%s", p, conf, r.stdout, r.stderr)
		assert.Contains(t, r.stdout, "OK")

		unit, err := os.ReadFile("/lib/systemd/system/" + p + ".service")
		require.NoError(t, err)
		assert.Contains(t, string(unit), "ExecStart=/usr/sbin/"+p+" -config "+conf)
		for _, doc := range regexp.MustCompile(`file://(\S+)`).FindAllStringSubmatch(string(unit), -1) {
			assert.FileExists(t, doc[1], "the unit's Documentation=")
		}
		for _, f := range []string{"README.md", "copyright", "changelog.Debian.gz", "protocol.md"} {
			assert.FileExists(t, "/usr/share/doc/"+p+"/"+f)
		}
	}
	for _, page := range []string{"man8/lbd.8", "man5/lbd.toml.5", "man8/lbclient.8", "man5/lbclient.toml.5"} {
		r := run(t, 30*time.Second, "", "man", "--warnings", "-l", "/usr/share/man/"+page+".gz")
		assert.Equal(t, 0, r.code, "man -l %s: %s", page, r.stderr)
		assert.Empty(t, r.stderr, "man -l %s warnings", page)
		assert.Contains(t, r.stdout, "NAME", page)
		assert.Contains(t, r.stdout, "SEE ALSO", page)
	}

	r = dpkg(t, "--purge", "lbd", "lbclient")
	require.Equal(t, 0, r.code, "purge: %s%s", r.stdout, r.stderr)
	for _, f := range []string{"/usr/sbin/lbd", "/usr/sbin/lbclient", "/etc/lbd/lbd.toml", "/etc/lbd/lbclient.toml"} {
		assert.NoFileExists(t, f, "after purge")
	}
}

func uidString(id uint32) string { return strconv.FormatUint(uint64(id), 10) }
