package checks

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Shell prefixes of command Data. "bash:<script>" runs bash -c "<script>"
// (the legacy "check command <text>" form); "sh:<script>" runs
// /bin/sh -c "<script>". Without a prefix the text is split into argv.
const (
	commandBashPrefix = "bash:"
	commandShPrefix   = "sh:"
)

// commandCheck runs an external command; see newCommand.
type commandCheck struct {
	argv    []string
	timeout time.Duration
	display string
}

// newCommand builds "command": Data is a command line, split into argv
// without a shell (blanks separate words; '...' and "..." quote, with no
// escapes inside single quotes and \" \\ inside double quotes; a backslash
// outside quotes escapes the next character). Data starting with "bash:" or
// "sh:" is instead a script run by bash -c or sh -c. The command runs in
// its own process group, killed as a whole at Spec.Timeout (default 3 s)
// or the ctx deadline. Exit 0 passes; another exit status is a soft
// failure -14; failure to start, exit 126/127, death by signal and timeout
// are hard failures.
func newCommand(spec Spec) (Check, error) {
	data := strings.TrimSpace(spec.Data)
	switch {
	case strings.HasPrefix(data, commandBashPrefix):
		return NewShellCommand(strings.TrimPrefix(data, commandBashPrefix), spec.Timeout)
	case strings.HasPrefix(data, commandShPrefix):
		script := strings.TrimSpace(strings.TrimPrefix(data, commandShPrefix))
		if script == "" {
			return nil, fmt.Errorf("empty shell script")
		}
		return commandCheck{argv: []string{"/bin/sh", "-c", script}, timeout: spec.Timeout, display: spec.Data}, nil
	}
	argv, err := splitArgs(data)
	if err != nil {
		return nil, err
	}
	if len(argv) == 0 {
		return nil, fmt.Errorf("missing command")
	}
	return commandCheck{argv: argv, timeout: spec.Timeout, display: data}, nil
}

// NewShellCommand builds the legacy "check command <text>" check, which
// runs bash -c "<text>", with the same outcomes and process-group timeout
// as the command check (timeout <= 0 means DefaultCommandTimeout; the ctx
// deadline also applies).
func NewShellCommand(script string, timeout time.Duration) (Check, error) {
	script = strings.TrimSpace(script)
	if script == "" {
		return nil, fmt.Errorf("empty shell script")
	}
	return commandCheck{argv: []string{"bash", "-c", script}, timeout: timeout, display: "bash -c " + script}, nil
}

func (c commandCheck) Run(ctx context.Context, _ Env) Result {
	r := runCommand(ctx, c.argv, c.timeout)
	fail := func(hard bool, format string, a ...any) Result {
		return Result{Code: CodeCommand, Hard: hard, Reason: fmt.Sprintf("%q: ", c.display) + fmt.Sprintf(format, a...)}
	}
	switch {
	case r.StartErr != nil:
		return fail(true, "cannot start: %v", r.StartErr)
	case r.TimedOut:
		return fail(true, "timed out, process group killed")
	case r.Signaled:
		return fail(true, "killed by a signal")
	case !r.Exited:
		return fail(true, "did not exit normally")
	case r.ExitCode == 126 || r.ExitCode == 127:
		return fail(true, "exit %d (cannot execute or not found)%s", r.ExitCode, stderrTail(r.Stderr))
	case r.ExitCode != 0:
		return fail(false, "exit %d%s", r.ExitCode, stderrTail(r.Stderr))
	}
	return Result{OK: true, Code: CodeCommand, Reason: fmt.Sprintf("%q: exit 0", c.display)}
}

// stderrTail formats the last line of stderr for a reason, if any.
func stderrTail(b []byte) string {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return ""
	}
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return ": " + s
}

// splitArgs splits a command line into words; see newCommand.
func splitArgs(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord := false
	runes := []rune(s)
	for i := 0; i < len(runes); i++ {
		r := runes[i]
		switch {
		case unicode.IsSpace(r):
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		case r == '\'':
			inWord = true
			j := i + 1
			for j < len(runes) && runes[j] != '\'' {
				cur.WriteRune(runes[j])
				j++
			}
			if j == len(runes) {
				return nil, fmt.Errorf("unterminated single quote in %q", s)
			}
			i = j
		case r == '"':
			inWord = true
			j := i + 1
			for ; j < len(runes) && runes[j] != '"'; j++ {
				if runes[j] == '\\' && j+1 < len(runes) && (runes[j+1] == '"' || runes[j+1] == '\\') {
					j++
				}
				cur.WriteRune(runes[j])
			}
			if j == len(runes) {
				return nil, fmt.Errorf("unterminated double quote in %q", s)
			}
			i = j
		case r == '\\':
			inWord = true
			if i+1 == len(runes) {
				return nil, fmt.Errorf("trailing backslash in %q", s)
			}
			i++
			cur.WriteRune(runes[i])
		default:
			inWord = true
			cur.WriteRune(r)
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}
