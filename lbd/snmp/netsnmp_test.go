package snmp

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/internal/tomlconf"
)

// netSNMPd is a net-snmp snmpd for tests.
type netSNMPd struct {
	t    *testing.T
	bin  string
	dir  string
	port int
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	out  bytes.Buffer
}

func (s *netSNMPd) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.Write(p)
}

func (s *netSNMPd) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// startNetSNMPd runs snmpd on 127.0.0.1 with user loadbalancing (MD5,
// authNoPriv), community public and a pass script answering LoadOID with
// the STRING "a.example=5,b.example=-7".
func startNetSNMPd(t *testing.T) *netSNMPd {
	bin := testenv.Require(t, "snmpd")[0]
	dir := t.TempDir()
	script := filepath.Join(dir, "load.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nprintf '.1.3.6.1.4.1.96.255.1\\nstring\\na.example=5,b.example=-7\\n'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// snmpd rewrites persistentDir/snmpd.conf on exit: keep the
	// configuration elsewhere.
	persist := filepath.Join(dir, "persist")
	if err := os.Mkdir(persist, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`[snmp] persistentDir %s
dontLogTCPWrappersConnects yes
createUser loadbalancing MD5 "%s"
rouser loadbalancing auth
rocommunity public 127.0.0.1
pass .1.3.6.1.4.1.96.255.1 /bin/sh %s
`, persist, testPassword, script)
	if err := os.WriteFile(filepath.Join(dir, "snmpd.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &netSNMPd{t: t, bin: bin, dir: dir, port: testenv.FreePort(t, "127.0.0.1")}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *netSNMPd) start() {
	s.t.Helper()
	cmd := exec.Command(s.bin, "-f", "-Lo", "-C", "-c", filepath.Join(s.dir, "snmpd.conf"),
		"-p", filepath.Join(s.dir, "snmpd.pid"), "-I", "-smux", fmt.Sprintf("udp:127.0.0.1:%d", s.port))
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "MIBS=", "MIBDIRS="+s.dir, "SNMP_PERSISTENT_DIR="+filepath.Join(s.dir, "persist"), "SNMPCONFPATH="+s.dir, "HOME="+s.dir)
	cmd.Stdout, cmd.Stderr = s, s
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func() { cmd.Wait(); close(s.done) }()
	// Ready when it answers a v2c GET: at most 50 tries, 100 ms apart.
	p, _ := NewPoller(Config{Version: "2c", Community: "public", Port: s.port, Timeout: tomlconf.Duration{Duration: 100 * time.Millisecond}}, 1)
	defer p.Close()
	for i := 0; i < 50; i++ {
		select {
		case <-s.done:
			s.t.Fatalf("snmpd exited: %s", s.log())
		default:
		}
		if _, err := p.Get(context.Background(), ip("127.0.0.1")); err == nil {
			return
		}
	}
	s.t.Fatalf("snmpd not answering after 5 s: %s", s.log())
}

// stop terminates snmpd and waits (5 s, then SIGKILL).
func (s *netSNMPd) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

func TestNetSNMPd(t *testing.T) {
	s := startNetSNMPd(t)
	want := Value{IsString: true, Str: "a.example=5,b.example=-7"}
	local := ip("127.0.0.1")

	v2, _ := NewPoller(Config{Version: "2c", Community: "public", Port: s.port, Timeout: tomlconf.Duration{Duration: 2 * time.Second}}, 1)
	defer v2.Close()
	if v, err := v2.Get(context.Background(), local); err != nil || v != want {
		t.Fatalf("v2c: %+v %v", v, err)
	}

	p, _ := NewPoller(v3md5(s.port, 2*time.Second, 1), 1)
	defer p.Close()
	ev := countEvents(p)
	for i := 0; i < 2; i++ {
		r := p.PollAll(context.Background(), []netip.Addr{local})[local]
		if r.Err != nil || r.Value != want {
			t.Fatalf("v3 md5 poll %d: %+v\n%s", i, r, s.log())
		}
		if n, ok := r.Value.LoadFor("b.example"); !ok || n != -7 {
			t.Fatalf("b.example: %d %v", n, ok)
		}
	}
	if n := ev.get(evDiscovery); n != 1 {
		t.Fatalf("%d discoveries for two polls", n)
	}

	// Wrong password: net-snmp's wrongDigests report is a failure.
	bad, _ := NewPoller(Config{Version: "3", Port: s.port, User: "loadbalancing", AuthProtocol: "md5",
		AuthPassword: "not-the-password", Timeout: tomlconf.Duration{Duration: time.Second}}, 1)
	defer bad.Close()
	if v, err := bad.Get(context.Background(), local); err == nil {
		t.Fatalf("wrong password gave %+v", v)
	}

	// Restart: snmpd keeps its engine ID in persistentDir and increments
	// boots; the cached engine is corrected from the report within one Get.
	s.stop()
	s.start()
	if v, err := p.Get(context.Background(), local); err != nil || v != want {
		t.Fatalf("after restart: %+v %v\n%s", v, err, s.log())
	}
	if d, r := ev.get(evDiscovery), ev.get(evResync); d != 1 || r != 1 {
		t.Fatalf("after restart: %d discoveries, %d resyncs; want 1, 1", d, r)
	}
}
