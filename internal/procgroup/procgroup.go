package procgroup

import (
	"context"
	"os/exec"
	"syscall"
	"time"
)

// Command is exec.CommandContext(ctx, argv…) in a new process group: when
// ctx ends the whole group gets SIGKILL (not only the command), and Wait
// waits at most waitDelay for output pipes that a surviving grandchild
// holds open. argv must not be empty.
func Command(ctx context.Context, argv []string, waitDelay time.Duration) *exec.Cmd {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return Kill(cmd) }
	cmd.WaitDelay = waitDelay
	return cmd
}

// Kill sends SIGKILL to the started cmd's process group.
func Kill(cmd *exec.Cmd) error {
	// A negative pid names the process group (kill(2)).
	return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
