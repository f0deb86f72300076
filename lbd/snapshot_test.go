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

func TestLoadMeaning(t *testing.T) {
	for load, want := range map[int]string{
		42:                   "usable, load 42",
		choice.LoadNoAnswer:  "no answer",
		choice.LoadNoAddress: "resolves to no address",
		0:                    "takes the member out",
		-1:                   "failed nologin",
		-14:                  "failed command",
		-15:                  "collectd",
		-100:                 "not ready",
		-101:                 "hung",
		-102:                 "configuration is broken",
		-77:                  "-77: the agent takes the member out",
		100001:               "above the usable range",
	} {
		assert.Contains(t, LoadMeaning(load), want, "load %d", load)
	}
}

func TestMemberWhy(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    MemberSnapshot
		d    choice.Decision
		want string
	}{
		{"best", MemberSnapshot{Load: 5, Addrs: []string{"192.0.2.1"}, Published: true}, choice.Decision{}, "among the best"},
		{"fallback", MemberSnapshot{Load: -1, Published: true}, choice.Decision{Fallback: "all-random"}, "fallback all-random"},
		{"kept", MemberSnapshot{Load: -1}, choice.Decision{Keep: true}, "keeps DNS as it is"},
		{"usable, not chosen", MemberSnapshot{Load: 50, Addrs: []string{"192.0.2.1"}}, choice.Decision{}, "not among the best"},
		{"nologin", MemberSnapshot{Load: -1}, choice.Decision{}, "not usable: -1: failed nologin"},
	} {
		t.Run(tc.name, func(t *testing.T) { assert.Contains(t, memberWhy(tc.m, tc.d), tc.want) })
	}
}

func TestNoteMembership(t *testing.T) {
	st := &aliasState{}
	st.noteMembership(planNow, []string{"a", "b"})
	st.decision.Hosts = []string{"a", "b"}
	assert.Equal(t, planNow, st.lastChange)
	later := planNow.Add(60e9)
	st.noteMembership(later, []string{"b", "a"})
	assert.Equal(t, planNow, st.lastChange, "same hosts in another order: no change")
	st.noteMembership(later, []string{"a", "c"})
	assert.Equal(t, later, st.lastChange)
	assert.Equal(t, later, st.memberChange["b"], "b left")
	assert.Equal(t, later, st.memberChange["c"], "c entered")
	assert.Equal(t, planNow, st.memberChange["a"])
}

func TestStaleLoadFlagged(t *testing.T) {
	cfg, err := config.Parse("s.toml", []byte(strings.Replace(minimal, "[lbd]\n", "[lbd]\nstale_load_after = \"1h\"\n", 1)))
	require.NoError(t, err)
	p := &cfg.Params[0]
	m := choice.Member{Host: "127.0.0.2", Load: 7, Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.2")}}
	st := &aliasState{decision: choice.Decision{Hosts: []string{m.Host}}, members: []choice.Member{m}}
	st.noteLoads(planNow, []choice.Member{m})
	st.noteLoads(planNow.Add(30*time.Minute), []choice.Member{m})
	a := aliasSnapshot(planNow.Add(59*time.Minute), cfg, p, st)
	assert.False(t, a.Members[0].Stale)
	a = aliasSnapshot(planNow.Add(61*time.Minute), cfg, p, st)
	assert.True(t, a.Members[0].Stale, "same load for over an hour while published")
	assert.Equal(t, 1, a.StaleMembers)
	assert.Contains(t, a.Members[0].Why, "stuck metric")
	m.Load = 8
	st.members = []choice.Member{m}
	st.noteLoads(planNow.Add(62*time.Minute), []choice.Member{m})
	assert.False(t, aliasSnapshot(planNow.Add(63*time.Minute), cfg, p, st).Members[0].Stale, "a change resets it")
}
