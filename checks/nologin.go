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
		for _, f := range nologinFiles(env) {
			if _, err := os.Stat(env.Path(f)); err == nil { // as test -e and pam_nologin: a symbolic link counts by its target
				return Result{Code: CodeNologin, Reason: f + " exists"}
			}
		}
		return Result{OK: true, Code: CodeNologin, Reason: "no nologin file"}
	}), nil
}

// nologinFiles lists the files nologin looks for in env, in order.
func nologinFiles(env Env) []string {
	if env.Alias == "" {
		return []string{"/etc/nologin", "/etc/iss.nologin"}
	}
	return []string{"/etc/nologin", "/etc/iss.nologin." + env.Alias}
}

// nologinPaths is nologin's WatchPaths.
func nologinPaths(_ Spec, env Env) []string {
	var out []string
	for _, f := range nologinFiles(env) {
		out = append(out, env.Path(f))
	}
	return out
}
