package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lbd-project/lbd/lbclient"
	"github.com/lbd-project/lbd/lbclient/legacy"
)

const (
	fixtures = "../../lbclient/legacy/testdata/"
	theOID   = ".1.3.6.1.4.1.96.255.1"
)

// binary is the lbclient command built by TestMain ("" if the build failed;
// tests needing it then fail).
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lbclient-cmd-test-")
	if err == nil {
		bin := filepath.Join(dir, "lbclient")
		out, berr := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
		if berr == nil {
			binary = bin
		} else {
			os.Stderr.Write(out)
		}
	}
	code := m.Run()
	if dir != "" {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

func needBinary(t *testing.T) string {
	t.Helper()
	if binary == "" {
		t.Fatal("the lbclient binary could not be built (see the output above)")
	}
	return binary
}

func runStdin(stdin string, args ...string) (int, string, string) {
	var out, errb strings.Builder
	code := runIO(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestPassLegacy(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-legacy-dir", fixtures + "one", "-g", theOID}, theOID + "\ninteger\n50000\n"},
		{[]string{"-legacy-dir", fixtures + "two", "-g", theOID}, theOID + "\nstring\ntest2.cern.ch=40000,test.cern.ch=50000\n"},
		{[]string{"-legacy-dir=" + fixtures + "two", "--g=" + theOID}, theOID + "\nstring\ntest2.cern.ch=40000,test.cern.ch=50000\n"},
		{[]string{"-legacy-dir", fixtures + "one", "-n", ".1.3.6.1.4.1.96.255"}, theOID + "\ninteger\n50000\n"},
		{[]string{"-legacy-dir", fixtures + "one", "-n", ".1.3.6.1.4.1.96.3"}, theOID + "\ninteger\n50000\n"},
		{[]string{"-legacy-dir", fixtures + "one", "-n", ".1.3.6.1.4.1.96.1000"}, ""},
		{[]string{"-legacy-dir", fixtures + "one", "-n", theOID}, ""},
		{[]string{"-legacy-dir", fixtures + "one", "-g", theOID + ".0"}, ""},
		{[]string{"-legacy-dir", fixtures + "one", "-g", ".1.3.6.1.4.1.96.255"}, ""},
		{[]string{"-legacy-dir", fixtures + "one", "-s", theOID, "integer", "5"}, "not-writable\n"},
		{[]string{"-legacy-dir", fixtures + "broken", "-g", theOID}, theOID + "\nstring\na.example=-17,b.example=50\n"},
		{[]string{"-legacy-dir", filepath.Join(t.TempDir(), "none"), "-g", theOID}, theOID + "\ninteger\n-102\n"},
		// bad invocations: silence, whatever happens
		{[]string{"-g", theOID, "-nosuchflag"}, ""},
		{[]string{"-legacy-dir", fixtures + "one", "-g", theOID, "-n", theOID}, ""},
		{[]string{"-legacy-dir", fixtures + "one", "-g", theOID, "extra"}, ""},
		{[]string{"-legacy-dir", fixtures + "one", "-g"}, ""},
		// a bad log setting does not silence the answer
		{[]string{"-legacy-dir", fixtures + "one", "-g", theOID, "-log-level", "loud"}, theOID + "\ninteger\n50000\n"},
		{[]string{"-legacy-dir", fixtures + "one", "-g", theOID, "-log-file", "/nonexistent/dir/log"}, theOID + "\ninteger\n50000\n"},
	} {
		_, out, errs := runStdin("", c.args...)
		if out != c.want || errs != "" {
			t.Errorf("%q:\nstdout %q, want %q\nstderr %q", c.args, out, c.want, errs)
		}
	}
}

// A configuration error is logged to -log-file, never to stdout/stderr.
func TestPassLogFile(t *testing.T) {
	log := filepath.Join(t.TempDir(), "lbclient.log")
	code, out, errs := runStdin("", "-legacy-dir", fixtures+"broken", "-log-file", log, "-g", theOID)
	if code != 0 || out != theOID+"\nstring\na.example=-17,b.example=50\n" || errs != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"lbclient.conf.a.example", "line=2", "check daemon", "alias=a.example", "load=-17"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("log misses %q:\n%s", want, data)
		}
	}
}

// -config wins over the legacy directory, with the TOML composition.
func TestPassTOML(t *testing.T) {
	file, root := writeConfig(t, twoAliases)
	code, out, errs := runStdin("", "-config", file, "-legacy-dir", fixtures+"one", "-g", theOID)
	if code != 0 || out != theOID+"\nstring\na.example=50,b.example=7\n" || errs != "" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/nologin"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, out, _ = runStdin("", "-config", file, "-g", theOID)
	if out != theOID+"\nstring\na.example=50,b.example=-1\n" {
		t.Errorf("nologin: %q", out)
	}
	bad, _ := writeConfig(t, "[[alias]]\nname = \"a\"\nloads = [{ type = \"constant\", data = \"abc\" }]\n")
	_, out, errs = runStdin("", "-config", bad, "-g", theOID)
	if out != theOID+"\ninteger\n-102\n" || errs != "" {
		t.Errorf("bad TOML: stdout %q, stderr %q", out, errs)
	}
}

func TestPassPersistInProcess(t *testing.T) {
	in := "PING\nget\n" + theOID + "\ngetnext\n.1.3.6.1.4.1.96.255\ngetnext\n" + theOID + "\nset\n" + theOID + "\ninteger 1\n"
	code, out, errs := runStdin(in, "-legacy-dir", fixtures+"two", "-pass-persist")
	str := theOID + "\nstring\ntest2.cern.ch=40000,test.cern.ch=50000\n"
	if want := "PONG\n" + str + str + "NONE\nnot-writable\n"; code != 0 || out != want || errs != "" {
		t.Errorf("exit %d\nstdout %q\nwant   %q\nstderr %q", code, out, want, errs)
	}
}

func TestLegacyCommands(t *testing.T) {
	// -once
	code, out, errs := runCmd("-legacy-dir", fixtures+"two", "-once")
	if code != 0 || !strings.HasPrefix(out, "test2.cern.ch 40000 ") || !strings.Contains(out, "\ntest.cern.ch 50000 ") {
		t.Errorf("-once: exit %d\n%s%s", code, out, errs)
	}
	// -check-config
	if code, out, errs := runCmd("-legacy-dir", fixtures+"two", "-check-config"); code != 0 || !strings.Contains(out, "OK (2 aliases, 2 mappings)") {
		t.Errorf("-check-config: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = runCmd("-legacy-dir", fixtures+"broken", "-check-config")
	if code != 1 || !strings.Contains(out, "ERRORS") || !strings.Contains(errs, "lbclient.conf.a.example:2: error:") {
		t.Errorf("-check-config broken: exit %d\n%s%s", code, out, errs)
	}
	// nothing configured: an error for -check-config
	if code, _, errs := runCmd("-legacy-dir", t.TempDir(), "-check-config"); code != 1 || !strings.Contains(errs, "lbaliases") {
		t.Errorf("-check-config of an empty dir: exit %d %s", code, errs)
	}
	// the standalone agent needs TOML
	if code, _, errs := runCmd("-legacy-dir", fixtures+"two"); code != 2 || !strings.Contains(errs, "TOML") {
		t.Errorf("agent with a legacy dir: exit %d %s", code, errs)
	}
	// -convert-legacy
	for _, fx := range []string{"one", "two", "full", "nested"} {
		code, out, errs := runCmd("-convert-legacy", fixtures+fx)
		if code != 0 {
			t.Errorf("%s: exit %d: %s", fx, code, errs)
		}
		cfg, err := lbclient.Parse(fx+".toml", []byte(out))
		if err != nil {
			t.Errorf("%s: %v\n%s", fx, err, out)
			continue
		}
		lc := legacy.Load(fixtures+fx, legacy.Options{})
		if strings.Join(cfg.Aliases(), ",") != strings.Join(lc.Aliases(), ",") {
			t.Errorf("%s: aliases %v, legacy %v", fx, cfg.Aliases(), lc.Aliases())
		}
	}
	if code, out, _ := runCmd("-convert-legacy", fixtures+"broken"); code != 1 || !strings.Contains(out, "[[alias]]") {
		t.Errorf("convert broken: exit %d\n%s", code, out)
	}
}

// The built binary in pass mode: the answer on stdout, nothing on stderr.
func TestPassBinaryStreams(t *testing.T) {
	bin := needBinary(t)
	for _, args := range [][]string{
		{"-legacy-dir", fixtures + "broken", "-g", theOID},
		{"-legacy-dir", fixtures + "broken", "-g", theOID, "-log-level", "debug"},
		{"-g", theOID, "-bogus"},
	} {
		cmd := exec.Command(bin, args...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		_ = cmd.Run()
		if stderr.Len() != 0 {
			t.Errorf("%q: stderr %q", args, stderr.String())
		}
		if args[0] == "-legacy-dir" && stdout.String() != theOID+"\nstring\na.example=-17,b.example=50\n" {
			t.Errorf("%q: stdout %q", args, stdout.String())
		}
	}
}

// Every lbclient command line of etc/snmpd-lbclient.conf (active or
// commented out) is accepted and answers, with the paths pointed at
// fixtures.
func TestSnmpdSnippet(t *testing.T) {
	data, err := os.ReadFile("../../etc/snmpd-lbclient.conf")
	if err != nil {
		t.Fatal(err)
	}
	file, _ := writeConfig(t, twoAliases)
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(strings.TrimLeft(line, "# "))
		if len(f) < 3 || (f[0] != "pass" && f[0] != "pass_persist") || f[2] != "/usr/local/bin/lbclient" {
			continue
		}
		n++
		args := append([]string(nil), f[3:]...)
		for i := range args {
			switch {
			case i > 0 && args[i-1] == "-legacy-dir":
				args[i] = fixtures + "one"
			case i > 0 && args[i-1] == "-config":
				args[i] = file
			}
		}
		stdin, want := "", theOID+"\ninteger\n50000\n"
		if f[0] == "pass" {
			args = append(args, "-g", theOID)
		} else {
			stdin = "PING\nget\n" + theOID + "\n"
			want = "PONG\n" + want
			if strings.Contains(line, "-config") {
				want = "PONG\n" + theOID + "\nstring\na.example=50,b.example=7\n"
			}
		}
		code, out, errs := runStdin(stdin, args...)
		if code != 0 || out != want || errs != "" {
			t.Errorf("%s\n→ exit %d, stdout %q, stderr %q", line, code, out, errs)
		}
	}
	if n < 3 {
		t.Errorf("only %d lbclient lines found", n)
	}
}
