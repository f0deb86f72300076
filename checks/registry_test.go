package checks

import (
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
