package dnsupdate

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/internal/tsig"
)

// Leases and ownership records against a real named: the lease is a
// compare-and-swap the server performs, a writer with a stale lease writes
// nothing, and an ownership prerequisite that fails for one name of a batch
// does not keep the others from being written.
func TestNamedLeaseAndOwnership(t *testing.T) {
	n := testenv.StartNamed(t, testenv.NamedOptions{Zones: []string{zone}, Keys: []tsig.Spec{keySHA256}})
	c := newClient(t, n, keySHA256)
	ctx := ctxT(t)
	const (
		a = "a.lb.example.org."
		b = "b.lb.example.org."
		x = "x.lb.example.org."
	)
	lease := func() []string {
		txt, err := c.QueryTXT(ctx, LeaseName(zone))
		require.NoError(t, err)
		return txt
	}
	owner := func(name string) []string {
		txt, err := c.QueryTXT(ctx, OwnerName(name))
		require.NoError(t, err)
		return txt
	}
	write := func(name, ip, own string, ifOwner bool) Change {
		ch := Diff(zone, name, State{}, addrs(ip), 60)
		ch.Meta, ch.MetaSet, ch.Replace = []string{own}, true, true
		if ifOwner {
			ch.MetaExpect, ch.MetaRequire = []string{own}, true
		}
		return ch
	}

	// First writer: no lease yet ("" = the RRset must not exist).
	res := c.ApplyFenced(ctx, []Change{write(a, "192.0.2.1", "group=g", false)}, map[string]Lease{zone: {Expect: "", Set: "holder=m epoch=1"}})
	require.NoError(t, res.Zones[zone])
	assert.Equal(t, []string{"holder=m epoch=1"}, lease())
	assert.Equal(t, []string{"group=g"}, owner(a))

	// A writer expecting another lease writes nothing.
	res = c.ApplyFenced(ctx, []Change{write(b, "192.0.2.2", "group=g", false)}, map[string]Lease{zone: {Expect: "holder=s epoch=7", Set: "holder=s epoch=7"}})
	require.ErrorIs(t, res.Zones[zone], ErrLeaseLost)
	require.ErrorIs(t, res.Names[b], ErrLeaseLost)
	got, _ := published(t, n, b, nil)
	assert.Empty(t, got, "nothing written without the lease")

	// A take-over swaps the lease in the same message as its write.
	res = c.ApplyFenced(ctx, []Change{write(b, "192.0.2.2", "group=g", false)}, map[string]Lease{zone: {Expect: "holder=m epoch=1", Set: "holder=s epoch=2"}})
	require.NoError(t, res.Zones[zone])
	assert.Equal(t, []string{"holder=s epoch=2"}, lease())
	// …after which the old holder is fenced off.
	res = c.ApplyFenced(ctx, []Change{write(a, "192.0.2.9", "group=g", true)}, map[string]Lease{zone: {Expect: "holder=m epoch=1", Set: "holder=m epoch=1"}})
	require.ErrorIs(t, res.Zones[zone], ErrLeaseLost)
	got, _ = published(t, n, a, nil)
	assert.Equal(t, addrs("192.0.2.1"), got)

	// A lease-only message (hand-back) with no record change.
	res = c.ApplyFenced(ctx, nil, map[string]Lease{zone: {Expect: "holder=s epoch=2", Set: "released epoch=3"}})
	require.NoError(t, res.Zones[zone])
	assert.Equal(t, []string{"released epoch=3"}, lease())

	// One batch of three names, one of which is owned by someone else: the
	// batch fails as a whole, each name is retried alone, two are written.
	l := map[string]Lease{zone: {Expect: "released epoch=3", Set: "holder=m epoch=4"}}
	foreign := write(x, "192.0.2.30", "group=g", true) // x has no ownership record
	res = c.ApplyFenced(ctx, []Change{write(a, "192.0.2.10", "group=g", true), foreign, write(b, "192.0.2.20", "group=g", true)}, l)
	require.Error(t, res.Zones[zone])
	assert.NoError(t, res.Names[a])
	assert.NoError(t, res.Names[b])
	require.Error(t, res.Names[x])
	assert.True(t, errors.Is(res.Names[x], ErrPrerequisite) || Permanent(res.Names[x]), "prerequisite failure: %v", res.Names[x])
	assert.NotErrorIs(t, res.Names[x], ErrLeaseLost)
	got, _ = published(t, n, a, nil)
	assert.Equal(t, addrs("192.0.2.10"), got)
	got, _ = published(t, n, x, nil)
	assert.Empty(t, got)
	assert.Equal(t, []string{"holder=m epoch=4"}, lease(), "the swap went with the first message that succeeded")

	// Delete: only with the ownership prerequisite, and it removes the
	// ownership record too.
	del := Change{Zone: zone, Name: a, Delete: true, MetaExpect: []string{"group=other"}, MetaRequire: true}
	res = c.ApplyFenced(ctx, []Change{del}, map[string]Lease{zone: {Expect: "holder=m epoch=4", Set: "holder=m epoch=4"}})
	require.Error(t, res.Names[a], "not our name: not deleted")
	del.MetaExpect = []string{"group=g"}
	res = c.ApplyFenced(ctx, []Change{del}, map[string]Lease{zone: {Expect: "holder=m epoch=4", Set: "holder=m epoch=4"}})
	require.NoError(t, res.Names[a])
	got, _ = published(t, n, a, nil)
	assert.Empty(t, got)
	assert.Empty(t, owner(a))
}
