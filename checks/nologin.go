package checks

import (
	"context"
	"fmt"
	"os"
)

// nologin fails while /etc/nologin exists, or /etc/iss.nologin for the
// default mapping, or /etc/iss.nologin.<alias> for an alias-specific mapping
// (instead of /etc/iss.nologin). docs/protocol.md §5.3.
func newNologin(spec Spec) (Check, error) {
	if spec.Data != "" {
		return nil, fmt.Errorf("takes no arguments, got %q", spec.Data)
	}
	return CheckFunc(func(_ context.Context, env Env) Result {
		files := []string{"/etc/nologin"}
		if env.Alias == "" {
			files = append(files, "/etc/iss.nologin")
		} else {
			files = append(files, "/etc/iss.nologin."+env.Alias)
		}
		for _, f := range files {
			if _, err := os.Lstat(env.Path(f)); err == nil {
				return Result{Code: CodeNologin, Reason: f + " exists"}
			}
		}
		return Result{OK: true, Code: CodeNologin, Reason: "no nologin file"}
	}), nil
}
