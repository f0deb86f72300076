package checks

import (
	"context"
	"fmt"
	"os"
	"strings"
)

const rogerFile = "/etc/roger/current.yaml"

// roger passes when the last "appstate:" value of /etc/roger/current.yaml
// is "production" or "ignore_roger" (docs/protocol.md §5.3). The file is scanned
// line by line (no YAML library): a line whose first non-blank text is
// "appstate:" sets the value, with surrounding quotes and a trailing
// " #comment" removed. An unreadable file is a hard failure; a file without
// appstate is a soft failure.
func newRoger(spec Spec) (Check, error) {
	if spec.Data != "" {
		return nil, fmt.Errorf("takes no arguments, got %q", spec.Data)
	}
	return CheckFunc(func(_ context.Context, env Env) Result {
		b, err := os.ReadFile(env.Path(rogerFile))
		if err != nil {
			return Result{Code: CodeRoger, Hard: true, Reason: "read " + rogerFile + ": " + err.Error()}
		}
		state, found := rogerAppState(string(b))
		switch {
		case !found:
			return Result{Code: CodeRoger, Reason: "no appstate in " + rogerFile}
		case state == "production" || state == "ignore_roger":
			return Result{OK: true, Code: CodeRoger, Reason: "roger appstate " + state}
		default:
			return Result{Code: CodeRoger, Reason: fmt.Sprintf("roger appstate %q is neither production nor ignore_roger", state)}
		}
	}), nil
}

func rogerAppState(text string) (string, bool) {
	var state string
	found := false
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		rest, ok := strings.CutPrefix(line, "appstate:")
		if !ok {
			continue
		}
		if i := strings.Index(rest, " #"); i >= 0 {
			rest = rest[:i]
		}
		rest = strings.TrimSpace(rest)
		if len(rest) >= 2 && (rest[0] == '"' || rest[0] == '\'') && rest[len(rest)-1] == rest[0] {
			rest = rest[1 : len(rest)-1]
		}
		state, found = rest, true
	}
	return state, found
}

// rogerPaths is roger's WatchPaths.
func rogerPaths(_ Spec, env Env) []string { return []string{env.Path(rogerFile)} }
