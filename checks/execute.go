package checks

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"syscall"
	"time"

	"github.com/lbd-project/lbd/internal/procgroup"
)

// DefaultCommandTimeout bounds external commands (command, eos,
// collectd_alarms) when neither the Spec nor the ctx sets a shorter limit.
const DefaultCommandTimeout = 3 * time.Second

// maxCapture caps how much stdout/stderr a command may leave in memory.
const maxCapture = 64 << 10

// execResult is the outcome of one external command.
type execResult struct {
	Stdout, Stderr []byte
	ExitCode       int  // valid when Exited
	Exited         bool // the process exited on its own (any code)
	Signaled       bool // killed by a signal (including our timeout kill)
	TimedOut       bool // the deadline passed and the group was killed
	StartErr       error
}

// runCommand runs argv (no shell) in its own process group with stdin
// from /dev/null, and kills the whole group (the command and all its
// children) when timeout or the ctx deadline passes, whichever is first.
func runCommand(ctx context.Context, argv []string, timeout time.Duration) execResult {
	if timeout <= 0 {
		timeout = DefaultCommandTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var res execResult
	stdout := &cappedBuffer{max: maxCapture}
	stderr := &cappedBuffer{max: maxCapture}
	// Children that outlive the command may keep the output pipes open;
	// do not wait for them forever.
	cmd := procgroup.Command(ctx, argv, 500*time.Millisecond)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		res.StartErr = err
		return res
	}
	err := cmd.Wait()
	res.Stdout, res.Stderr = stdout.Bytes(), stderr.Bytes()
	if ctx.Err() != nil {
		res.TimedOut = true
		// The group may have been killed already; make sure of it.
		_ = procgroup.Kill(cmd)
	}
	if ps := cmd.ProcessState; ps != nil {
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.Signaled = true
		} else if ps.Exited() {
			res.Exited = true
			res.ExitCode = ps.ExitCode()
		}
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) && cmd.ProcessState == nil {
		res.StartErr = err
	}
	return res
}

// cappedBuffer keeps the first max bytes written and discards the rest.
type cappedBuffer struct {
	buf bytes.Buffer
	max int
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room > 0 {
		if len(p) > room {
			b.buf.Write(p[:room])
		} else {
			b.buf.Write(p)
		}
	}
	return len(p), nil
}

func (b *cappedBuffer) Bytes() []byte { return b.buf.Bytes() }
