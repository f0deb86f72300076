package lbd

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/internal/testenv/snmpagent"
	"github.com/lbd-project/lbd/lbclient/agent"
	"github.com/lbd-project/lbd/lbd/config"
)

// The members' SNMPv3 engines outlive a reload (the new poller takes the
// old one's) and a restart (state_dir/snmp-engines, written when -once or
// Run ends, read by New); an unreadable file is ignored.
func TestEnginesKeptAcrossReloadAndRestart(t *testing.T) {
	port := testenv.FreePort(t, "127.0.0.1")
	snmpagent.Start(t, "127.0.0.1", port, agent.Config{
		Users:    []agent.User{{Name: "loadbalancing", AuthProtocol: "md5", AuthPassword: "12345678"}},
		EngineID: agent.EngineIDFor("keep"), Boots: 1}, agent.Value{Int: 7})
	state := t.TempDir()
	src := quickConfigSNMP(t, port)
	src = replaceOnce(t, src, "version = \"2c\"\ncommunity = \"public\"\n", "version = \"3\"\nauth_password = \"12345678\"\n")
	src = replaceOnce(t, src, "[lbd]\n", "[lbd]\nstate_dir = "+strconv.Quote(state)+"\n")
	src = replaceOnce(t, src, "members = [\"m.example.org\"]", "members = [\"127.0.0.1\"]")
	cfg, err := config.Parse("d.toml", []byte(src))
	require.NoError(t, err)
	engines := func(d *Daemon) int {
		d.mu.Lock()
		defer d.mu.Unlock()
		return len(d.poller.(engineKeeper).Engines())
	}

	d := daemonFor(t, cfg)
	assert.Zero(t, engines(d))
	d.Once(context.Background()) // DNS fails (closed port); the poll does not
	assert.Equal(t, 1, engines(d))
	b, err := os.ReadFile(filepath.Join(state, EngineFile))
	require.NoError(t, err, "saved when -once ends")
	assert.Contains(t, string(b), "127.0.0.1:"+strconv.Itoa(port)+" ")

	require.NoError(t, d.SetConfig(cfg))
	assert.Equal(t, 1, engines(d), "a reload keeps the engines")

	assert.Equal(t, 1, engines(daemonFor(t, cfg)), "a restart reads them")

	require.NoError(t, os.WriteFile(filepath.Join(state, EngineFile), []byte("garbage\n"), 0o640))
	assert.Zero(t, engines(daemonFor(t, cfg)), "an unreadable file: discovered again")
}

func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	require.Contains(t, s, old)
	return strings.Replace(s, old, new, 1)
}
