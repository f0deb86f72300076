package checks

import (
	"sort"
	"strings"
)

// Args is what a check's or load's Data may hold.
type Args int

// Argument rules.
const (
	// NoArgs: Data is not used (the constructor rejects it or ignores it);
	// the legacy parser drops text after the keyword, with a warning.
	NoArgs Args = iota
	// OptionalArgs: Data may be empty.
	OptionalArgs
	// RequiredArgs: Data is needed (the constructor rejects an empty one).
	RequiredArgs
)

// Kind says whether an entry is a check (New) or a load source (NewLoad).
type Kind int

// Kinds.
const (
	KindCheck Kind = iota
	KindLoad
)

// Entry holds every fact about one check or load source. It is the only
// place a check is registered: New, NewLoad, the names, the engine's
// sharing rule and the legacy parser all read it.
type Entry struct {
	Name string
	Kind Kind
	// New validates a Spec and builds the check.
	New Factory
	// Code is the code (docs/protocol.md §5.3) a failure reports (as -Code).
	Code int
	// ReadsAlias is set when the result depends on Env.Alias: the engine
	// then shares a run only between mappings with the same alias.
	ReadsAlias bool
	// Args is the argument rule.
	Args Args
	// LegacyDropsArgs makes the legacy parser drop the text after the
	// keyword (with a warning) even though Args allows Data.
	LegacyDropsArgs bool
	// LegacyName is the legacy keyword when it differs from Name ("" when
	// it is the same).
	LegacyName string
	// LegacyCode is the code a legacy line of this keyword reports when it
	// differs from Code (0 when it is the same).
	LegacyCode int
	// WatchPaths, for a check whose result depends only on files, lists
	// the files (env.Path(...), under the root) its result reads for spec
	// in env; a file need not exist. The agent watches their directories
	// and re-evaluates the mappings using the check when one changes
	// (lbclient/watch.go); nil: the check is re-evaluated every interval
	// only.
	WatchPaths func(spec Spec, env Env) []string
}

// Keyword is the legacy keyword of the entry.
func (e Entry) Keyword() string {
	if e.LegacyName != "" {
		return e.LegacyName
	}
	return e.Name
}

// LegacyErrorCode is the code a legacy line of this entry reports.
func (e Entry) LegacyErrorCode() int {
	if e.LegacyCode != 0 {
		return e.LegacyCode
	}
	return e.Code
}

// LegacyNoArgs reports whether the legacy parser drops the text after the
// keyword.
func (e Entry) LegacyNoArgs() bool { return e.Args == NoArgs || e.LegacyDropsArgs }

// registry lists every check and load source. A new check is one file (its
// constructor), one entry here and its row in doc.go.
var registry = []Entry{
	{Name: "nologin", New: newNologin, Code: CodeNologin, ReadsAlias: true, WatchPaths: nologinPaths},
	{Name: "tmpfull", New: newTmpFull, Code: CodeTmpFull},
	{Name: "xsessions", New: newNoop, Code: CodeNoop},
	{Name: "swapping", New: newNoop, Code: CodeNoop},
	{Name: "swaping", New: newNoop, Code: CodeNoop},
	{Name: "sshdaemon", New: newPortDaemon(22, CodeSSHDaemon), Code: CodeSSHDaemon},
	{Name: "webdaemon", New: newPortDaemon(80, CodeWebDaemon), Code: CodeWebDaemon},
	{Name: "ftpdaemon", New: newPortDaemon(21, CodeFTPDaemon), Code: CodeFTPDaemon},
	{Name: "gridftpdaemon", New: newPortDaemon(2811, CodeGridFTPDaemon), Code: CodeGridFTPDaemon},
	{Name: "daemon", New: newDaemon, Code: CodeDaemon, Args: RequiredArgs},
	{Name: "afs", New: newAFS, Code: CodeAFS, Args: OptionalArgs, LegacyDropsArgs: true},
	{Name: "roger", New: newRoger, Code: CodeRoger, WatchPaths: rogerPaths},
	{Name: "command", New: newCommand, Code: CodeCommand, Args: RequiredArgs},
	{Name: "collectd", New: newCollectdCheck, Code: CodeCollectd, Args: RequiredArgs},
	{Name: "collectd_alarms", New: newCollectdAlarms, Code: CodeCollectd, Args: RequiredArgs},
	{Name: "eos", New: newEOS, Code: CodeEOS},
	{Name: "reboot", New: newReboot, Code: CodeReboot, WatchPaths: rebootPaths},
	{Name: "lemon", New: newObsolete(CodeLemon), Code: CodeLemon, Args: OptionalArgs},
	{Name: "lemonload", New: newObsolete(CodeLemon), Code: CodeLemon},
	{Name: "collectdload", New: newObsolete(CodeCollectd), Code: CodeCollectd},

	{Name: "constant", Kind: KindLoad, New: newConstant, Code: CodeConstant, Args: RequiredArgs},
	{Name: "collectd", Kind: KindLoad, New: newCollectdLoad, Code: CodeCollectd, Args: RequiredArgs},
	{Name: "lemon", Kind: KindLoad, New: newObsolete(CodeLemon), Code: CodeLemon, Args: OptionalArgs},
}

// index maps kind and lower-case name (and legacy keyword) to an entry.
var index, legacyIndex = func() (byName, byKeyword map[Kind]map[string]Entry) {
	byName = map[Kind]map[string]Entry{KindCheck: {}, KindLoad: {}}
	byKeyword = map[Kind]map[string]Entry{KindCheck: {}, KindLoad: {}}
	for _, e := range registry {
		byName[e.Kind][e.Name] = e
		byKeyword[e.Kind][e.Keyword()] = e
	}
	return byName, byKeyword
}()

// Lookup returns the check named name (any case).
func Lookup(name string) (Entry, bool) { return lookup(index, KindCheck, name) }

// LookupLoad returns the load source named name (any case).
func LookupLoad(name string) (Entry, bool) { return lookup(index, KindLoad, name) }

// LookupLegacy returns the entry of a legacy keyword (any case) of kind.
func LookupLegacy(kind Kind, keyword string) (Entry, bool) { return lookup(legacyIndex, kind, keyword) }

func lookup(m map[Kind]map[string]Entry, kind Kind, name string) (Entry, bool) {
	e, ok := m[kind][strings.ToLower(name)]
	return e, ok
}

// names lists the entries of kind, sorted.
func names(kind Kind) []string {
	var out []string
	for _, e := range registry {
		if e.Kind == kind {
			out = append(out, e.Name)
		}
	}
	sort.Strings(out)
	return out
}
