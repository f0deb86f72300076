package checks

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tables the registry replaced (lbclient's aliasFree and the legacy
// parser's legacyNoArgs, legacyCheckCodes, legacyLoadCodes): the entries
// must still give exactly these facts.
func TestRegistryFacts(t *testing.T) {
	aliasFree := []string{"tmpfull", "xsessions", "swapping", "swaping", "sshdaemon", "webdaemon", "ftpdaemon",
		"gridftpdaemon", "daemon", "afs", "roger", "command", "collectd", "collectd_alarms", "eos", "reboot", "lemon",
		"lemonload", "collectdload"}
	noArgs := []string{"nologin", "tmpfull", "xsessions", "swapping", "swaping", "sshdaemon", "webdaemon", "ftpdaemon",
		"gridftpdaemon", "afs", "roger", "eos", "reboot", "lemonload", "collectdload"}
	checkCodes := map[string]int{
		"nologin": CodeNologin, "tmpfull": CodeTmpFull, "xsessions": CodeNoop, "swapping": CodeNoop, "swaping": CodeNoop,
		"sshdaemon": CodeSSHDaemon, "webdaemon": CodeWebDaemon, "ftpdaemon": CodeFTPDaemon,
		"gridftpdaemon": CodeGridFTPDaemon, "daemon": CodeDaemon, "afs": CodeAFS, "lemon": CodeLemon, "roger": CodeRoger,
		"command": CodeCommand, "collectd": CodeCollectd, "collectd_alarms": CodeCollectd, "eos": CodeEOS,
		"reboot": CodeReboot, "lemonload": CodeLemon, "collectdload": CodeCollectd,
	}
	loadCodes := map[string]int{"constant": CodeConstant, "collectd": CodeCollectd, "lemon": CodeLemon}

	var gotFree, gotNoArgs []string
	gotCodes := map[string]int{}
	for _, name := range CheckNames() {
		e, ok := Lookup(name)
		require.True(t, ok, name)
		if !e.ReadsAlias {
			gotFree = append(gotFree, name)
		}
		if e.LegacyNoArgs() {
			gotNoArgs = append(gotNoArgs, name)
		}
		le, ok := LookupLegacy(KindCheck, e.Keyword())
		require.True(t, ok, name)
		gotCodes[le.Keyword()] = le.LegacyErrorCode()
	}
	assert.ElementsMatch(t, aliasFree, gotFree, "checks whose result does not depend on the alias")
	assert.ElementsMatch(t, noArgs, gotNoArgs, "legacy keywords taking no argument")
	assert.Equal(t, checkCodes, gotCodes, "legacy check codes")

	gotLoads := map[string]int{}
	for _, name := range LoadNames() {
		e, ok := LookupLoad(name)
		require.True(t, ok, name)
		assert.False(t, e.ReadsAlias, name)
		gotLoads[e.Keyword()] = e.LegacyErrorCode()
	}
	assert.Equal(t, loadCodes, gotLoads, "legacy load codes")

	e, ok := Lookup("NoLogin")
	require.True(t, ok, "lookup ignores case")
	assert.Equal(t, "nologin", e.Name)
	_, ok = Lookup("constant")
	assert.False(t, ok, "constant is a load only")
}

func TestWatchPaths(t *testing.T) {
	root := "/r"
	paths := func(name string, env Env) []string {
		e, ok := Lookup(name)
		if !ok || e.WatchPaths == nil {
			t.Fatalf("%s: no WatchPaths", name)
		}
		return e.WatchPaths(Spec{Type: name}, env)
	}
	if got, want := paths("nologin", Env{Root: root}), []string{"/r/etc/nologin", "/r/etc/iss.nologin"}; !slices.Equal(got, want) {
		t.Errorf("nologin default: %q, want %q", got, want)
	}
	if got, want := paths("nologin", Env{Root: root, Alias: "a"}), []string{"/r/etc/nologin", "/r/etc/iss.nologin.a"}; !slices.Equal(got, want) {
		t.Errorf("nologin alias: %q, want %q", got, want)
	}
	if got, want := paths("roger", Env{Root: root}), []string{"/r/etc/roger/current.yaml"}; !slices.Equal(got, want) {
		t.Errorf("roger: %q, want %q", got, want)
	}
	if got, want := paths("reboot", Env{Root: root}), []string{"/r/run/systemd/shutdown/scheduled"}; !slices.Equal(got, want) {
		t.Errorf("reboot: %q, want %q", got, want)
	}
	if e, _ := Lookup("sshdaemon"); e.WatchPaths != nil {
		t.Error("sshdaemon is not file-driven")
	}
}
