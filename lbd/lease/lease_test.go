package lease

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var planNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func TestDecideLease(t *testing.T) {
	ttl := 10 * time.Minute
	master := Role{Instance: "m", Master: true, Active: true, TTL: ttl}
	slave := Role{Instance: "s", Active: true, TTL: ttl}
	passive := Role{Instance: "s", Active: false, TTL: ttl}
	other := Role{Instance: "s2", Active: true, TTL: ttl}
	rec := func(l Record) State { return State{Records: []string{l.String()}} }
	mLease := Record{Holder: "m", Epoch: 3}
	sLease := Record{Holder: "s", Epoch: 4, Until: planNow.Add(ttl)}
	sOld := Record{Holder: "s", Epoch: 4, Until: planNow.Add(ttl / 4)}
	sExpired := Record{Holder: "s", Epoch: 4, Until: planNow.Add(-time.Second)}
	released := Record{Released: true, Epoch: 5}
	cases := []struct {
		name      string
		st        State
		role      Role
		write     bool
		expect    string
		set       string
		holder    string
		whyPrefix string
	}{
		{"no lease: master creates it with its first write", State{}, master, true, "", Record{Holder: "m", Epoch: 1}.String(), "m", ""},
		{"no lease: passive slave leaves it", State{}, passive, false, "", "", "", "passive"},
		{"master holds: keeps", rec(mLease), master, true, mLease.String(), mLease.String(), "m", ""},
		{"active slave takes the master's lease", rec(mLease), slave, true, mLease.String(),
			Record{Holder: "s", Epoch: 4, Until: planNow.Add(ttl)}.String(), "s", ""},
		{"master fenced while the slave holds", rec(sLease), master, false, "", "", "s", "lease held by s until"},
		{"second standby fenced too", rec(sLease), other, false, "", "", "s", "lease held by s"},
		{"slave keeps a fresh lease", rec(sLease), slave, true, sLease.String(), sLease.String(), "s", ""},
		{"slave renews an old lease", rec(sOld), slave, true, sOld.String(),
			Record{Holder: "s", Epoch: 4, Until: planNow.Add(ttl)}.String(), "s", ""},
		{"passive slave hands back", rec(sLease), passive, false, sLease.String(), released.String()[:len(released.String())-1] + "5", "", "passive (lease handed back)"},
		{"master takes a released lease", rec(released), master, true, released.String(), Record{Holder: "m", Epoch: 6}.String(), "m", ""},
		{"master takes an expired lease", rec(sExpired), master, true, sExpired.String(), Record{Holder: "m", Epoch: 5}.String(), "m", ""},
		{"garbage is not overwritten", State{Records: []string{"hello"}}, master, false, "", "", "", "the lease record"},
		{"unread: nothing", State{Err: errors.New("timeout")}, master, false, "", "", "", "lease not read"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lp := Decide(planNow, tc.st, tc.role)
			assert.Equal(t, tc.write, lp.Write, "write")
			assert.Equal(t, tc.holder, lp.Holder, "holder")
			if tc.write || lp.Lease.Swaps() {
				assert.Equal(t, tc.expect, lp.Lease.Expect, "expect")
				assert.Equal(t, tc.set, lp.Lease.Set, "set")
			}
			if tc.whyPrefix != "" {
				assert.Contains(t, lp.Why, tc.whyPrefix)
			}
			assertFlags(t, lp, tc.role)
		})
	}
}

// assertFlags checks Takes and HandsBack against what the plan's lease
// swap says: Takes when it writes under a lease it creates or that was
// not its own, HandsBack when it swaps its own lease for a released one.
func assertFlags(t *testing.T, lp Plan, r Role) {
	t.Helper()
	from, parsed := Parse(lp.Lease.Expect)
	to, _ := Parse(lp.Lease.Set)
	assert.Equal(t, lp.Write && lp.Lease.Swaps() && (!parsed || from.Holder != r.Instance), lp.Takes, "takes")
	assert.Equal(t, lp.Lease.Swaps() && parsed && from.Holder == r.Instance && to.Released, lp.HandsBack, "hands back")
	if lp.HandsBack {
		assert.False(t, lp.Write, "a hand-back does not write")
	}
}

func TestParseLease(t *testing.T) {
	for _, l := range []Record{{Holder: "m", Epoch: 1}, {Holder: "s", Epoch: 9, Until: time.Unix(1800000000, 0)}, {Released: true, Epoch: 2}} {
		got, ok := Parse(l.String())
		require.True(t, ok, l.String())
		assert.Equal(t, l, got)
	}
	for _, bad := range []string{"", "lbd-lease v=1 ", "lbd-lease v=1 holder=m released epoch=1", "lbd-lease v=1 holder=m epoch=x", "other"} {
		_, ok := Parse(bad)
		assert.False(t, ok, bad)
	}
}

func TestDecideLeaseSharded(t *testing.T) {
	ttl := 2 * time.Second
	owner := Role{Instance: "a", Sharded: true, Owner: true, TTL: ttl}
	notOwner := Role{Instance: "a", Sharded: true, Owner: false, TTL: ttl}
	rec := func(l Record) State { return State{Records: []string{l.String()}} }
	until := planNow.Add(ttl)
	mine := Record{Holder: "a", Epoch: 2, Until: planNow.Add(ttl)}
	mineOld := Record{Holder: "a", Epoch: 2, Until: planNow.Add(ttl / 4)}
	mineExpired := Record{Holder: "a", Epoch: 2, Until: planNow.Add(-time.Second)}
	peer := Record{Holder: "b", Epoch: 3, Until: planNow.Add(ttl)}
	peerExpired := Record{Holder: "b", Epoch: 3, Until: planNow.Add(-time.Second)}
	master := Record{Holder: "m", Epoch: 1}
	released := Record{Released: true, Epoch: 4}
	cases := []struct {
		name    string
		st      State
		role    Role
		write   bool
		passive bool
		expect  string
		set     string
		holder  string
		why     string
	}{
		{"owner creates the lease with until", State{}, owner, true, false, "", Record{Holder: "a", Epoch: 1, Until: until}.String(), "a", ""},
		{"not owner leaves no lease alone", State{}, notOwner, false, true, "", "", "", "another instance owns"},
		{"owner keeps a fresh lease", rec(mine), owner, true, false, mine.String(), mine.String(), "a", ""},
		{"owner renews with less than half left", rec(mineOld), owner, true, false, mineOld.String(), Record{Holder: "a", Epoch: 2, Until: until}.String(), "a", ""},
		{"owner renews its own expired lease", rec(mineExpired), owner, true, false, mineExpired.String(), Record{Holder: "a", Epoch: 2, Until: until}.String(), "a", ""},
		{"owner waits for a peer's lease to pass (or be handed back)", rec(peer), owner, false, true, "", "", "b", "lease held by b until"},
		{"owner takes a dead peer's expired lease", rec(peerExpired), owner, true, false, peerExpired.String(), Record{Holder: "a", Epoch: 4, Until: until}.String(), "a", ""},
		{"owner takes a released lease", rec(released), owner, true, false, released.String(), Record{Holder: "a", Epoch: 5, Until: until}.String(), "a", ""},
		{"owner takes a plain master's lease", rec(master), owner, true, false, master.String(), Record{Holder: "a", Epoch: 2, Until: until}.String(), "a", ""},
		{"not owner hands its lease back", rec(mine), notOwner, false, true, mine.String(), Record{Released: true, Epoch: 3}.String(), "", "passive (lease handed back)"},
		{"not owner hands back even an expired lease", rec(mineExpired), notOwner, false, true, mineExpired.String(), Record{Released: true, Epoch: 3}.String(), "", "passive (lease handed back)"},
		{"not owner leaves a peer's lease", rec(peer), notOwner, false, true, "", "", "b", "another instance owns"},
		{"not owner leaves a released lease", rec(released), notOwner, false, true, "", "", "", "another instance owns"},
		{"owner does not overwrite garbage", State{Records: []string{"x"}}, owner, false, false, "", "", "", "not lbd's"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lp := Decide(planNow, tc.st, tc.role)
			assert.Equal(t, tc.write, lp.Write, "write")
			assert.Equal(t, tc.passive, lp.Passive, "passive")
			assert.Equal(t, tc.holder, lp.Holder, "holder")
			if tc.write || lp.Lease.Swaps() || tc.set != "" {
				assert.Equal(t, tc.expect, lp.Lease.Expect, "expect")
				assert.Equal(t, tc.set, lp.Lease.Set, "set")
			}
			if tc.why != "" {
				assert.Contains(t, lp.Why, tc.why)
			}
			assertFlags(t, lp, tc.role)
		})
	}
}

func TestShardedLeaseUntilRoundsUp(t *testing.T) {
	now := planNow.Add(300 * time.Millisecond)
	lp := Decide(now, State{}, Role{Instance: "a", Sharded: true, Owner: true, TTL: 2 * time.Second})
	got, ok := Parse(lp.Lease.Set)
	require.True(t, ok)
	assert.Equal(t, planNow.Add(3*time.Second).Unix(), got.Until.Unix(), "at least TTL, in whole seconds")
	// Renewed below 3/4 of TTL: at 1.4 s left of 2 s it is renewed.
	held := Record{Holder: "a", Epoch: 1, Until: planNow.Add(2 * time.Second)}
	lp = Decide(planNow.Add(600*time.Millisecond), State{Records: []string{held.String()}}, Role{Instance: "a", Sharded: true, Owner: true, TTL: 2 * time.Second})
	assert.True(t, lp.Lease.Swaps())
	lp = Decide(planNow.Add(400*time.Millisecond), State{Records: []string{held.String()}}, Role{Instance: "a", Sharded: true, Owner: true, TTL: 2 * time.Second})
	assert.False(t, lp.Lease.Swaps())
}
