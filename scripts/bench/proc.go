package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// proc is a started child process. Every child runs in its own process
// group (so a kill also reaches anything it forked) and is registered until
// it has been reaped, so stopAll can end whatever is still running.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // Wait's result, valid after done
	log  string

	mu    sync.Mutex
	ready chan struct{} // closed when stdout printed the ready line
	tail  []string      // last lines of output, for error messages
}

var (
	procsMu sync.Mutex
	procs   = map[*proc]bool{}
)

// startProc starts name args… with stdout and stderr appended to logPath.
// With readyLine set, p.ready is closed when stdout prints that line.
func startProc(name, logPath, readyLine string, args ...string) (*proc, error) {
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(name, args...)
	// Own process group; killed if the harness dies without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &proc{name: filepath.Base(name), cmd: cmd, done: make(chan struct{}), log: logPath, ready: make(chan struct{})}
	outR, err := cmd.StdoutPipe()
	if err != nil {
		lf.Close()
		return nil, err
	}
	cmd.Stderr = &tailWriter{p: p, w: lf}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	debugf("started %s (pid %d): %s", p.name, cmd.Process.Pid, strings.Join(args, " "))
	procsMu.Lock()
	procs[p] = true
	procsMu.Unlock()
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(outR)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		once := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(lf, line)
			p.remember(line)
			if !once && readyLine != "" && strings.TrimSpace(line) == readyLine {
				once = true
				close(p.ready)
			}
		}
		io.Copy(io.Discard, outR)
	}()
	go func() {
		<-copied
		p.err = cmd.Wait()
		lf.Close()
		procsMu.Lock()
		delete(procs, p)
		procsMu.Unlock()
		close(p.done)
	}()
	return p, nil
}

type tailWriter struct {
	p    *proc
	w    io.Writer
	part []byte
}

func (t *tailWriter) Write(b []byte) (int, error) {
	t.part = append(t.part, b...)
	for {
		i := bytes.IndexByte(t.part, '\n')
		if i < 0 {
			break
		}
		t.p.remember(string(t.part[:i]))
		t.part = t.part[i+1:]
	}
	return t.w.Write(b)
}

func (p *proc) remember(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tail = append(p.tail, line)
	if len(p.tail) > 8 {
		p.tail = p.tail[len(p.tail)-8:]
	}
}

// Tail is the last lines p printed.
func (p *proc) Tail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.tail, "\n")
}

// waitReady waits for the ready line, the process's exit, or ctx/timeout.
func (p *proc) waitReady(ctx context.Context, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.ready:
		return nil
	case <-p.done:
		return fmt.Errorf("%s exited before it was ready (%v); log %s:\n%s", p.name, p.err, p.log, p.Tail())
	case <-t.C:
		return fmt.Errorf("%s not ready after %v; log %s:\n%s", p.name, timeout, p.log, p.Tail())
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// kill sends SIGKILL to p's process group and waits for it.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM, then SIGKILL after grace.
func (p *proc) stop(grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.kill()
	}
}

// running reports whether p has not exited.
func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// stopAll stops every child still running.
func stopAll() {
	procsMu.Lock()
	var ps []*proc
	for p := range procs {
		ps = append(ps, p)
	}
	procsMu.Unlock()
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.stop(3 * time.Second)
		}()
	}
	wg.Wait()
}

// runResult is a finished short-lived child (lbd -once).
type runResult struct {
	stdout, stderr []byte
	exit           error
	cpu            time.Duration // user + system
	maxRSSKiB      int64
	wall           time.Duration
}

// runOnce runs name args… to completion (killed at ctx's end) and returns
// its output and resource usage.
func runOnce(ctx context.Context, name string, args ...string) (runResult, error) {
	var r runResult
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r.wall = time.Since(start)
	r.stdout, r.stderr, r.exit = out.Bytes(), errb.Bytes(), err
	if cmd.ProcessState == nil {
		return r, fmt.Errorf("%s: %w", name, err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		r.maxRSSKiB = ru.Maxrss
	}
	if ctx.Err() != nil {
		return r, fmt.Errorf("%s: %w", name, context.Cause(ctx))
	}
	return r, nil
}

// procCPU returns the CPU time (user + system) a running process used so
// far, from /proc/PID/stat.
func procCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("bad /proc stat")
	}
	f := strings.Fields(s[i+1:])
	// After the command: state(0) ppid pgrp session tty tpgid flags minflt
	// cminflt majflt cmajflt utime(11) stime(12).
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("bad /proc stat times")
	}
	const hz = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / hz, nil
}

// freePort returns a port free for both UDP and TCP on ip.
func freePort(ip string) (int, error) {
	for range 20 {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", net.JoinHostPort(ip, strconv.Itoa(port)))
		l.Close()
		if err == nil {
			u.Close()
			return port, nil
		}
	}
	return 0, errors.New("no free port")
}

// udpPortFree reports whether port is free for UDP on every address.
func udpPortFree(port int, addrs ...string) bool {
	for _, a := range addrs {
		u, err := net.ListenPacket("udp", net.JoinHostPort(a, strconv.Itoa(port)))
		if err != nil {
			return false
		}
		u.Close()
	}
	return true
}

func newSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// answerA returns the sorted A addresses server answers for name, joined
// by spaces.
func answerA(server, name string, timeout time.Duration) (string, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	m.RecursionDesired = false
	c := &dns.Client{Timeout: timeout}
	r, _, err := c.Exchange(m, server)
	if err != nil {
		return "", err
	}
	if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
		return "", fmt.Errorf("%s", dns.RcodeToString[r.Rcode])
	}
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	sort.Strings(out)
	return strings.Join(out, " "), nil
}

// waitAnswer queries every 10 ms until name answers want, at most limit
// (and never past ctx). It returns when the answer was first seen.
func waitAnswer(ctx context.Context, server, name, want string, limit time.Duration) (time.Time, string, error) {
	deadline := time.Now().Add(limit)
	last := ""
	var lastErr error
	for time.Now().Before(deadline) {
		got, err := answerA(server, name, 200*time.Millisecond)
		if err == nil && got == want {
			return time.Now(), got, nil
		}
		last, lastErr = got, err
		select {
		case <-ctx.Done():
			return time.Time{}, last, context.Cause(ctx)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if lastErr != nil {
		return time.Time{}, last, fmt.Errorf("%s still not %q after %v (last error %v)", name, want, limit, lastErr)
	}
	return time.Time{}, last, fmt.Errorf("%s answers %q, not %q after %v", name, last, want, limit)
}

// sleepCtx sleeps d unless ctx ends first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// cpuTime is the CPU time (user + system) the running process has used so
// far, from /proc/PID/stat in clock ticks of 1/100 s (USER_HZ on Linux);
// 0 if it cannot be read.
func (p *proc) cpuTime() time.Duration {
	if p == nil {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	_, rest, ok := strings.Cut(string(b), ") ") // comm may hold spaces
	if !ok {
		return 0
	}
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
