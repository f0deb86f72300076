package checks

import (
	"context"
	"fmt"
	"os"
)

const rebootScheduledFile = "/run/systemd/shutdown/scheduled"

// reboot fails while systemd has a shutdown scheduled
// (/run/systemd/shutdown/scheduled exists). Never a hard failure.
func newReboot(spec Spec) (Check, error) {
	if spec.Data != "" {
		return nil, fmt.Errorf("takes no arguments, got %q", spec.Data)
	}
	return CheckFunc(func(_ context.Context, env Env) Result {
		if _, err := os.Stat(env.Path(rebootScheduledFile)); err == nil { // a symbolic link counts by its target
			return Result{Code: CodeReboot, Reason: rebootScheduledFile + " exists: shutdown scheduled"}
		}
		return Result{OK: true, Code: CodeReboot, Reason: "no shutdown scheduled"}
	}), nil
}

// rebootPaths is reboot's WatchPaths.
func rebootPaths(_ Spec, env Env) []string { return []string{env.Path(rebootScheduledFile)} }
