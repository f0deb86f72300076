package shard

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/heartbeat"
	"github.com/lbd-project/lbd/lbd/lease"
)

func zonesN(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("z%d.lb.test", i)
	}
	return out
}

func TestOwner(t *testing.T) {
	cases := []struct {
		name string
		zone string
		live []string
		want string
	}{
		{"no instance: no owner", "a.lb.test", nil, ""},
		{"one instance owns everything", "a.lb.test", []string{"lbd1"}, "lbd1"},
		{"same instance twice", "a.lb.test", []string{"lbd1", "lbd1"}, "lbd1"},
		// The expected owners are the highest SHA-256 weights, computed
		// once; they pin the hash so that every version agrees.
		{"three instances", "a.lb.test", []string{"lbd1", "lbd2", "lbd3"}, Owner("a.lb.test", []string{"lbd3", "lbd2", "lbd1"})},
		{"zone names compared as DNS names", "A.LB.test.", []string{"lbd1", "lbd2", "lbd3"}, Owner("a.lb.test", []string{"lbd1", "lbd2", "lbd3"})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Owner(tc.zone, tc.live))
		})
	}
}

// The weights are SHA-256 based and fixed: a change of hash would move
// zones between versions of lbd running side by side.
func TestOwnerIsStable(t *testing.T) {
	live := []string{"lbd1", "lbd2", "lbd3"}
	got := Assign([]string{"z0.lb.test", "z1.lb.test", "z2.lb.test", "z3.lb.test", "z4.lb.test", "z5.lb.test"}, live)
	for z, o := range got {
		w := weight(z, o)
		for _, other := range live {
			assert.True(t, weight(z, other) <= w, "%s: %s outweighs the owner %s", z, other, o)
		}
	}
	assert.Equal(t, weight("z0.lb.test", "lbd1"), weight("Z0.LB.TEST.", "lbd1"))
}

func TestAssignIsOrderIndependentAndBalanced(t *testing.T) {
	zones := zonesN(3000)
	a := Assign(zones, []string{"lbd1", "lbd2", "lbd3"})
	b := Assign(zones, []string{"lbd3", "lbd1", "lbd2"})
	require.Equal(t, a, b)
	count := map[string]int{}
	for _, o := range a {
		count[o]++
	}
	for _, inst := range []string{"lbd1", "lbd2", "lbd3"} {
		// 1000 expected; a fair hash stays well within ±15 %.
		assert.InDelta(t, 1000, count[inst], 150, inst)
	}
}

func TestRemovingAnInstanceMovesOnlyItsZones(t *testing.T) {
	zones := zonesN(500)
	all := []string{"lbd1", "lbd2", "lbd3", "lbd4"}
	before := Assign(zones, all)
	for _, gone := range all {
		t.Run(gone, func(t *testing.T) {
			var live []string
			for _, i := range all {
				if i != gone {
					live = append(live, i)
				}
			}
			after := Assign(zones, live)
			moved := Moved(before, after)
			assert.Equal(t, Owned(before, gone), moved, "exactly the zones of %s move", gone)
			for _, z := range moved {
				assert.NotEqual(t, gone, after[z])
			}
			// And adding it back moves them back, nothing else.
			assert.Equal(t, moved, Moved(after, Assign(zones, all)))
		})
	}
}

func TestMoved(t *testing.T) {
	assert.Equal(t, []string{"b", "c", "d"}, Moved(map[string]string{"a": "x", "b": "x", "c": "y"}, map[string]string{"a": "x", "b": "y", "d": "x"}))
	assert.Empty(t, Moved(map[string]string{"a": "x"}, map[string]string{"a": "x"}))
}

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func TestPeersLiveness(t *testing.T) {
	p := Peers{StaleAfter: 3 * time.Second}
	p.Set(t0, []Peer{{"lbd2", "http://b"}, {"lbd3", "http://c"}})
	assert.Equal(t, []string{"lbd1", "lbd2", "lbd3"}, p.Live("lbd1", t0), "a new peer has its grace period")
	assert.Equal(t, []string{"lbd1", "lbd2", "lbd3"}, p.Live("lbd1", t0.Add(3*time.Second)))
	p.Observe("lbd2", t0.Add(2*time.Second), t0.Add(2*time.Second), nil)
	p.Observe("lbd3", t0.Add(2*time.Second), time.Time{}, errors.New("refused"))
	assert.Equal(t, []string{"lbd1", "lbd2"}, p.Live("lbd1", t0.Add(3100*time.Millisecond)), "lbd3 never beat: stale after its grace")
	// A failed fetch brings no news: lbd2's beat keeps ageing.
	p.Observe("lbd2", t0.Add(4*time.Second), time.Time{}, errors.New("timeout"))
	assert.Equal(t, []string{"lbd1", "lbd2"}, p.Live("lbd1", t0.Add(5*time.Second)))
	assert.Equal(t, []string{"lbd1"}, p.Live("lbd1", t0.Add(5100*time.Millisecond)))
	st := p.States(t0.Add(5100 * time.Millisecond))
	require.Len(t, st, 2)
	assert.Equal(t, "lbd2", st[0].Instance)
	assert.False(t, st[0].Live)
	assert.Equal(t, "timeout", st[0].Err)
	assert.Equal(t, "refused", st[1].Err)
	// A beat brings it back; a peer no longer configured is forgotten.
	p.Observe("lbd3", t0.Add(6*time.Second), t0.Add(6*time.Second), nil)
	assert.Equal(t, []string{"lbd1", "lbd3"}, p.Live("lbd1", t0.Add(6*time.Second)))
	p.Set(t0.Add(6*time.Second), []Peer{{"lbd3", "http://c2"}})
	assert.Equal(t, []string{"lbd1", "lbd3"}, p.Live("lbd1", t0.Add(6*time.Second)))
	assert.Equal(t, "http://c2", p.States(t0)[0].URL)
	p.Observe("unknown", t0, t0, nil) // ignored
}

func TestPeersAuthenticated(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	p := Peers{StaleAfter: 3 * time.Second}
	p.Set(t0, []Peer{{"lbd2", "http://b"}})
	now := t0.Add(10 * time.Second)
	require.Equal(t, []string{"lbd1"}, p.Live("lbd1", now))
	good := heartbeat.Beat{Instance: "lbd2", Time: now, Counter: 7}.Sign(key)
	require.NoError(t, p.Accept("lbd2", good, key, now))
	assert.Equal(t, []string{"lbd1", "lbd2"}, p.Live("lbd1", now))
	later := now.Add(5 * time.Second)
	forged := heartbeat.Beat{Instance: "lbd2", Time: later, Counter: 8}.Sign([]byte("another-key-another-key-another!"))
	assert.ErrorIs(t, p.Accept("lbd2", forged, key, later), heartbeat.ErrRejected)
	foreign := heartbeat.Beat{Instance: "lbd3", Time: later, Counter: 9}.Sign(key)
	assert.ErrorIs(t, p.Accept("lbd2", foreign, key, later), heartbeat.ErrRejected, "a beat must name the peer")
	replay := heartbeat.Beat{Instance: "lbd2", Time: later, Counter: 6}.Sign(key)
	assert.ErrorIs(t, p.Accept("lbd2", replay, key, later), heartbeat.ErrRejected)
	assert.Equal(t, []string{"lbd1"}, p.Live("lbd1", later), "no rejected beat keeps a peer live")
}

func TestPlanLeases(t *testing.T) {
	ttl := 2 * time.Second
	role := lease.Role{Instance: "a", TTL: ttl}
	rec := func(l lease.Record) lease.State { return lease.State{Records: []string{l.String()}} }
	peerUntil := t0.Add(1500 * time.Millisecond).Truncate(time.Second).Add(time.Second)
	states := map[int]map[string]lease.State{
		0: {
			"mine.test":     rec(lease.Record{Holder: "a", Epoch: 1, Until: t0.Add(500 * time.Millisecond)}),
			"fresh.test":    rec(lease.Record{Holder: "a", Epoch: 1, Until: t0.Add(ttl)}),
			"dead.test":     rec(lease.Record{Holder: "b", Epoch: 2, Until: peerUntil}),
			"expired.test":  rec(lease.Record{Holder: "b", Epoch: 2, Until: t0.Add(-time.Second)}),
			"given.test":    rec(lease.Record{Holder: "a", Epoch: 5, Until: t0.Add(ttl)}),
			"theirs.test":   rec(lease.Record{Holder: "c", Epoch: 1, Until: t0.Add(ttl)}),
			"new.test":      {},
			"unread.test":   {Err: errors.New("timeout")},
			"garbage.test":  {Records: []string{"x"}},
			"released.test": rec(lease.Record{Released: true, Epoch: 3}),
		},
	}
	owned := map[string]bool{"mine.test": true, "fresh.test": true, "dead.test": true, "expired.test": true, "new.test": true,
		"unread.test": true, "garbage.test": true, "released.test": true}
	p := PlanLeases(t0, states, role, owned)
	require.True(t, p.Swaps())
	got := map[string]string{}
	for zone, lp := range p.Leases[0] {
		got[zone] = lp.Lease.Set
		if !lp.Lease.Swaps() {
			got[zone] = "-"
		}
	}
	until := lease.Record{Holder: "a", Until: t0.Add(ttl)}
	at := func(epoch uint64) string { u := until; u.Epoch = epoch; return u.String() }
	assert.Equal(t, map[string]string{
		"mine.test":     at(1), // renewed
		"fresh.test":    "-",
		"dead.test":     "-", // fenced until its until passes
		"expired.test":  at(3),
		"given.test":    lease.Record{Released: true, Epoch: 6}.String(), // handed back
		"theirs.test":   "-",
		"new.test":      at(1),
		"unread.test":   "-",
		"garbage.test":  "-",
		"released.test": at(4),
	}, got)
	assert.True(t, t0.Add(ttl/4).Equal(p.Retry), "look again after a quarter of lease_ttl (a hand-back) rather than at the end of the peer's lease")
	long := PlanLeases(t0, states, lease.Role{Instance: "a", TTL: time.Minute}, owned)
	assert.True(t, peerUntil.Add(retryMargin).Equal(long.Retry), "or just after the peer's lease ends, if that is sooner")
	assert.False(t, PlanLeases(t0, map[int]map[string]lease.State{0: {"fresh.test": states[0]["fresh.test"]}}, role, owned).Swaps())
}
