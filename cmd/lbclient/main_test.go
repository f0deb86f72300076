package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lbd-project/lbd/internal/testenv"
)

func writeConfig(t *testing.T, body string) (file, root string) {
	t.Helper()
	root = t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(root, "lbclient.toml")
	text := fmt.Sprintf("[agent]\nroot = %q\ncommunity = \"public\"\nlisten = [\"127.0.0.1:%d\"]\ninterval = \"50ms\"\n%s",
		root, testenv.FreePort(t, "127.0.0.1"), body)
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return file, root
}

func runCmd(args ...string) (int, string, string) {
	var out, errb strings.Builder
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

const twoAliases = `
[default]
checks = ["nologin"]
loads = [{ type = "constant", data = "7" }]
[[alias]]
name = "a.example"
loads = [{ type = "constant", data = "50" }]
[[alias]]
name = "b.example"
`

func TestOnce(t *testing.T) {
	file, root := writeConfig(t, twoAliases)
	if err := os.WriteFile(filepath.Join(root, "etc/nologin"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCmd("-config", file, "-once")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "a.example 50 ") ||
		!strings.HasPrefix(lines[1], "b.example -1 default.checks[0]: /etc/nologin exists") {
		t.Errorf("output:\n%s", out)
	}
}

func TestCheckConfig(t *testing.T) {
	file, _ := writeConfig(t, twoAliases)
	for _, args := range [][]string{{"-config", file, "-check-config"}, {"-check-config", file}, {"-check-config=" + file}} {
		if code, out, errs := runCmd(args...); code != 0 || !strings.Contains(out, "OK") {
			t.Errorf("%v: exit %d: %s %s", args, code, out, errs)
		}
	}
	bad, _ := writeConfig(t, "[[alias]]\nname = \"a\"\nloads = [{ type = \"constant\", data = \"abc\" }]\n")
	code, _, errs := runCmd("-config", bad, "-check-config")
	if code == 0 || !strings.Contains(errs, bad+":8: key alias[0].loads[0]") {
		t.Errorf("exit %d: %s", code, errs)
	}
	if code, _, _ := runCmd("-config", bad, "-once"); code == 0 {
		t.Error("-once with a bad config must fail")
	}
	if code, _, _ := runCmd("-nosuchflag"); code != 2 {
		t.Error("bad flag must exit 2")
	}
}

// TestBinary builds the command, runs it, polls it with snmpget and stops it
// with SIGTERM.
func TestBinary(t *testing.T) {
	snmpget := testenv.Require(t, "snmpget")[0]
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "lbclient")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	file, _ := writeConfig(t, twoAliases)
	data, _ := os.ReadFile(file)
	var listen string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "listen") {
			listen = strings.Trim(strings.TrimPrefix(l, "listen = "), `[]"`)
		}
	}
	var stderr strings.Builder
	cmd := exec.Command(bin, "-config", file)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	}()

	dir := t.TempDir()
	var out []byte
	var err error
	for i := 0; i < 50; i++ { // bounded: 50 tries × (≤ 1 s + 100 ms)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c := exec.CommandContext(ctx, snmpget, "-r", "0", "-t", "1", "-On", "-Oqv", "-v2c", "-c", "public", listen, ".1.3.6.1.4.1.96.255.1")
		c.Env = append(os.Environ(), "SNMP_PERSISTENT_DIR="+dir, "SNMPCONFPATH="+dir, "HOME="+dir, "MIBS=", "MIBDIRS="+dir)
		out, err = c.Output()
		cancel()
		if err == nil && strings.TrimSpace(string(out)) == `"a.example=50,b.example=7"` {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := strings.TrimSpace(string(out)); got != `"a.example=50,b.example=7"` {
		t.Errorf("snmpget: %q %v", got, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	if !strings.Contains(stderr.String(), "lbclient stopped") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
}
