package lbclient

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/lbd-project/lbd/checks"
	"github.com/lbd-project/lbd/lbclient/agent"
)

// Legacy configuration (COMPAT.md §5): a directory holding lbaliases, a
// default lbclient.conf and per-alias lbclient.conf.<alias> files, read into
// the same Mapping/Step values as the TOML configuration so that the same
// evaluator serves both. See LoadLegacy.

// Legacy file names.
const (
	DefaultLegacyDir    = "/usr/local/etc"
	LegacyAliasesFile   = "lbaliases"
	LegacyDefaultFile   = "lbclient.conf"
	legacyAliasPrefix   = LegacyDefaultFile + "."
	legacyMaxFileSize   = 1 << 20 // larger files are configuration errors
	legacyMaxWalkBudget = 100000  // directory entries visited at most
)

// LegacyConfigError is the code (our own, outside COMPAT.md's 1..19) a
// mapping reports when one of its lines cannot be attributed to a check:
// an unknown keyword, a line that is neither "check ..." nor "load ...", an
// unknown load type, an unreadable file, or (for the default mapping) a
// listed alias whose default lbclient.conf is missing. A line whose
// keyword is known but whose arguments are invalid reports that keyword's
// code instead (e.g. -17 for bad daemon JSON, -16 for a bad constant or
// "check constant", -14 for an empty command).
const LegacyConfigError = -102

// legacyNoArgs are the check keywords that take no argument: the existing
// CERN lbclient ignores anything after them, so do we (with a warning).
var legacyNoArgs = map[string]bool{
	"nologin": true, "tmpfull": true, "xsessions": true, "swapping": true, "swaping": true,
	"sshdaemon": true, "webdaemon": true, "ftpdaemon": true, "gridftpdaemon": true,
	"afs": true, "roger": true, "eos": true, "reboot": true, "lemonload": true, "collectdload": true,
}

// legacyCheckCodes maps each check keyword of COMPAT.md §5.3 to its code.
var legacyCheckCodes = map[string]int{
	"nologin": checks.CodeNologin, "tmpfull": checks.CodeTmpFull, "xsessions": checks.CodeNoop,
	"swapping": checks.CodeNoop, "swaping": checks.CodeNoop, "sshdaemon": checks.CodeSSHDaemon,
	"webdaemon": checks.CodeWebDaemon, "ftpdaemon": checks.CodeFTPDaemon,
	"gridftpdaemon": checks.CodeGridFTPDaemon, "daemon": checks.CodeDaemon, "afs": checks.CodeAFS,
	"lemon": checks.CodeLemon, "roger": checks.CodeRoger, "command": checks.CodeCommand,
	"collectd": checks.CodeCollectd, "collectd_alarms": checks.CodeCollectd, "eos": checks.CodeEOS,
	"reboot": checks.CodeReboot, "constant": checks.CodeConstant, "lemonload": checks.CodeLemon,
	"collectdload": checks.CodeCollectd,
}

// legacyLoadCodes maps each load type to its code.
var legacyLoadCodes = map[string]int{
	"constant": checks.CodeConstant, "collectd": checks.CodeCollectd, "lemon": checks.CodeLemon,
}

// LegacyLine is one parsed, non-blank, non-comment line of a legacy file.
type LegacyLine struct {
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

// ParseLegacyLine parses one line (without its "\n"; a trailing "\r" is
// accepted with a warning). ok is false for blank and comment lines.
// The grammar is COMPAT.md §5.2: "check <keyword> [args]" or
// "load constant|collectd|lemon <args>", case-insensitive, words separated
// by any run of blanks (the existing CERN lbclient wants exactly one space
// and no leading blank or CR; such lines are accepted with a warning, D7).
// timeout is the Spec.Timeout given to every check (0: the checks'
// defaults). The check is built (not run) when the line is valid.
func ParseLegacyLine(text string, timeout time.Duration) (l LegacyLine, ok bool) {
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
	// fail records a configuration error; metric is the (negative) answer.
	fail := func(metric int, format string, a ...any) (LegacyLine, bool) {
		l.Code, l.Err, l.Check = metric, fmt.Errorf(format, a...), nil
		return l, true
	}
	switch kind {
	case "check":
		code, known := legacyCheckCodes[kw]
		switch {
		case kw == "":
			return fail(LegacyConfigError, "unable to parse %q: \"check\" without a keyword", trimmed)
		case !known:
			return fail(LegacyConfigError, "unable to parse %q: unknown check keyword %q", trimmed, w2)
		case kw == "constant":
			return fail(-code, "\"check constant\" is not valid, only \"load constant <value>\"")
		case legacyNoArgs[kw] && args != "":
			l.Warnings = append(l.Warnings, fmt.Sprintf("check %s takes no argument: %q ignored", kw, args))
			args = ""
		}
		var err error
		if kw == "command" {
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
			return fail(-code, "%v", err)
		}
	case "load":
		code, known := legacyLoadCodes[kw]
		switch {
		case kw == "":
			return fail(LegacyConfigError, "unable to parse %q: \"load\" without a type", trimmed)
		case !known:
			return fail(LegacyConfigError, "unable to parse %q: unknown load type %q (want constant, collectd or lemon)", trimmed, w2)
		case kw == "constant":
			// the third token only, as the existing CERN lbclient reads it
			v, more := cutWord(args)
			if more != "" {
				l.Warnings = append(l.Warnings, fmt.Sprintf("load constant: text after the value ignored: %q", more))
			}
			args = v
		}
		l.Load = true
		l.Spec.Data = args
		var err error
		if l.Check, err = checks.NewLoad(l.Spec); err != nil {
			return fail(-code, "%v", err)
		}
	default:
		return fail(LegacyConfigError, "unable to parse %q: a line must start with \"check\" or \"load\"", trimmed)
	}
	return l, true
}

// cutWord splits s (no leading blank) at its first run of blanks.
func cutWord(s string) (word, rest string) {
	i := strings.IndexAny(s, " \t\v\f\r")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimLeft(s[i:], " \t\v\f\r")
}

// LegacyFile is one parsed legacy mapping file.
type LegacyFile struct {
	Path  string
	Alias string // "" for the default file
	Lines []LegacyLine
	// Err is set when the file could not be read; Code is then
	// LegacyConfigError.
	Err error
}

// firstError returns the first erroneous line, or nil.
func (f *LegacyFile) firstError() *LegacyLine {
	for i := range f.Lines {
		if f.Lines[i].Err != nil {
			return &f.Lines[i]
		}
	}
	return nil
}

// LegacyProblem is a warning or error found while reading the directory.
type LegacyProblem struct {
	Error bool // false: warning
	File  string
	Line  int // 0: the whole file
	Msg   string
}

func (p LegacyProblem) String() string {
	lvl := "warning"
	if p.Error {
		lvl = "error"
	}
	loc := p.File
	if p.Line > 0 {
		loc += ":" + strconv.Itoa(p.Line)
	}
	return fmt.Sprintf("%s: %s: %s", loc, lvl, p.Msg)
}

// LegacyConfig is a legacy configuration directory read into a Config.
type LegacyConfig struct {
	// Config holds the mappings (alias files in walk order, then the
	// default mapping if it serves at least one alias) and the aliases in
	// answer order; the evaluator runs it like a TOML configuration.
	*Config
	Dir string
	// Listed are the aliases of lbaliases, in file order.
	Listed []string
	// Default is the default file (nil when there is none).
	Default *LegacyFile
	// Files are the alias files, in mapping order.
	Files    []*LegacyFile
	Problems []LegacyProblem
	// unusable is set when nothing can be served because the directory
	// or lbaliases could not be read and no alias file exists: the answer
	// is then the INTEGER LegacyConfigError, not an empty string.
	unusable bool
}

// HasErrors reports whether any problem is an error.
func (lc *LegacyConfig) HasErrors() bool {
	for _, p := range lc.Problems {
		if p.Error {
			return true
		}
	}
	return false
}

// Log writes every problem to log: errors at Error, warnings at Warn.
func (lc *LegacyConfig) Log(log logrus.FieldLogger) {
	if log == nil {
		return
	}
	for _, p := range lc.Problems {
		f := log.WithField("file", p.File)
		if p.Line > 0 {
			f = f.WithField("line", p.Line)
		}
		if p.Error {
			f.Error("legacy configuration: " + p.Msg)
		} else {
			f.Warn("legacy configuration: " + p.Msg)
		}
	}
}

// Compose builds the answer with the legacy rule (COMPAT.md §5.7, see
// ComposeLegacy).
func (lc *LegacyConfig) Compose(loads []AliasLoad) agent.Value {
	if lc.unusable {
		return agent.Value{Int: LegacyConfigError}
	}
	return ComposeLegacy(len(lc.Mappings()), loads)
}

// ComposeLegacy is the legacy output composition (COMPAT.md §5.7): exactly
// one mapping → INTEGER, that mapping's metric (loads[0]), even if it serves
// several aliases; zero or ≥ 2 mappings → OCTET STRING "alias=metric,..."
// over loads in order (empty for none). It differs from Compose (the TOML
// rule: exactly one alias → INTEGER) only for one mapping serving several
// aliases.
func ComposeLegacy(mappings int, loads []AliasLoad) agent.Value {
	if mappings == 1 && len(loads) > 0 {
		return agent.Value{Int: clamp32(loads[0].Metric)}
	}
	return agent.Value{IsString: true, Str: joinLoads(loads)}
}

// LegacyOptions tune LoadLegacy.
type LegacyOptions struct {
	// Root is [agent] root: the file-system root checks read under
	// (default "/").
	Root string
	// Interval is the evaluation period of pass_persist (default
	// DefaultInterval).
	Interval time.Duration
	// Timeout is every line's Spec.Timeout; 0 leaves each check's default
	// (3 s; the existing CERN lbclient allowed 30 s per line, which does not
	// fit a pass-mode answer within 10 s).
	Timeout time.Duration
}

// LoadLegacy reads a legacy configuration directory (COMPAT.md §5.1):
// <dir>/lbaliases (lines "lbalias=<alias>", blanks tolerated, other lines
// ignored), and, walking dir recursively in lexical order, every file named
// lbclient.conf (the default mapping; a later duplicate wins, with a
// warning) and lbclient.conf.<alias> for any alias name (D18; a later
// duplicate for the same alias wins, with a warning; editor and package
// manager leftovers such as .rpmnew, .bak, ~ are skipped with a warning).
//
// It never fails: every problem is in Problems, and a configuration error
// makes the affected mapping report a negative code for its own aliases
// only (D6): the code of the first erroneous line (see ParseLegacyLine and
// LegacyConfigError), replacing the mapping's evaluation. A missing default
// file for listed aliases gives those aliases LegacyConfigError. A
// missing lbaliases or directory leaves no listed alias: only alias files
// are served, and with none of them the answer is the INTEGER
// LegacyConfigError (an explicit code, never an empty answer; the problem is
// an error). An lbaliases listing no alias with no alias file is the
// zero-mapping case of COMPAT.md §5.7: the empty STRING.
func LoadLegacy(dir string, opts LegacyOptions) *LegacyConfig {
	lc := &LegacyConfig{Config: Defaults(), Dir: dir}
	cfg := lc.Config
	cfg.File = dir
	if opts.Root != "" {
		cfg.Agent.Root = opts.Root
	}
	cfg.interval = DefaultInterval
	if opts.Interval > 0 {
		cfg.interval = opts.Interval
	}
	cfg.Agent.Interval = cfg.interval.String()
	problem := func(isErr bool, file string, line int, format string, a ...any) {
		lc.Problems = append(lc.Problems, LegacyProblem{Error: isErr, File: file, Line: line, Msg: fmt.Sprintf(format, a...)})
	}

	var listErr bool
	lc.Listed, listErr = readLbaliases(filepath.Join(dir, LegacyAliasesFile), problem)

	// walk
	var files []*LegacyFile
	var defaults []string
	visited := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		visited++
		if visited > legacyMaxWalkBudget {
			return fmt.Errorf("more than %d entries, walk stopped", legacyMaxWalkBudget)
		}
		if err != nil {
			if p == dir {
				return err
			}
			problem(false, p, 0, "not read: %v", err)
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() { // a symbolic link counts if it leads to a regular file
			if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
				return nil
			}
		}
		base := d.Name()
		switch {
		case base == LegacyDefaultFile:
			defaults = append(defaults, p)
		case strings.HasPrefix(base, legacyAliasPrefix) && len(base) > len(legacyAliasPrefix):
			alias := strings.TrimPrefix(base, legacyAliasPrefix)
			if why := badLegacyAlias(alias); why != "" {
				problem(false, p, 0, "skipped: %s", why)
				return nil
			}
			files = append(files, &LegacyFile{Path: p, Alias: alias})
		}
		return nil
	})
	if err != nil {
		problem(true, dir, 0, "legacy configuration directory: %v", err)
	}

	// per-alias files: a later file for the same alias wins
	seen := map[string]int{}
	for _, f := range files {
		k := canonical(f.Alias)
		if i, dup := seen[k]; dup {
			problem(false, f.Path, 0, "alias %s also configured by %s: this later file wins", f.Alias, lc.Files[i].Path)
			lc.Files = append(lc.Files[:i], lc.Files[i+1:]...)
			for kk, j := range seen {
				if j > i {
					seen[kk] = j - 1
				}
			}
		}
		seen[k] = len(lc.Files)
		lc.Files = append(lc.Files, f)
	}
	listed := map[string]bool{}
	for _, a := range lc.Listed {
		listed[canonical(a)] = true
	}
	for _, f := range lc.Files {
		if !listed[canonical(f.Alias)] {
			problem(false, f.Path, 0, "alias %s is not listed in %s; served anyway, as the existing CERN lbclient does",
				f.Alias, LegacyAliasesFile)
		}
		readLegacyFile(f, opts.Timeout, problem)
		m := &Mapping{Name: f.Alias, Aliases: []string{f.Alias}, Steps: legacySteps(f)}
		cfg.mappings = append(cfg.mappings, m)
		cfg.aliases = append(cfg.aliases, f.Alias)
	}

	// default mapping
	for i, p := range defaults {
		if i > 0 {
			problem(false, p, 0, "duplicate default file (also %s): this later file wins", defaults[i-1])
		}
	}
	if len(defaults) > 0 {
		lc.Default = &LegacyFile{Path: defaults[len(defaults)-1]}
		readLegacyFile(lc.Default, opts.Timeout, problem)
	}
	def := &Mapping{Default: true}
	for _, a := range lc.Listed {
		if _, own := seen[canonical(a)]; !own {
			def.Aliases = append(def.Aliases, a)
		}
	}
	if len(def.Aliases) > 0 {
		if lc.Default == nil {
			msg := fmt.Sprintf("no default %s in %s for aliases without their own file: %s", LegacyDefaultFile, dir,
				strings.Join(def.Aliases, ", "))
			problem(true, filepath.Join(dir, LegacyDefaultFile), 0, "%s (they report %d)", msg, LegacyConfigError)
			def.Steps = []Step{errorStep(filepath.Join(dir, LegacyDefaultFile), LegacyConfigError, msg)}
		} else {
			def.Steps = legacySteps(lc.Default)
		}
		cfg.mappings = append(cfg.mappings, def)
		cfg.aliases = append(cfg.aliases, def.Aliases...)
	} else if lc.Default != nil && len(lc.Listed) > 0 {
		problem(false, lc.Default.Path, 0, "every listed alias has its own file: the default file is not used")
	}
	// The legacy rule: one mapping answers an INTEGER (COMPAT.md §5.7).
	cfg.Composer = lc.Compose
	if len(cfg.mappings) == 0 && (listErr || err != nil) {
		lc.unusable = true
		problem(true, dir, 0, "no alias is configured (%s unreadable and no %s<alias> file): the answer is %d",
			LegacyAliasesFile, legacyAliasPrefix, LegacyConfigError)
	} else if len(cfg.mappings) == 0 {
		problem(true, dir, 0, "no alias is configured (no listed alias and no %s<alias> file): the answer is an empty string",
			legacyAliasPrefix)
	}
	return lc
}

// badLegacyAlias says why name (from lbclient.conf.<name>) is not an alias.
func badLegacyAlias(name string) string {
	lower := strings.ToLower(name)
	for _, suf := range []string{"~", ".rpmnew", ".rpmsave", ".rpmorig", ".dpkg-old", ".dpkg-new", ".dpkg-dist",
		".dpkg-bak", ".bak", ".orig", ".old", ".swp", ".tmp", ".save"} {
		if strings.HasSuffix(lower, suf) {
			return fmt.Sprintf("looks like a backup or package-manager file (%s)", suf)
		}
	}
	if strings.HasPrefix(name, ".") || strings.HasSuffix(name, "..") {
		return fmt.Sprintf("%q is not an alias name", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return fmt.Sprintf("%q is not an alias name (letters, digits, '.', '-', '_')", name)
		}
	}
	return ""
}

// readLbaliases reads the "lbalias=<alias>" lines of file.
func readLbaliases(file string, problem func(bool, string, int, string, ...any)) (aliases []string, unreadable bool) {
	data, err := readLimited(file)
	if err != nil {
		problem(true, file, 0, "%v: no alias is listed", err)
		return nil, true
	}
	var out []string
	seen := map[string]int{}
	for i, line := range strings.Split(string(data), "\n") {
		s := strings.TrimLeft(line, " \t\r\v\f")
		if !strings.HasPrefix(s, "lbalias") {
			continue
		}
		s = strings.TrimLeft(strings.TrimPrefix(s, "lbalias"), " \t\v\f")
		if !strings.HasPrefix(s, "=") {
			continue
		}
		v, _ := cutWord(strings.TrimLeft(strings.TrimPrefix(s, "="), " \t\v\f\r"))
		v = strings.TrimRight(v, "\r")
		switch {
		case v == "":
			problem(false, file, i+1, "lbalias= without a name: ignored")
		case strings.ContainsAny(v, ",=#\""):
			problem(true, file, i+1, "%q is not an alias name (it cannot contain ',', '=', '#' or '\"'): ignored", v)
		default:
			if j, dup := seen[canonical(v)]; dup {
				problem(false, file, i+1, "alias %s listed again (first on line %d): ignored", v, j)
				continue
			}
			seen[canonical(v)] = i + 1
			out = append(out, v)
		}
	}
	return out, false
}

func readLimited(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, legacyMaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > legacyMaxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", file, legacyMaxFileSize)
	}
	return data, nil
}

// ParseLegacyFile parses the content of one mapping file.
func ParseLegacyFile(path string, data []byte, timeout time.Duration) []LegacyLine {
	var out []LegacyLine
	lines := strings.Split(string(data), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i, text := range lines {
		l, ok := ParseLegacyLine(text, timeout)
		if !ok {
			continue
		}
		l.File, l.Line = path, i+1
		out = append(out, l)
	}
	return out
}

// readLegacyFile reads and parses f, reporting its problems.
func readLegacyFile(f *LegacyFile, timeout time.Duration, problem func(bool, string, int, string, ...any)) {
	data, err := readLimited(f.Path)
	if err != nil {
		f.Err = err
		problem(true, f.Path, 0, "%v (its aliases report %d)", err, LegacyConfigError)
		return
	}
	f.Lines = ParseLegacyFile(f.Path, data, timeout)
	crlf := 0
	for _, l := range f.Lines {
		for _, w := range l.Warnings {
			if strings.HasPrefix(w, "CRLF") {
				crlf++
				continue
			}
			problem(false, f.Path, l.Line, "%s", w)
		}
		if l.Err != nil {
			problem(true, f.Path, l.Line, "%v (the mapping reports %d)", l.Err, l.Code)
		}
	}
	if crlf > 0 {
		problem(false, f.Path, 0, "%d line(s) end with CRLF (accepted; the existing CERN lbclient rejects them)", crlf)
	}
}

// legacySteps turns a parsed file into steps; a file with an error becomes
// one step failing with the first error's code.
func legacySteps(f *LegacyFile) []Step {
	if f.Err != nil {
		return []Step{errorStep(f.Path, LegacyConfigError, f.Err.Error())}
	}
	if l := f.firstError(); l != nil {
		return []Step{errorStep(fmt.Sprintf("%s:%d", l.File, l.Line), l.Code, l.Err.Error())}
	}
	steps := make([]Step, 0, len(f.Lines))
	for _, l := range f.Lines {
		steps = append(steps, Step{Key: fmt.Sprintf("%s:%d", l.File, l.Line), Spec: l.Spec, Check: l.Check, Load: l.Load})
	}
	return steps
}

// errorStep is a step that always fails hard with code (negative).
func errorStep(key string, code int, msg string) Step {
	reason := "configuration error: " + msg
	return Step{Key: key, Spec: checks.Spec{Type: "configuration-error", Data: msg},
		Check: checks.CheckFunc(func(context.Context, checks.Env) checks.Result {
			return checks.Result{Code: -code, Hard: true, Reason: reason}
		})}
}
