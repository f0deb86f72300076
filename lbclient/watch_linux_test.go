//go:build linux

package lbclient

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/lbd-project/lbd/checks"
	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/lbclient/agent"
)

// hourCfg is listenCfg with an interval of an hour: only the watcher (or
// the first round) can change the answer during a test.
func hourCfg(t *testing.T, agentKeys, body string) (*Compiled, string, string) {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		t.Skipf("inotify unavailable: %v", err)
	}
	unix.Close(fd)
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "127.0.0.1"))
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	text := fmt.Sprintf("[agent]\nlisten = [%q]\nroot = %q\ncommunity = \"public\"\ninterval = \"1h\"\n%s\n%s", addr, root, agentKeys, body)
	file := filepath.Join(root, "lbclient.toml")
	require.NoError(t, os.WriteFile(file, []byte(text), 0o644))
	cfg, err := Load(file)
	require.NoError(t, err, text)
	return cfg, addr, root
}

// touch /etc/nologin drains the alias at once though the interval is an
// hour, and pushes the change; removing it restores the alias. Only the
// mapping reading the file is evaluated again.
func TestWatchNologinImmediate(t *testing.T) {
	trapAddr, traps := trapListener(t)
	cfg, addr, root := hourCfg(t, fmt.Sprintf("push = [%q]\npush_community = \"lbd-push\"", trapAddr), `
[[alias]]
name = "a.example"
checks = ["nologin"]
loads = [{ type = "constant", data = "50" }]
[[alias]]
name = "b.example"
checks = [{ type = "command", data = "/bin/true" }]
loads = [{ type = "constant", data = "7" }]
`)
	var commands atomic.Int32
	replaceChecks(cfg, "command", func(context.Context, checks.Env) checks.Result {
		commands.Add(1)
		return checks.Result{OK: true}
	})
	startCfg(t, cfg)
	g := v2cClient(t, addr, "public")
	eventuallyValue(t, g, agent.Value{IsString: true, Str: "a.example=50,b.example=7"})
	waitTrap(t, traps, "a.example=50,b.example=7")

	testenv.Touch(t, root, "etc/nologin")
	eventuallyValue(t, g, agent.Value{IsString: true, Str: fmt.Sprintf("a.example=%d,b.example=7", -checks.CodeNologin)})
	waitTrap(t, traps, fmt.Sprintf("a.example=%d", -checks.CodeNologin))

	require.NoError(t, os.Remove(filepath.Join(root, "etc/nologin")))
	eventuallyValue(t, g, agent.Value{IsString: true, Str: "a.example=50,b.example=7"})
	waitTrap(t, traps, "a.example=50")

	assert.Equal(t, int32(1), commands.Load(), "b.example reads no watched file: evaluated by the first round only")
}

// A file whose directory does not exist yet (the reboot flag under
// /run/systemd/shutdown) is seen when the directories and then the file
// appear; roger's state file replaced by a rename is seen too.
func TestWatchMissingDirectoryAndRename(t *testing.T) {
	cfg, addr, root := hourCfg(t, "", `
[[alias]]
name = "r.example"
checks = ["reboot"]
loads = [{ type = "constant", data = "5" }]
[[alias]]
name = "g.example"
checks = ["roger"]
loads = [{ type = "constant", data = "6" }]
`)
	require.NoError(t, os.MkdirAll(filepath.Join(root, "etc/roger"), 0o755))
	writeRoger := func(state string) {
		tmp := filepath.Join(root, "etc/roger/.current.yaml.tmp")
		require.NoError(t, os.WriteFile(tmp, []byte("appstate: "+state+"\n"), 0o644))
		require.NoError(t, os.Rename(tmp, filepath.Join(root, "etc/roger/current.yaml")))
	}
	writeRoger("production")
	startCfg(t, cfg)
	g := v2cClient(t, addr, "public")
	eventuallyValue(t, g, agent.Value{IsString: true, Str: "r.example=5,g.example=6"})

	require.NoError(t, os.MkdirAll(filepath.Join(root, "run/systemd/shutdown"), 0o755))
	testenv.Touch(t, root, "run/systemd/shutdown/scheduled")
	eventuallyValue(t, g, agent.Value{IsString: true, Str: fmt.Sprintf("r.example=%d,g.example=6", -checks.CodeReboot)})

	writeRoger("draining")
	eventuallyValue(t, g, agent.Value{IsString: true, Str: fmt.Sprintf("r.example=%d,g.example=%d", -checks.CodeReboot, -checks.CodeRoger)})

	require.NoError(t, os.RemoveAll(filepath.Join(root, "run/systemd")))
	writeRoger("production")
	eventuallyValue(t, g, agent.Value{IsString: true, Str: "r.example=5,g.example=6"})

	// the shutdown directory comes back: watched again (its ancestor was)
	require.NoError(t, os.MkdirAll(filepath.Join(root, "run/systemd/shutdown"), 0o755))
	testenv.Touch(t, root, "run/systemd/shutdown/scheduled")
	eventuallyValue(t, g, agent.Value{IsString: true, Str: fmt.Sprintf("r.example=%d,g.example=6", -checks.CodeReboot)})
}

// /etc renamed away and made again at once (within one debounce): the
// watch that followed the old directory is dropped and the new one is
// watched, so a nologin created in it drains at once again.
func TestWatchDirectoryRenamedAndRecreated(t *testing.T) {
	cfg, addr, root := hourCfg(t, "", `
[[alias]]
name = "a.example"
checks = ["nologin"]
loads = [{ type = "constant", data = "50" }]
`)
	testenv.Touch(t, root, "etc/nologin")
	startCfg(t, cfg)
	g := v2cClient(t, addr, "public")
	drained := agent.Value{Int: -checks.CodeNologin} // one alias: an INTEGER
	eventuallyValue(t, g, drained)

	etc := filepath.Join(root, "etc")
	require.NoError(t, os.Rename(etc, etc+".old"))
	require.NoError(t, os.Mkdir(etc, 0o755))
	// The rename's flush re-evaluates: no nologin in the new /etc. By
	// then the watches are resynced.
	eventuallyValue(t, g, agent.Value{Int: 50})

	testenv.Touch(t, root, "etc/nologin")
	eventuallyValue(t, g, drained)
}

// A reload watches the files of the new configuration.
func TestWatchFollowsReload(t *testing.T) {
	cfg, addr, root := hourCfg(t, "", `
[[alias]]
name = "a.example"
loads = [{ type = "constant", data = "3" }]
`)
	a := startCfg(t, cfg)
	g := v2cClient(t, addr, "public")
	eventuallyValue(t, g, agent.Value{Int: 3})
	text, err := os.ReadFile(cfg.File)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cfg.File, append(text, "checks = [\"nologin\"]\n"...), 0o644))
	require.NoError(t, a.Reread())
	testenv.Touch(t, root, "etc/iss.nologin.a.example")
	eventuallyValue(t, g, agent.Value{Int: int32(-checks.CodeNologin)})
}

func TestWatchHelpers(t *testing.T) {
	assert.True(t, affects("/r/etc/nologin", "/r/etc/nologin"))
	assert.True(t, affects("/r/run/systemd", "/r/run/systemd/shutdown/scheduled"))
	assert.False(t, affects("/r/etc/nologin2", "/r/etc/nologin"))
	assert.False(t, affects("/r/et", "/r/etc/nologin"))
	root := t.TempDir()
	assert.Equal(t, root, watchDir(filepath.Join(root, "a/b/c")))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "a/b"), 0o755))
	assert.Equal(t, filepath.Join(root, "a/b"), watchDir(filepath.Join(root, "a/b/c")))
}

// /etc/nologin as a symbolic link to /run/nologin (which pam_nologin reads
// too): creating and removing the link's target is seen at once, although
// it happens in another directory, and so is the link being replaced.
func TestWatchThroughSymbolicLink(t *testing.T) {
	cfg, addr, root := hourCfg(t, "", `
[[alias]]
name = "a.example"
checks = ["nologin"]
loads = [{ type = "constant", data = "4" }]
`)
	require.NoError(t, os.MkdirAll(filepath.Join(root, "run"), 0o755))
	require.NoError(t, os.Symlink("../run/nologin", filepath.Join(root, "etc/nologin")))
	startCfg(t, cfg)
	g := v2cClient(t, addr, "public")
	eventuallyValue(t, g, agent.Value{Int: 4})

	testenv.Touch(t, root, "run/nologin")
	eventuallyValue(t, g, agent.Value{Int: int32(-checks.CodeNologin)})
	require.NoError(t, os.Remove(filepath.Join(root, "run/nologin")))
	eventuallyValue(t, g, agent.Value{Int: 4})

	// The link now leads elsewhere, to a file that exists.
	require.NoError(t, os.MkdirAll(filepath.Join(root, "srv"), 0o755))
	testenv.Touch(t, root, "srv/nologin")
	require.NoError(t, os.Symlink("../srv/nologin", filepath.Join(root, "etc/.nologin.new")))
	require.NoError(t, os.Rename(filepath.Join(root, "etc/.nologin.new"), filepath.Join(root, "etc/nologin")))
	eventuallyValue(t, g, agent.Value{Int: int32(-checks.CodeNologin)})
	require.NoError(t, os.Remove(filepath.Join(root, "srv/nologin")))
	eventuallyValue(t, g, agent.Value{Int: 4}) // the new target's directory is watched
}

func TestLinkTargets(t *testing.T) {
	root := t.TempDir()
	a, b, c := filepath.Join(root, "a"), filepath.Join(root, "d/b"), filepath.Join(root, "c")
	require.NoError(t, os.MkdirAll(filepath.Join(root, "d"), 0o755))
	require.NoError(t, os.Symlink("d/b", a))
	require.NoError(t, os.Symlink(c, b))
	assert.Equal(t, []string{b, c}, linkTargets(a), "a chain, the last target missing")
	assert.Nil(t, linkTargets(c))
	loop := filepath.Join(root, "loop")
	require.NoError(t, os.Symlink("loop", loop))
	assert.Len(t, linkTargets(loop), maxLinks, "a loop ends")
}

// Behind snmpd (pass_persist) the watched files are re-evaluated at once
// too: with an hour's interval only the watcher can change the answer.
func TestWatchInPassPersist(t *testing.T) {
	cfg, _, root := hourCfg(t, "", `
[[alias]]
name = "a.example"
checks = ["nologin"]
loads = [{ type = "constant", data = "9" }]
`)
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- ServePassPersist(context.Background(), cfg, inR, outW, PassPersistOptions{Log: testenv.QuietLogger()})
		outW.Close()
	}()
	rd := bufio.NewReader(outR)
	get := func() string {
		t.Helper()
		_, err := io.WriteString(inW, "get\n"+agent.OID+"\n")
		require.NoError(t, err)
		var b strings.Builder
		for range 3 {
			l, err := rd.ReadString('\n')
			require.NoError(t, err)
			b.WriteString(l)
		}
		return b.String()
	}
	eventually := func(want string) {
		t.Helper()
		var got string
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if got = get(); got == want {
				return
			}
		}
		t.Fatalf("pass_persist answers %q, want %q", got, want)
	}
	eventually(agent.OID + "\ninteger\n9\n")
	testenv.Touch(t, root, "etc/nologin")
	eventually(fmt.Sprintf("%s\ninteger\n%d\n", agent.OID, -checks.CodeNologin))
	require.NoError(t, os.Remove(filepath.Join(root, "etc/nologin")))
	eventually(agent.OID + "\ninteger\n9\n")
	inW.Close()
	select {
	case err := <-errc:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("no exit at EOF")
	}
}
