package lbd

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lbd-project/lbd/lbd/choice"
	"github.com/lbd-project/lbd/lbd/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// snapNow is the fixed "now" of these tests.
var snapNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func TestNoteMembership(t *testing.T) {
	st := &aliasState{}
	st.noteMembership(snapNow, []string{"a", "b"})
	st.decision.Hosts = []string{"a", "b"}
	assert.Equal(t, snapNow, st.lastChange)
	later := snapNow.Add(60e9)
	st.noteMembership(later, []string{"b", "a"})
	assert.Equal(t, snapNow, st.lastChange, "same hosts in another order: no change")
	st.noteMembership(later, []string{"a", "c"})
	assert.Equal(t, later, st.lastChange)
	assert.Equal(t, later, st.memberChange["b"], "b left")
	assert.Equal(t, later, st.memberChange["c"], "c entered")
	assert.Equal(t, snapNow, st.memberChange["a"])
}

func TestStaleLoadFlagged(t *testing.T) {
	cfg, err := config.Parse("s.toml", []byte(strings.Replace(minimal, "[lbd]\n", "[lbd]\nstale_load_after = \"1h\"\n", 1)))
	require.NoError(t, err)
	p := &cfg.Params[0]
	m := choice.Member{Host: "127.0.0.2", Load: 7, Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.2")}}
	st := &aliasState{decision: choice.Decision{Hosts: []string{m.Host}}, members: []choice.Member{m}}
	st.noteLoads(snapNow, []choice.Member{m})
	st.noteLoads(snapNow.Add(30*time.Minute), []choice.Member{m})
	a := aliasSnapshot(snapNow.Add(59*time.Minute), cfg, p, st)
	assert.False(t, a.Members[0].Stale)
	a = aliasSnapshot(snapNow.Add(61*time.Minute), cfg, p, st)
	assert.True(t, a.Members[0].Stale, "same load for over an hour while published")
	assert.Equal(t, 1, a.StaleMembers)
	assert.Contains(t, a.Members[0].Why, "stuck metric")
	m.Load = 8
	st.members = []choice.Member{m}
	st.noteLoads(snapNow.Add(62*time.Minute), []choice.Member{m})
	assert.False(t, aliasSnapshot(snapNow.Add(63*time.Minute), cfg, p, st).Members[0].Stale, "a change resets it")
}
