package testenv

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// HAProxy is a haproxy run by a test (StartHAProxy): in the foreground,
// master-worker mode, as the current user, with an admin stats socket.
type HAProxy struct {
	Dir    string // the test's directory: haproxy.cfg
	Conf   string // path of the configuration written
	Socket string // the admin stats socket ("stats socket … level admin")

	d *daemon
}

// haproxyTimeout bounds one stats-socket command.
const haproxyTimeout = 5 * time.Second

// StartHAProxy writes cfg, preceded by a global section declaring the
// admin stats socket, to haproxy.cfg in a temporary directory, checks it
// with "haproxy -c" (a failure shows haproxy's message), and starts
// "haproxy -W -db -f haproxy.cfg". It returns once the stats socket
// answers, and stops haproxy when the test ends; haproxy's output is
// printed when the test fails. cfg must bind only loopback addresses; it
// may have global sections of its own.
func StartHAProxy(t testing.TB, cfg string) *HAProxy {
	t.Helper()
	bin := Require(t, "haproxy")[0]
	dir := t.TempDir()
	// a socket path is limited to 108 bytes: t.TempDir() can be longer
	sockDir, err := os.MkdirTemp("", "hx")
	if err != nil {
		t.Fatalf("StartHAProxy: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	h := &HAProxy{Dir: dir, Conf: filepath.Join(dir, "haproxy.cfg"), Socket: filepath.Join(sockDir, "stats")}
	text := fmt.Sprintf("global\n    stats socket %s mode 600 level admin\n\n%s", h.Socket, cfg)
	if err := os.WriteFile(h.Conf, []byte(text), 0o644); err != nil {
		t.Fatalf("StartHAProxy: %v", err)
	}
	if out, err := CheckHAProxyConfig(h.Conf); err != nil {
		t.Fatalf("StartHAProxy: %v\n%s\nconfiguration:\n%s", err, out, text)
	}
	h.d = newDaemon("haproxy", bin, dir, "", nil)
	h.d.args = []string{"-W", "-db", "-f", h.Conf}
	h.d.probe = func() error {
		_, err := h.Command("show info")
		return err
	}
	h.d.logOnFailure(t)
	h.d.start(t)
	return h
}

// CheckHAProxyConfig runs "haproxy -c -f file" and returns its output; the
// error says why the configuration was refused (or haproxy is missing:
// call Require first to skip or fail the test).
func CheckHAProxyConfig(file string) (string, error) {
	bin, err := LookPath("haproxy")
	if err != nil {
		return "", err
	}
	out, err := exec.Command(bin, "-c", "-f", file).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("haproxy -c -f %s: %w", file, err)
	}
	return string(out), nil
}

// Command sends one command to the stats socket ("show stat", "show
// servers state", "set server be/s state drain", …) and returns the
// answer.
func (h *HAProxy) Command(cmd string) (string, error) {
	c, err := net.DialTimeout("unix", h.Socket, haproxyTimeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(haproxyTimeout)); err != nil {
		return "", err
	}
	if _, err := io.WriteString(c, cmd+"\n"); err != nil {
		return "", err
	}
	b, err := io.ReadAll(io.LimitReader(c, 16<<20))
	return string(b), err
}

// Stat returns the "show stat" row of proxy/server by column name
// ("status": "UP", "DRAIN (agent)", "DOWN (agent)", "MAINT"…; "weight";
// "last_agt", the agent check's last result; …). It fails the test when
// the socket does not answer or the server is not there.
func (h *HAProxy) Stat(t testing.TB, proxy, server string) map[string]string {
	t.Helper()
	out, err := h.Command("show stat")
	if err != nil {
		t.Fatalf("haproxy show stat: %v", err)
	}
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(out, "# ")))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil || len(rows) == 0 {
		t.Fatalf("haproxy show stat: %v:\n%s", err, out)
	}
	for _, row := range rows[1:] {
		if len(row) >= 2 && row[0] == proxy && row[1] == server {
			m := map[string]string{}
			for i, name := range rows[0] {
				if i < len(row) {
					m[name] = row[i]
				}
			}
			return m
		}
	}
	t.Fatalf("haproxy show stat: no %s/%s in:\n%s", proxy, server, out)
	return nil
}

// Reload makes haproxy read its configuration file again (SIGUSR2 to the
// master process; rewrite h.Conf first) and returns once a new worker
// answers on the stats socket. A signal sent while the master is still
// starting is lost, so it is sent again after each second without a new
// worker, up to 5 times; the test fails after that.
func (h *HAProxy) Reload(t testing.TB) {
	t.Helper()
	before, err := h.workerPid()
	if err != nil {
		t.Fatalf("haproxy reload: %v", err)
	}
	h.d.mu.Lock()
	cmd := h.d.cmd
	h.d.mu.Unlock()
	if cmd == nil {
		t.Fatal("haproxy reload: not running")
	}
	pid := before
	for range 5 {
		if err := cmd.Process.Signal(syscall.SIGUSR2); err != nil {
			t.Fatalf("haproxy reload: %v", err)
		}
		for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(daemonPollInterval) {
			if pid, err = h.workerPid(); err == nil && pid != before {
				return
			}
		}
	}
	t.Fatalf("haproxy reload: no new worker after 5 signals (worker pid %d, %v); output:\n%s", pid, err, h.Log())
}

// workerPid is the "Pid" of "show info": the worker answering the socket.
func (h *HAProxy) workerPid() (int, error) {
	out, err := h.Command("show info")
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Pid: "); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, fmt.Errorf("no Pid in show info: %q", out)
}

// Stop stops haproxy (SIGTERM, then SIGKILL after 5 s); it may be called
// several times.
func (h *HAProxy) Stop() { h.d.stop() }

// Log returns haproxy's output so far.
func (h *HAProxy) Log() string { return h.d.log.String() }
