package testenv

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// HAProxy for the [[render]] tests (lbd/render, internal/e2e): run in the
// foreground in master-worker mode, with a stats socket to read the
// servers it runs with. The names are distinct from testenv's general
// HAProxy helper (haproxy.go on another branch) until the two are merged.

func init() {
	if _, ok := Packages["haproxy"]; !ok {
		Packages["haproxy"] = "haproxy"
	}
}

// Bounds of the waits for HAProxy.
const (
	renderHAProxyStart = 15 * time.Second
	renderHAProxyPoll  = 50 * time.Millisecond
	renderHAProxyIO    = 2 * time.Second
)

// RenderHAProxy is one HAProxy master process and its paths. Its
// configuration (written by the test, or rendered by lbd) must declare
// "stats socket StatsSocket level admin" in its global section and bind
// only 127.0.0.1:Port.
type RenderHAProxy struct {
	Bin          string
	Dir          string // a short directory (unix socket paths are limited)
	Port         int    // a free TCP port on 127.0.0.1 for the frontend
	StatsSocket  string
	MasterSocket string
	PidFile      string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	log  *Buffer
}

// NewRenderHAProxy requires the haproxy binary (skip, or fail under
// CI=true) and picks the paths and the port; Start runs it.
func NewRenderHAProxy(t testing.TB) *RenderHAProxy {
	t.Helper()
	bin := Require(t, "haproxy")[0]
	dir, err := os.MkdirTemp("", "lbdhap")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return &RenderHAProxy{Bin: bin, Dir: dir, Port: FreePort(t, "127.0.0.1"),
		StatsSocket: filepath.Join(dir, "stats.sock"), MasterSocket: filepath.Join(dir, "master.sock"),
		PidFile: filepath.Join(dir, "haproxy.pid"), log: &Buffer{}}
}

// CheckCmd is the check command of a [[render]] for this HAProxy.
func (h *RenderHAProxy) CheckCmd() string { return h.Bin + " -c -f {{.File}}" }

// ReloadCmd is the reload command: SIGUSR2 to the master, whose pid the
// pid file holds.
func (h *RenderHAProxy) ReloadCmd() string { return "kill -USR2 $(cat " + h.PidFile + ")" }

// Start runs haproxy -W -db -f cfg until the test ends and waits until
// its stats socket answers.
func (h *RenderHAProxy) Start(t testing.TB, cfg string) {
	t.Helper()
	h.mu.Lock()
	h.cmd = exec.Command(h.Bin, "-W", "-db", "-f", cfg, "-p", h.PidFile, "-S", h.MasterSocket)
	h.cmd.Stdout, h.cmd.Stderr = h.log, h.log
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := h.cmd.Start(); err != nil {
		h.mu.Unlock()
		t.Fatalf("haproxy: %v", err)
	}
	h.done = make(chan struct{})
	cmd, done := h.cmd, h.done
	go func() { cmd.Wait(); close(done) }()
	h.mu.Unlock()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			t.Logf("haproxy output (%s):\n%s", h.Dir, h.log.String())
		}
	})
	deadline := time.Now().Add(renderHAProxyStart)
	for {
		select {
		case <-done:
			t.Fatalf("haproxy exited:\n%s", h.log.String())
		default:
		}
		if _, err := h.Command("show info"); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy stats socket %s not answering within %s:\n%s", h.StatsSocket, renderHAProxyStart, h.log.String())
		}
		time.Sleep(renderHAProxyPoll)
	}
}

// Log is HAProxy's output so far.
func (h *RenderHAProxy) Log() string { return h.log.String() }

// Command sends one command to the stats socket and returns the answer.
func (h *RenderHAProxy) Command(cmd string) (string, error) {
	c, err := net.DialTimeout("unix", h.StatsSocket, renderHAProxyIO)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(renderHAProxyIO))
	if _, err := fmt.Fprintf(c, "%s\n", cmd); err != nil {
		return "", err
	}
	var b strings.Builder
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		b.WriteString(sc.Text())
		b.WriteByte('\n')
	}
	return b.String(), sc.Err()
}

// Servers lists the servers HAProxy runs backend with, as "name addr:port",
// sorted (from "show servers state").
func (h *RenderHAProxy) Servers(backend string) ([]string, error) {
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
// (sorted "name addr:port"), and fails the test otherwise.
func (h *RenderHAProxy) WaitServers(t testing.TB, backend string, want []string, limit time.Duration) {
	t.Helper()
	want = slices.Sorted(slices.Values(want))
	deadline := time.Now().Add(limit)
	var got []string
	var err error
	for {
		if got, err = h.Servers(backend); err == nil && slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy backend %s: servers %q (err %v), want %q within %s\n%s", backend, got, err, want, limit, h.log.String())
		}
		time.Sleep(renderHAProxyPoll)
	}
}
