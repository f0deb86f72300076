package checks

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestSplitArgs(t *testing.T) {
	cases := map[string][]string{
		`/bin/true`:                    {"/bin/true"},
		`  a   b	c `:                   {"a", "b", "c"},
		`grep -q 'a b' "/etc/my file"`: {"grep", "-q", "a b", "/etc/my file"},
		`echo 'it''s' "x\"y" a\ b`:     {"echo", "its", `x"y`, "a b"},
		`echo '' ""`:                   {"echo", "", ""},
		`echo 'no $expansion' "\\n"`:   {"echo", "no $expansion", `\n`},
		`test -f /etc/'quoted'part`:    {"test", "-f", "/etc/quotedpart"},
	}
	for in, out := range cases {
		got, err := splitArgs(in)
		if err != nil || !reflect.DeepEqual(got, out) {
			t.Errorf("splitArgs(%q) = %q, %v; want %q", in, got, err, out)
		}
	}
	for _, bad := range []string{`echo 'x`, `echo "x`, `echo x\`} {
		if _, err := splitArgs(bad); err == nil {
			t.Errorf("splitArgs(%q): want an error", bad)
		}
	}
}

func TestCommandFactory(t *testing.T) {
	for _, bad := range []string{"", "   ", "sh:", "bash:  ", "echo 'x"} {
		if _, err := New(Spec{Type: "command", Data: bad}); err == nil {
			t.Errorf("command %q: want a factory error", bad)
		}
	}
	if _, err := NewShellCommand("  ", 0); err == nil {
		t.Error("NewShellCommand(empty): want an error")
	}
}

func TestCommandOutcomes(t *testing.T) {
	dir := t.TempDir()
	exit3 := script(t, dir, "exit3", "echo 'something is wrong' >&2; exit 3")
	noexec := filepath.Join(dir, "noexec")
	if err := os.WriteFile(noexec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		data     string
		ok, hard bool
		reason   string
	}{
		{"/bin/true", true, false, "exit 0"},
		{"/bin/false", false, false, "exit 1"},
		{exit3 + " arg", false, false, "something is wrong"},
		{"sh -c 'exit 0'", true, false, ""},
		{`sh -c "test 'a b' = 'a b'"`, true, false, ""},
		{"echo $HOME|false", true, false, ""}, // no shell: echo prints the text and succeeds
		{"sh: true | false", false, false, "exit 1"},
		{"sh: exit 126", false, true, "exit 126"},
		{"sh: exit 127", false, true, "exit 127"},
		{"sh: kill -TERM $$", false, true, "signal"},
		{filepath.Join(dir, "missing-command"), false, true, "cannot start"},
		{noexec, false, true, "cannot start"},
		{"bash: [ \"$(echo ok)\" = ok ]", true, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.data, func(t *testing.T) {
			want(t, run(t, build(t, "command", tc.data), Env{}), tc.ok, tc.hard, CodeCommand, tc.reason)
		})
	}
	t.Run("legacy shell constructor", func(t *testing.T) {
		c, err := NewShellCommand(`test "$(echo a b)" = "a b" && exit 4`, 0)
		if err != nil {
			t.Fatal(err)
		}
		want(t, run(t, c, Env{}), false, false, CodeCommand, "exit 4")
	})
}

// TestCommandTimeoutKillsGroup: at the timeout the command and its own
// children are killed, and the result is a hard failure.
func TestCommandTimeoutKillsGroup(t *testing.T) {
	dir := t.TempDir()
	pidfile := filepath.Join(dir, "pid")
	for _, mk := range []struct {
		name  string
		build func() (Check, error)
	}{
		{"spec timeout", func() (Check, error) {
			return New(Spec{Type: "command", Data: "sh -c 'sleep 30 & echo $! > " + pidfile + "; wait'", Timeout: 300 * time.Millisecond})
		}},
		{"ctx deadline, legacy bash", func() (Check, error) {
			return NewShellCommand("sleep 30 & echo $! > "+pidfile+"; wait", time.Minute)
		}},
	} {
		t.Run(mk.name, func(t *testing.T) {
			os.Remove(pidfile)
			c, err := mk.build()
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
			defer cancel()
			start := time.Now()
			r := c.Run(ctx, Env{})
			want(t, r, false, true, CodeCommand, "timed out")
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("Run took %v", el)
			}
			b, err := os.ReadFile(pidfile)
			if err != nil {
				t.Fatalf("grandchild pid file: %v", err)
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			waitGone(t, pid)
		})
	}
}

// waitGone waits (bounded) until pid no longer runs; a zombie counts as gone.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if err := syscall.Kill(pid, 0); err == syscall.ESRCH {
			return
		}
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
			if f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:])); len(f) > 0 && f[0] == "Z" {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	t.Fatalf("grandchild %d still running after the timeout", pid)
}
