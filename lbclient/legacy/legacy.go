package legacy

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sirupsen/logrus"

	"github.com/lbd-project/lbd/lbclient"
)

// Legacy configuration (docs/protocol.md §5): a directory holding lbaliases, a
// default lbclient.conf and per-alias lbclient.conf.<alias> files, read into
// an lbclient.Plan and compiled like the TOML configuration, so that the same
// evaluator serves both. See Load.

// Legacy file names.
const (
	DefaultDir    = "/usr/local/etc"
	AliasesFile   = "lbaliases"
	DefaultFile   = "lbclient.conf"
	aliasPrefix   = DefaultFile + "."
	maxFileSize   = 1 << 20 // larger files are configuration errors
	maxWalkBudget = 100000  // directory entries visited at most
)

// ConfigError is the code (our own, outside docs/protocol.md's 1..19) a
// mapping reports when one of its lines cannot be attributed to a check:
// an unknown keyword, a line that is neither "check ..." nor "load ...", an
// unknown load type, an unreadable file, or (for the default mapping) a
// listed alias whose default lbclient.conf is missing. A line whose
// keyword is known but whose arguments are invalid reports that keyword's
// code instead (e.g. -17 for bad daemon JSON, -16 for a bad constant,
// -14 for an empty command). "check constant" is an unknown check keyword
// (constant exists only as "load constant", docs/protocol.md §5.3): it
// reports ConfigError.
const ConfigError = lbclient.ConfigError

// File is one parsed legacy mapping file.
type File struct {
	Path  string
	Alias string // "" for the default file
	Lines []Line
	// Err is set when the file could not be read; Code is then
	// ConfigError.
	Err error
}

// firstError returns the first erroneous line, or nil.
func (f *File) firstError() *Line {
	for i := range f.Lines {
		if f.Lines[i].Err != nil {
			return &f.Lines[i]
		}
	}
	return nil
}

// Problem is a warning or error found while reading the directory.
type Problem struct {
	Error bool // false: warning
	File  string
	Line  int // 0: the whole file
	Msg   string
}

func (p Problem) String() string {
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

// Config is a legacy configuration directory, read (Plan) and compiled
// (Compiled) through the same path as a TOML configuration.
type Config struct {
	// Compiled holds the mappings (alias files in walk order, then the
	// default mapping if it serves at least one alias) and the aliases in
	// answer order, composed with the legacy rule (lbclient.PerMapping:
	// docs/protocol.md §5.7); the evaluator runs it like a TOML configuration.
	*lbclient.Compiled
	// Plan is what the directory means, as data; Compiled is
	// lbclient.Compile(Plan).
	Plan *lbclient.Plan
	Dir  string
	// Listed are the aliases of lbaliases, in file order.
	Listed []string
	// Default is the default file (nil when there is none).
	Default *File
	// Files are the alias files, in mapping order.
	Files    []*File
	Problems []Problem
}

// HasErrors reports whether any problem is an error.
func (lc *Config) HasErrors() bool {
	for _, p := range lc.Problems {
		if p.Error {
			return true
		}
	}
	return false
}

// Log writes every problem to log: errors at Error, warnings at Warn.
func (lc *Config) Log(log logrus.FieldLogger) {
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

// Options tune Load.
type Options struct {
	// Root is [agent] root: the file-system root checks read under
	// (default "/").
	Root string
	// Interval is the evaluation period of pass_persist (default
	// lbclient.DefaultInterval).
	Interval time.Duration
	// Timeout is every line's Spec.Timeout; 0 means LineTimeout, the
	// existing lbclient's 30 s per line (docs/protocol.md §5.2 step 2). In
	// pass mode give LineTimeoutWithin(the pass deadline).
	Timeout time.Duration
}

// LineTimeout bounds one legacy line, as in the existing lbclient
// (docs/protocol.md §5.2 step 2): running out of time yields −code.
const LineTimeout = 30 * time.Second

// LineTimeoutWithin is the per-line timeout under an overall deadline
// (lbclient -pass-deadline): LineTimeout, or the deadline when that is
// shorter; deadline ≤ 0 means no deadline. A mapping still running when
// the deadline passes answers CheckHung (lbclient.EvaluateOnce).
func LineTimeoutWithin(deadline time.Duration) time.Duration {
	if deadline > 0 && deadline < LineTimeout {
		return deadline
	}
	return LineTimeout
}

// Load reads a legacy configuration directory (docs/protocol.md §5.1):
// <dir>/lbaliases (lines "lbalias=<alias>", blanks tolerated, other lines
// ignored), and, walking dir recursively in lexical order, every file named
// lbclient.conf (the default mapping; a later duplicate wins, with a
// warning) and lbclient.conf.<alias> for any alias name (D18; a later
// duplicate for the same alias wins, with a warning; editor and package
// manager leftovers such as .rpmnew, .bak, ~ are skipped with a warning).
//
// It never fails: every problem is in Problems, and a configuration error
// makes the affected mapping report a negative code for its own aliases
// only (D6): the code of the first erroneous line (see ParseLine and
// ConfigError), replacing the mapping's evaluation. A missing default
// file for listed aliases gives those aliases ConfigError. A
// missing lbaliases or directory leaves no listed alias: only alias files
// are served, and with none of them the answer is the INTEGER
// ConfigError (an explicit code, never an empty answer; the problem is
// an error). An lbaliases listing no alias with no alias file is the
// zero-mapping case of docs/protocol.md §5.7: the empty STRING.
func Load(dir string, opts Options) *Config {
	if opts.Timeout <= 0 {
		opts.Timeout = LineTimeout
	}
	r := &reader{lc: &Config{Dir: dir}, dir: dir, opts: opts}
	agent := lbclient.Defaults().Agent
	if opts.Root != "" {
		agent.Root = opts.Root
	}
	if opts.Interval > 0 {
		agent.Interval.Duration = opts.Interval
	}
	plan := &lbclient.Plan{File: dir, Agent: agent, Rule: lbclient.PerMapping}
	r.lc.Plan = plan

	var listErr bool
	r.lc.Listed, listErr = readLbaliases(filepath.Join(dir, AliasesFile), r.problem)
	files, defaults, walkErr := r.walk()
	seen := r.aliasFiles(files, plan)
	r.defaultMapping(defaults, seen, plan)
	if len(plan.Mappings) == 0 {
		r.noMapping(listErr || walkErr != nil, plan)
	}
	c, err := lbclient.Compile(plan)
	if err != nil { // not expected: every line was built when parsed
		r.problem(true, dir, 0, "%v", err)
	}
	r.lc.Compiled = c
	return r.lc
}

// reader holds the state of one Load.
type reader struct {
	lc   *Config
	dir  string
	opts Options
}

func (r *reader) problem(isErr bool, file string, line int, format string, a ...any) {
	r.lc.Problems = append(r.lc.Problems, Problem{Error: isErr, File: file, Line: line, Msg: fmt.Sprintf(format, a...)})
}

// walk lists, in lexical order, the alias files and the default files
// under the directory.
func (r *reader) walk() (files []*File, defaults []string, err error) {
	visited := 0
	err = filepath.WalkDir(r.dir, func(p string, d fs.DirEntry, err error) error {
		visited++
		if visited > maxWalkBudget {
			return fmt.Errorf("more than %d entries, walk stopped", maxWalkBudget)
		}
		if err != nil {
			if p == r.dir {
				return err
			}
			r.problem(false, p, 0, "not read: %v", err)
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || !isRegular(p, d) {
			return nil
		}
		base := d.Name()
		switch {
		case base == DefaultFile:
			defaults = append(defaults, p)
		case strings.HasPrefix(base, aliasPrefix) && len(base) > len(aliasPrefix):
			alias := strings.TrimPrefix(base, aliasPrefix)
			if why := badAlias(alias); why != "" {
				r.problem(false, p, 0, "skipped: %s", why)
				return nil
			}
			files = append(files, &File{Path: p, Alias: alias})
		}
		return nil
	})
	if err != nil {
		r.problem(true, r.dir, 0, "legacy configuration directory: %v", err)
	}
	return files, defaults, err
}

// isRegular reports whether d is a regular file; a symbolic link counts if
// it leads to one.
func isRegular(p string, d fs.DirEntry) bool {
	if d.Type().IsRegular() {
		return true
	}
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// aliasFiles keeps the last file of each alias (a later file for the same
// alias wins), reads them and plans their mappings; it returns the
// canonical aliases that have their own file.
func (r *reader) aliasFiles(files []*File, plan *lbclient.Plan) map[string]int {
	lc := r.lc
	seen := map[string]int{}
	for _, f := range files {
		k := canonical(f.Alias)
		if i, dup := seen[k]; dup {
			r.problem(false, f.Path, 0, "alias %s also configured by %s: this later file wins", f.Alias, lc.Files[i].Path)
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
			r.problem(false, f.Path, 0, "alias %s is not listed in %s; served anyway, as the existing CERN lbclient does",
				f.Alias, AliasesFile)
		}
		readFile(f, r.opts.Timeout, r.problem)
		plan.Mappings = append(plan.Mappings, lbclient.MappingPlan{Name: f.Alias, Aliases: []string{f.Alias}, Steps: planSteps(f)})
		plan.Aliases = append(plan.Aliases, f.Alias)
	}
	return seen
}

// defaultMapping reads the default file (the last of defaults) and plans
// the default mapping for the listed aliases without a file of their own.
func (r *reader) defaultMapping(defaults []string, own map[string]int, plan *lbclient.Plan) {
	lc := r.lc
	for i, p := range defaults {
		if i > 0 {
			r.problem(false, p, 0, "duplicate default file (also %s): this later file wins", defaults[i-1])
		}
	}
	if len(defaults) > 0 {
		lc.Default = &File{Path: defaults[len(defaults)-1]}
		readFile(lc.Default, r.opts.Timeout, r.problem)
	}
	def := lbclient.MappingPlan{Default: true}
	for _, a := range lc.Listed {
		if _, ok := own[canonical(a)]; !ok {
			def.Aliases = append(def.Aliases, a)
		}
	}
	switch {
	case len(def.Aliases) > 0 && lc.Default == nil:
		file := filepath.Join(r.dir, DefaultFile)
		msg := fmt.Sprintf("no default %s in %s for aliases without their own file: %s", DefaultFile, r.dir,
			strings.Join(def.Aliases, ", "))
		r.problem(true, file, 0, "%s (they report %d)", msg, ConfigError)
		def.Steps = []lbclient.StepPlan{failure(file, ConfigError, msg)}
	case len(def.Aliases) > 0:
		def.Steps = planSteps(lc.Default)
	case lc.Default != nil && len(lc.Listed) > 0:
		r.problem(false, lc.Default.Path, 0, "every listed alias has its own file: the default file is not used")
	}
	if len(def.Aliases) > 0 {
		plan.Mappings = append(plan.Mappings, def)
		plan.Aliases = append(plan.Aliases, def.Aliases...)
	}
}

// noMapping handles a directory that configures no alias. When the
// directory or lbaliases could not be read nothing can be served: the
// answer is then the INTEGER ConfigError, not an empty string (an error).
// An lbaliases that lists no alias is only a warning.
func (r *reader) noMapping(unreadable bool, plan *lbclient.Plan) {
	if unreadable {
		plan.Rule = lbclient.AlwaysConfigError
		r.problem(true, r.dir, 0, "no alias is configured (%s unreadable and no %s<alias> file): the answer is %d",
			AliasesFile, aliasPrefix, ConfigError)
		return
	}
	// Not an error: the existing lbclient accepts it and answers the empty
	// STRING, which lbd reads as load 100000 (docs/protocol.md §5.7); the
	// node serves no alias until one is listed.
	r.problem(false, r.dir, 0, "no alias is configured (%s lists none and no %s<alias> file): "+
		"the answer is an empty string, which lbd reads as load 100000", AliasesFile, aliasPrefix)
}

// badAlias says why name (from lbclient.conf.<name>) is not an alias.
func badAlias(name string) string {
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
		if t := strings.TrimSpace(s); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if !strings.HasPrefix(s, "lbalias") {
			problem(false, file, i+1, "%s: not an lbalias=NAME line: ignored", describeLine(s))
			continue
		}
		s = strings.TrimLeft(strings.TrimPrefix(s, "lbalias"), " \t\v\f")
		if !strings.HasPrefix(s, "=") {
			problem(false, file, i+1, "%s: not an lbalias=NAME line: ignored", describeLine(line))
			continue
		}
		v, rest := cutWord(strings.TrimLeft(strings.TrimPrefix(s, "="), " \t\v\f\r"))
		v = strings.TrimRight(v, "\r")
		rest = strings.TrimSpace(rest)
		switch {
		case v == "":
			problem(false, file, i+1, "lbalias= without a name: ignored")
		case rest != "" && !strings.HasPrefix(rest, "#"):
			problem(true, file, i+1, "%q is not an alias name (it contains blanks): ignored", strings.TrimSpace(strings.TrimPrefix(s, "=")))
		case strings.ContainsAny(v, ",=#\""):
			problem(true, file, i+1, "%q is not an alias name (it cannot contain ',', '=', '#' or '\"'): ignored", v)
		case !validDNSName(v):
			problem(true, file, i+1, "%q is not a valid DNS name (labels of letters, digits, '-' and '_', at most 63 characters each, 253 in all): ignored", v)
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

// describeLine quotes a line for a report, or says it is binary.
func describeLine(s string) string {
	for _, r := range s {
		if r == utf8.RuneError || r < 0x20 && r != '\t' && r != '\r' {
			return "a line with binary bytes"
		}
	}
	if len(s) > 60 {
		s = s[:60] + "…"
	}
	return strconv.Quote(strings.TrimRight(s, "\r"))
}

// validDNSName reports whether s is a DNS name lbd can manage (RFC 1035
// §2.3.4 lengths; letters, digits, '-' and '_' in labels).
func validDNSName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 {
			return false
		}
		for _, r := range l {
			if !(r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				return false
			}
		}
	}
	return true
}

func readLimited(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", file, maxFileSize)
	}
	return data, nil
}

// ParseFile parses the content of one mapping file.
func ParseFile(path string, data []byte, timeout time.Duration) []Line {
	var out []Line
	lines := strings.Split(string(data), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i, text := range lines {
		l, ok := ParseLine(text, timeout)
		if !ok {
			continue
		}
		l.File, l.Line = path, i+1
		out = append(out, l)
	}
	return out
}

// readFile reads and parses f, reporting its problems.
func readFile(f *File, timeout time.Duration, problem func(bool, string, int, string, ...any)) {
	data, err := readLimited(f.Path)
	if err != nil {
		f.Err = err
		problem(true, f.Path, 0, "%v (its aliases report %d)", err, ConfigError)
		return
	}
	f.Lines = ParseFile(f.Path, data, timeout)
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

// planSteps turns a parsed file into steps; a file with an error becomes
// one step failing with the first error's code.
func planSteps(f *File) []lbclient.StepPlan {
	if f.Err != nil {
		return []lbclient.StepPlan{failure(f.Path, ConfigError, f.Err.Error())}
	}
	if l := f.firstError(); l != nil {
		return []lbclient.StepPlan{failure(fmt.Sprintf("%s:%d", l.File, l.Line), l.Code, l.Err.Error())}
	}
	steps := make([]lbclient.StepPlan, 0, len(f.Lines))
	for _, l := range f.Lines {
		steps = append(steps, lbclient.StepPlan{Key: fmt.Sprintf("%s:%d", l.File, l.Line), Spec: l.Spec, Load: l.Load})
	}
	return steps
}

// failure is a step that always fails hard with metric (negative).
func failure(key string, metric int, msg string) lbclient.StepPlan {
	return lbclient.StepPlan{Key: key, Failure: &lbclient.Failure{Metric: metric, Msg: msg}}
}

// canonical is the comparison form of an alias name.
func canonical(name string) string { return strings.TrimSuffix(strings.ToLower(name), ".") }
