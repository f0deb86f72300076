package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/lbd/audit"
)

// The audit log has one JSON line per member entering or leaving the
// alias's DNS records, matching what DNS showed, one to one; overrides are
// logged too.
func TestAuditLogMatchesDNS(t *testing.T) {
	agents := startThreeAgents(t)
	n := startNamed(t)
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "127.0.0.1"))
	logPath := filepath.Join(t.TempDir(), "audit.log")
	cfg := writeLBDConfig(t, lbdOpts{Role: "master", Server: n.Addr, SNMPPort: agents[0].Port, HTTP: httpAddr,
		TokenFile: tokenFile(t), AuditLog: logPath,
		Alias: alias, Members: []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}, BestHosts: 2, Polling: "200ms"})
	startLBD(t, "-config", cfg, "-hostname", "master.test")
	a := func() []string { g, _ := published(t, n, alias); return g }
	// The states DNS goes through, each waited for.
	states := [][]string{nil}
	reach := func(want ...string) {
		t.Helper()
		waitFor(t, 15*time.Second, func() bool { return equal(a(), want) })
		states = append(states, want)
	}
	reach("127.0.0.2", "127.0.0.3")
	agents[0].nologin(t, true)
	reach("127.0.0.3", "127.0.0.4")
	agents[0].nologin(t, false)
	reach("127.0.0.2", "127.0.0.3")
	out, errOut, err := runLBD(t, "-config", cfg, "-drain", alias+"/127.0.0.3", "-for", "1h", "-reason", "audit me")
	require.NoError(t, err, "%s\n%s", out, errOut)
	reach("127.0.0.2", "127.0.0.4")
	time.Sleep(500 * time.Millisecond) // the log is written after each cycle

	// The expected member changes, in order.
	type change struct{ member, dir string }
	var want []change
	for i := 1; i < len(states); i++ {
		for _, h := range states[i] {
			if !slices.Contains(states[i-1], h) {
				want = append(want, change{h, "in"})
			}
		}
		for _, h := range states[i-1] {
			if !slices.Contains(states[i], h) {
				want = append(want, change{h, "out"})
			}
		}
	}
	f, err := os.Open(logPath)
	require.NoError(t, err)
	defer f.Close()
	var got []change
	var overrides []audit.Event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e audit.Event
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e), "every line is JSON: %s", sc.Text())
		assert.Equal(t, "master.test", e.Instance)
		assert.Equal(t, "master", e.Role)
		switch e.Event {
		case "member":
			got = append(got, change{e.Member, e.Change})
			assert.Equal(t, alias, e.Alias)
			assert.Equal(t, n.Addr, e.Server)
			assert.NotZero(t, e.Serial, "the zone serial after the update")
			if e.Change == "out" && e.Member == "127.0.0.2" {
				require.NotNil(t, e.NewLoad)
				assert.Equal(t, -1, *e.NewLoad)
				assert.Contains(t, e.Reason, "nologin")
			}
			if e.Change == "out" && e.Member == "127.0.0.3" {
				assert.Equal(t, "override drain", e.Rule)
				assert.Equal(t, "audit me", e.Reason)
			}
		case "override":
			overrides = append(overrides, e)
		}
	}
	require.NoError(t, sc.Err())
	// Member lines of one cycle may come in any order within in/out.
	sortChanges := func(c []change) []string {
		var s []string
		for _, x := range c {
			s = append(s, x.member+" "+x.dir)
		}
		return s
	}
	assert.ElementsMatch(t, sortChanges(want), sortChanges(got), "one line per DNS membership change")
	assert.Equal(t, len(want), len(got))
	require.Len(t, overrides, 1)
	assert.Equal(t, "set", overrides[0].Change)
	assert.True(t, strings.Contains(overrides[0].Override.Author, "alice"))
}
