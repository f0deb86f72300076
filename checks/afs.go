package checks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
)

// DefaultAFSPath is the directory the afs check looks at by default.
const DefaultAFSPath = "/afs/cern.ch/user/"

// afs fails when the directory (Data, default /afs/cern.ch/user/) does not
// exist; other stat errors pass (docs/protocol.md §5.3). The stat runs in its own
// goroutine so that a hung AFS gives a hard failure at the ctx deadline
// instead of blocking the caller.
func newAFS(spec Spec) (Check, error) {
	p := strings.TrimSpace(spec.Data)
	if p == "" {
		p = DefaultAFSPath
	}
	if !path.IsAbs(p) {
		return nil, fmt.Errorf("path %q is not absolute", p)
	}
	return CheckFunc(func(ctx context.Context, env Env) Result {
		done := make(chan error, 1)
		go func() {
			_, err := os.Stat(env.Path(p))
			done <- err
		}()
		select {
		case err := <-done:
			if errors.Is(err, fs.ErrNotExist) {
				return Result{Code: CodeAFS, Reason: p + " does not exist"}
			}
			if err != nil {
				return Result{OK: true, Code: CodeAFS, Reason: fmt.Sprintf("%s: %v (only a missing path fails)", p, err)}
			}
			return Result{OK: true, Code: CodeAFS, Reason: p + " exists"}
		case <-ctx.Done():
			return Result{Code: CodeAFS, Hard: true, Reason: fmt.Sprintf("stat %s: %v", p, ctx.Err())}
		}
	}), nil
}
