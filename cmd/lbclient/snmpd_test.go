package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lbd-project/lbd/internal/testenv"
)

// Acceptance: a real net-snmp snmpd runs the built lbclient with "pass" and
// with "pass_persist", queried by snmpget/snmpgetnext over v2c and over v3
// (user loadbalancing, authNoPriv MD5, as the existing CERN lbd polls).

const snmpPassword = "lb-secret-1"

type snmpd struct {
	target string // 127.0.0.1:port
	dir    string
	tools  []string // snmpget, snmpgetnext
}

// startSnmpd starts snmpd on a free loopback port with the given extension
// line(s) and waits (bounded) until it answers.
func startSnmpd(t *testing.T, extension string) *snmpd {
	t.Helper()
	bins := testenv.Require(t, "snmpd", "snmpget", "snmpgetnext")
	dir := t.TempDir()
	persist := filepath.Join(dir, "persist")
	if err := os.MkdirAll(persist, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "snmpd.conf")
	text := fmt.Sprintf(`[snmp] persistentDir %s
createUser loadbalancing MD5 %s
rouser loadbalancing auth
rocommunity public 127.0.0.1
%s
`, persist, snmpPassword, extension)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	port := testenv.FreePort(t, "127.0.0.1")
	logf, err := os.Create(filepath.Join(dir, "snmpd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bins[0], "-f", "-Lo", "-C", "-c", conf, "-p", filepath.Join(dir, "snmpd.pid"),
		fmt.Sprintf("udp:127.0.0.1:%d", port))
	cmd.Env = append(os.Environ(), "SNMP_PERSISTENT_DIR="+persist, "MIBS=", "MIBDIRS="+dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("snmpd did not exit after SIGKILL")
		}
		logf.Close()
		if t.Failed() {
			data, _ := os.ReadFile(filepath.Join(dir, "snmpd.log"))
			t.Logf("snmpd log:\n%s", data)
		}
	})
	s := &snmpd{target: fmt.Sprintf("127.0.0.1:%d", port), dir: dir, tools: bins[1:]}
	var out string
	for i := 0; i < 50; i++ { // bounded: 50 × (≤ 1 s + 100 ms)
		select {
		case <-done:
			t.Fatal("snmpd exited at start")
		default:
		}
		if out, err = s.query(false, ".1.3.6.1.2.1.1.3.0", "-v2c", "-c", "public"); err == nil {
			return s
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("snmpd not ready: %s %v", out, err)
	return nil
}

// query runs snmpget (or snmpgetnext) once (1 s, no retry) with private
// state directories; the output is "OID = TYPE: value".
func (s *snmpd) query(next bool, oid string, args ...string) (string, error) {
	bin := s.tools[0]
	if next {
		bin = s.tools[1]
	}
	state := filepath.Join(s.dir, "client")
	all := append([]string{"-r", "0", "-t", "1", "-On"}, args...)
	all = append(all, s.target, oid)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, all...)
	cmd.Env = append(os.Environ(), "SNMP_PERSISTENT_DIR="+state, "SNMPCONFPATH="+state, "HOME="+state, "MIBS=", "MIBDIRS="+state)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func v2c() []string { return []string{"-v2c", "-c", "public"} }
func v3() []string {
	return []string{"-v3", "-l", "authNoPriv", "-u", "loadbalancing", "-a", "MD5", "-A", snmpPassword}
}

func (s *snmpd) expect(t *testing.T, next bool, oid string, args []string, want string) {
	t.Helper()
	out, err := s.query(next, oid, args...)
	if err != nil || out != want {
		t.Errorf("%v %s (next=%v): got %q (%v), want %q", args, oid, next, out, err, want)
	}
}

// eventually queries until want (bounded: 100 tries, 10 s).
func (s *snmpd) eventually(t *testing.T, oid string, args []string, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var out string
	var err error
	for i := 0; i < 100 && time.Now().Before(deadline); i++ {
		if out, err = s.query(false, oid, args...); err == nil && out == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("want %q, last %q (%v)", want, out, err)
}

func TestSnmpdPass(t *testing.T) {
	bin := needBinary(t)
	logFile := filepath.Join(t.TempDir(), "lbclient.log")
	t.Run("string", func(t *testing.T) {
		s := startSnmpd(t, fmt.Sprintf("pass %s %s -legacy-dir %s -log-file %s", theOID, bin, abs(t, fixtures+"two"), logFile))
		want := theOID + ` = STRING: "test2.cern.ch=40000,test.cern.ch=50000"`
		s.expect(t, false, theOID, v2c(), want)
		s.expect(t, false, theOID, v3(), want)
		s.expect(t, false, theOID+".0", v2c(), theOID+".0 = No Such Instance currently exists at this OID")
		s.expect(t, false, ".1.3.6.1.4.1.96.255.2", v2c(), ".1.3.6.1.4.1.96.255.2 = No Such Object available on this agent at this OID")
		// wrong password: no answer
		if out, err := s.query(false, theOID, "-v3", "-l", "authNoPriv", "-u", "loadbalancing", "-a", "MD5", "-A", "wrong-password"); err == nil {
			t.Errorf("wrong password answered: %s", out)
		}
	})
	t.Run("integer", func(t *testing.T) {
		s := startSnmpd(t, fmt.Sprintf("pass %s %s -legacy-dir %s -log-file %s", theOID, bin, abs(t, fixtures+"one"), logFile))
		s.expect(t, false, theOID, v3(), theOID+" = INTEGER: 50000")
		s.expect(t, false, theOID, v2c(), theOID+" = INTEGER: 50000")
	})
	t.Run("broken line", func(t *testing.T) {
		s := startSnmpd(t, fmt.Sprintf("pass %s %s -legacy-dir %s -log-file %s", theOID, bin, abs(t, fixtures+"broken"), logFile))
		s.expect(t, false, theOID, v3(), theOID+` = STRING: "a.example=-17,b.example=50"`)
	})
	// Registered at the parent OID, GETNEXT walks onto the value and past it.
	t.Run("getnext", func(t *testing.T) {
		s := startSnmpd(t, fmt.Sprintf("pass .1.3.6.1.4.1.96.255 %s -legacy-dir %s -log-file %s", bin, abs(t, fixtures+"one"), logFile))
		s.expect(t, false, theOID, v2c(), theOID+" = INTEGER: 50000")
		s.expect(t, true, ".1.3.6.1.4.1.96.255", v2c(), theOID+" = INTEGER: 50000")
		s.expect(t, true, ".1.3.6.1.4.1.96.255.0.9", v3(), theOID+" = INTEGER: 50000")
		out, err := s.query(true, theOID, v2c()...)
		if err != nil || strings.HasPrefix(out, theOID+" ") {
			t.Errorf("GETNEXT of the value must move past it: %q %v", out, err)
		}
	})
	if data, err := os.ReadFile(logFile); err != nil || !strings.Contains(string(data), "check daemon") {
		t.Errorf("log file (%v):\n%s", err, data)
	}
}

func TestSnmpdPassPersist(t *testing.T) {
	bin := needBinary(t)
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	legacy := t.TempDir()
	for name, text := range map[string]string{
		"lbaliases":               "lbalias=a.example\nlbalias=b.example\n",
		"lbclient.conf":           "check nologin\nload constant 20\n",
		"lbclient.conf.a.example": "check  nologin\r\nload constant 10\r\n", // tolerated whitespace
	} {
		if err := os.WriteFile(filepath.Join(legacy, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	logFile := filepath.Join(t.TempDir(), "lbclient.log")
	s := startSnmpd(t, fmt.Sprintf("pass_persist .1.3.6.1.4.1.96.255 %s -legacy-dir %s -root %s -interval 100ms -log-file %s -pass-persist",
		bin, legacy, root, logFile))
	want := func(a, b int) string { return fmt.Sprintf(`%s = STRING: "a.example=%d,b.example=%d"`, theOID, a, b) }
	s.eventually(t, theOID, v3(), want(10, 20))
	s.expect(t, false, theOID, v2c(), want(10, 20))
	s.expect(t, true, ".1.3.6.1.4.1.96.255", v3(), want(10, 20))
	if out, err := s.query(true, theOID, v2c()...); err != nil || strings.HasPrefix(out, theOID+" ") {
		t.Errorf("GETNEXT of the value must move past it: %q %v", out, err)
	}
	s.expect(t, false, theOID+".0", v2c(), theOID+".0 = No Such Instance currently exists at this OID")

	// the background evaluator sees the drain files
	if err := os.WriteFile(filepath.Join(root, "etc/iss.nologin.a.example"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s.eventually(t, theOID, v3(), want(-1, 20))
	if err := os.WriteFile(filepath.Join(root, "etc/nologin"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s.eventually(t, theOID, v3(), want(-1, -1))
}

func abs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
