package legacy

import (
	"fmt"
	"strings"
	"time"

	"github.com/lbd-project/lbd/checks"
)

// Line is one parsed, non-blank, non-comment line of a legacy file.
type Line struct {
	File string
	Line int    // 1-based
	Text string // as written, without the line terminator
	// Load is true for "load <type> <args>", false for "check <keyword> <args>".
	Load bool
	// Spec is the check or load as package checks builds it (Type in lower
	// case; for "check command <text>" Data is "bash:<text>").
	Spec checks.Spec
	// Warnings are accepted oddities (non-canonical whitespace, ignored
	// arguments).
	Warnings []string
	// Err is set when the line is a configuration error; Code (negative)
	// is what its mapping then reports.
	Err  error
	Code int
	// Check is the built check or load when Err is nil.
	Check checks.Check
}

// ParseLine parses one line (without its "\n"; a trailing "\r" is
// accepted with a warning). ok is false for blank and comment lines.
// The grammar is docs/protocol.md §5.2: "check <keyword> [args]" or
// "load constant|collectd|lemon <args>", case-insensitive, words separated
// by any run of blanks (the existing CERN lbclient wants exactly one space
// and no leading blank or CR; such lines are accepted with a warning, D7).
// timeout is the Spec.Timeout given to every check (0: the checks'
// defaults). The check is built (not run) when the line is valid.
func ParseLine(text string, timeout time.Duration) (l Line, ok bool) {
	l.Text = text
	s := text
	if strings.HasSuffix(s, "\r") {
		s = strings.TrimRight(s, "\r")
		l.Warnings = append(l.Warnings, "CRLF line end (accepted; the existing CERN lbclient rejects it)")
	}
	trimmed := strings.Trim(s, " \t\r\n\v\f")
	if trimmed == "" || strings.HasPrefix(trimmed, "#") {
		return l, false
	}
	w1, rest := cutWord(trimmed)
	w2, args := cutWord(rest)
	canon := w1 + " " + w2
	if args != "" {
		canon += " " + args
	}
	if w2 != "" && s != canon {
		l.Warnings = append(l.Warnings, "non-canonical whitespace (accepted; the existing CERN lbclient rejects it)")
	}
	kind, kw := strings.ToLower(w1), strings.ToLower(w2)
	l.Spec = checks.Spec{Type: kw, Timeout: timeout}
	var err *lineError
	switch kind {
	case "check":
		err = l.parseCheck(trimmed, w2, args, timeout)
	case "load":
		err = l.parseLoad(trimmed, w2, args)
	default:
		err = &lineError{ConfigError, fmt.Errorf("unable to parse %q: a line must start with \"check\" or \"load\"", trimmed)}
	}
	if err != nil {
		// a configuration error; Code is the (negative) answer
		l.Code, l.Err, l.Check = err.metric, err.err, nil
	}
	return l, true
}

// lineError is a configuration error and the metric its mapping reports.
type lineError struct {
	metric int
	err    error
}

func lineErrorf(metric int, format string, a ...any) *lineError {
	return &lineError{metric, fmt.Errorf(format, a...)}
}

// parseCheck parses "check <w2> <args>" (trimmed is the whole line).
func (l *Line) parseCheck(trimmed, w2, args string, timeout time.Duration) *lineError {
	kw := l.Spec.Type
	e, known := checks.LookupLegacy(checks.KindCheck, kw)
	switch {
	case kw == "":
		return lineErrorf(ConfigError, "unable to parse %q: \"check\" without a keyword", trimmed)
	case !known:
		if _, ok := checks.LookupLegacy(checks.KindLoad, kw); ok { // "check constant"
			// unparsable, like any unknown keyword (docs/protocol.md §5.3)
			return lineErrorf(ConfigError, "unable to parse %q: \"check %s\" is not a check, only \"load %s <value>\"", trimmed, kw, kw)
		}
		return lineErrorf(ConfigError, "unable to parse %q: unknown check keyword %q", trimmed, w2)
	case e.LegacyNoArgs() && args != "":
		l.Warnings = append(l.Warnings, fmt.Sprintf("check %s takes no argument: %q ignored", kw, args))
		args = ""
	}
	l.Spec.Type = e.Name
	var err error
	if e.Name == "command" {
		l.Spec.Data = "bash:" + args
		l.Check, err = checks.NewShellCommand(args, timeout)
		if err != nil {
			err = fmt.Errorf("check command: %w", err)
		}
	} else {
		l.Spec.Data = args
		l.Check, err = checks.New(l.Spec)
	}
	if err != nil {
		return &lineError{-e.LegacyErrorCode(), err}
	}
	return nil
}

// parseLoad parses "load <w2> <args>" (trimmed is the whole line).
func (l *Line) parseLoad(trimmed, w2, args string) *lineError {
	kw := l.Spec.Type
	e, known := checks.LookupLegacy(checks.KindLoad, kw)
	switch {
	case kw == "":
		return lineErrorf(ConfigError, "unable to parse %q: \"load\" without a type", trimmed)
	case !known:
		return lineErrorf(ConfigError, "unable to parse %q: unknown load type %q (want constant, collectd or lemon)", trimmed, w2)
	case kw == "constant":
		// the third token only, as the existing CERN lbclient reads it
		v, more := cutWord(args)
		if more != "" {
			l.Warnings = append(l.Warnings, fmt.Sprintf("load constant: text after the value ignored: %q", more))
		}
		args = v
	}
	l.Load = true
	l.Spec.Type = e.Name
	l.Spec.Data = args
	var err error
	if l.Check, err = checks.NewLoad(l.Spec); err != nil {
		return &lineError{-e.LegacyErrorCode(), err}
	}
	return nil
}

// cutWord splits s (no leading blank) at its first run of blanks.
func cutWord(s string) (word, rest string) {
	i := strings.IndexAny(s, " \t\v\f\r")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimLeft(s[i:], " \t\v\f\r")
}
