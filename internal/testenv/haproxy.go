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
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// HAProxy is a haproxy run by a test: in the foreground in master-worker
// mode ("haproxy -W -db"), as the current user, with its pid file, master
// socket and configuration in Dir. Its configuration must declare the
// admin stats socket ("stats socket Socket level admin" in a global
// section; StartHAProxy adds it) and bind only loopback addresses.
//
// StartHAProxy runs it with a configuration given as text. A [[render]]
// test, where lbd writes the configuration, calls NewHAProxy, has lbd
// write Conf (CheckCmd, ReloadCmd, Socket, Port) and then calls Start.
type HAProxy struct {
	Dir          string // a short temporary directory (unix socket paths are limited to 108 bytes)
	Conf         string // Dir/haproxy.cfg: the configuration haproxy runs with
	Port         int    // a free TCP port on 127.0.0.1 for a frontend
	Socket       string // the admin stats socket (Dir/stats.sock)
	MasterSocket string // the master CLI socket (Dir/master.sock, "-S")
	PidFile      string // holds the master's pid (Dir/haproxy.pid, "-p")

	bin string
	d   *daemon
}

// haproxyTimeout bounds one stats-socket command.
const haproxyTimeout = 5 * time.Second

// NewHAProxy requires the haproxy binary (the test is skipped, or fails
// under CI=true, without it), creates Dir (removed when the test ends) and
// picks Port. Nothing runs until Start.
func NewHAProxy(t testing.TB) *HAProxy {
	t.Helper()
	bin := Require(t, "haproxy")[0]
	// not t.TempDir(), whose path can be too long for a unix socket
	dir, err := os.MkdirTemp("", "lbdhap")
	if err != nil {
		t.Fatalf("haproxy: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return &HAProxy{Dir: dir, Conf: filepath.Join(dir, "haproxy.cfg"), Port: FreePort(t, "127.0.0.1"),
		Socket: filepath.Join(dir, "stats.sock"), MasterSocket: filepath.Join(dir, "master.sock"),
		PidFile: filepath.Join(dir, "haproxy.pid"), bin: bin}
}

// StartHAProxy writes cfg, preceded by a global section declaring the
// admin stats socket, to Conf of a NewHAProxy and runs Start. cfg may
// have global sections of its own; it chooses its ports (Port is free for
// it).
func StartHAProxy(t testing.TB, cfg string) *HAProxy {
	t.Helper()
	h := NewHAProxy(t)
	text := fmt.Sprintf("global\n    stats socket %s mode 600 level admin\n\n%s", h.Socket, cfg)
	if err := os.WriteFile(h.Conf, []byte(text), 0o644); err != nil {
		t.Fatalf("haproxy: %v", err)
	}
	h.Start(t)
	return h
}

// Start checks Conf with "haproxy -c" (a refusal fails the test with
// haproxy's message and the configuration) and runs
// "haproxy -W -db -f Conf -p PidFile -S MasterSocket". It returns once the
// stats socket answers. haproxy is stopped when the test ends (or by
// Stop), and its output is printed when the test fails.
func (h *HAProxy) Start(t testing.TB) {
	t.Helper()
	if h.d != nil {
		t.Fatal("haproxy: already started")
	}
	if out, err := CheckHAProxyConfig(h.Conf); err != nil {
		text, _ := os.ReadFile(h.Conf)
		t.Fatalf("haproxy: %v\n%s\nconfiguration:\n%s", err, out, text)
	}
	h.d = newDaemon("haproxy", h.bin, h.Dir, "", nil)
	h.d.args = []string{"-W", "-db", "-f", h.Conf, "-p", h.PidFile, "-S", h.MasterSocket}
	h.d.probe = func() error {
		_, err := h.Command("show info")
		return err
	}
	h.d.logOnFailure(t)
	h.d.start(t)
}

// CheckCmd is the check_cmd of a [[render]] section for this haproxy:
// "haproxy -c -f {{.File}}".
func (h *HAProxy) CheckCmd() string { return h.bin + " -c -f {{.File}}" }

// ReloadCmd is the reload_cmd of a [[render]] section for this haproxy:
// SIGUSR2 to the master, whose pid PidFile holds. Unlike Reload, it does
// not wait for the new worker (WaitServers does).
func (h *HAProxy) ReloadCmd() string { return "kill -USR2 $(cat " + h.PidFile + ")" }

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

// Servers lists the servers haproxy runs backend with, as "name
// addr:port", sorted (from "show servers state"); a backend without
// servers gives an empty list, an unknown backend an error.
func (h *HAProxy) Servers(backend string) ([]string, error) {
	out, err := h.Command("show servers state " + backend)
	if err != nil {
		return nil, err
	}
	var cols []string
	servers := []string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case f[0] == "#":
			cols = f[1:]
		case cols != nil && len(f) >= len(cols):
			row := map[string]string{}
			for i, c := range cols {
				row[c] = f[i]
			}
			servers = append(servers, row["srv_name"]+" "+row["srv_addr"]+":"+row["srv_port"])
		}
	}
	if cols == nil {
		return nil, fmt.Errorf("show servers state %s: %q", backend, out)
	}
	slices.Sort(servers)
	return servers, nil
}

// WaitServers waits (bounded by limit) until backend runs exactly want
// ("name addr:port", in any order; nil for none) and fails the test
// otherwise.
func (h *HAProxy) WaitServers(t testing.TB, backend string, want []string, limit time.Duration) {
	t.Helper()
	want = slices.Sorted(slices.Values(want))
	deadline := time.Now().Add(limit)
	for {
		got, err := h.Servers(backend)
		if err == nil && slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy backend %s: servers %q (err %v), want %q within %s; output:\n%s", backend, got, err, want, limit, h.Log())
		}
		time.Sleep(daemonPollInterval)
	}
}

// Reload makes haproxy read Conf again (SIGUSR2 to the master process;
// rewrite Conf first) and returns once a new worker answers on the stats
// socket. A signal sent while the master is still starting is lost, so it
// is sent again after each second without a new worker, up to 5 times;
// the test fails after that.
func (h *HAProxy) Reload(t testing.TB) {
	t.Helper()
	if h.d == nil {
		t.Fatal("haproxy reload: not started")
	}
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

// Stop stops haproxy (SIGTERM to the master, then SIGKILL after 5 s); it
// may be called several times, and before Start.
func (h *HAProxy) Stop() {
	if h.d != nil {
		h.d.stop()
	}
}

// Log returns haproxy's output so far ("" before Start).
func (h *HAProxy) Log() string {
	if h.d == nil {
		return ""
	}
	return h.d.log.String()
}
