package status

import (
	"testing"

	"github.com/lbd-project/lbd/lbd/choice"
	"github.com/stretchr/testify/assert"
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
		m    Member
		d    choice.Decision
		want string
	}{
		{"best", Member{Load: 5, Addrs: []string{"192.0.2.1"}, Published: true}, choice.Decision{}, "among the best"},
		{"fallback", Member{Load: -1, Published: true}, choice.Decision{Fallback: "all-random"}, "fallback all-random"},
		{"kept", Member{Load: -1}, choice.Decision{Keep: true}, "keeps DNS as it is"},
		{"usable, not chosen", Member{Load: 50, Addrs: []string{"192.0.2.1"}}, choice.Decision{}, "not among the best"},
		{"nologin", Member{Load: -1}, choice.Decision{}, "not usable: -1: failed nologin"},
	} {
		t.Run(tc.name, func(t *testing.T) { assert.Contains(t, MemberWhy(tc.m, tc.d), tc.want) })
	}
}
