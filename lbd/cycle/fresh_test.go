package cycle

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/dnsupdate"
	"github.com/lbd-project/lbd/lbd/health"
	"github.com/lbd-project/lbd/lbd/lease"
)

func TestFreshZones(t *testing.T) {
	cfg := planConfig(t, aliasA+aliasB)
	cfg.LBD.StateDir = "/var/lib/lbd"
	master := lease.Role{Instance: "m", Master: true, Active: true}
	up := []health.Mode{health.ReadAll, health.ReadAll}
	both := map[int]map[string]bool{
		0: {"a.lb.example.org": true, "b.lb.example.org": true},
		1: {"a.lb.example.org": true, "b.lb.example.org": true},
	}
	cases := []struct {
		name     string
		stateDir string
		role     lease.Role
		mayWrite bool
		dryRun   bool
		modes    []health.Mode
		seen     map[string]bool
		want     map[int]map[string]bool
	}{
		{name: "a master's first sight of both zones", stateDir: "/var/lib/lbd", role: master, mayWrite: true, modes: up, want: both},
		{name: "a zone seen (managed, or decided before) is read", stateDir: "/var/lib/lbd", role: master, mayWrite: true, modes: up,
			seen: map[string]bool{"a.lb.example.org.": true},
			want: map[int]map[string]bool{0: {"b.lb.example.org": true}, 1: {"b.lb.example.org": true}}},
		{name: "a server down or probed is read as it is", stateDir: "/var/lib/lbd", role: master, mayWrite: true,
			modes: []health.Mode{health.ReadProbe, health.ReadAll},
			want:  map[int]map[string]bool{1: {"a.lb.example.org": true, "b.lb.example.org": true}}},
		{name: "no state_dir: every start would look new", role: master, mayWrite: true, modes: up},
		{name: "a slave reads (its zones hold the master's records)", stateDir: "/var/lib/lbd", mayWrite: true, modes: up,
			role: lease.Role{Instance: "s", Active: true}},
		{name: "a passive instance writes nothing", stateDir: "/var/lib/lbd", role: master, modes: up},
		{name: "a shard reads (zones change hands)", stateDir: "/var/lib/lbd", mayWrite: true, modes: up,
			role: lease.Role{Instance: "m", Master: true, Active: true, Sharded: true}},
		{name: "a dry run reads", stateDir: "/var/lib/lbd", role: master, mayWrite: true, dryRun: true, modes: up},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := *cfg
			c.LBD.StateDir = tc.stateDir
			in := Input{Now: planNow, Config: &c, Role: tc.role, MayWrite: tc.mayWrite, DryRun: tc.dryRun}
			assert.Equal(t, tc.want, FreshZones(in, []int{0, 1}, tc.modes, tc.seen))
		})
	}
}

func TestDecideFresh(t *testing.T) {
	cfg := planConfig(t, aliasA)
	cfg.DNS.Fencing = true
	res, rep := loads(map[string]int{"192.0.2.1": 10, "192.0.2.2": 20})
	in := Input{Now: planNow, Config: cfg, Resolved: res, Replies: rep, MayWrite: true,
		Served: map[string][]Served{"a.lb.example.org": {{Fresh: true}, serves()}},
		Role:   lease.Role{Instance: "m", Master: true, Active: true},
		Leases: map[int]map[string]lease.State{0: {"a.lb.example.org": {}}, 1: {"a.lb.example.org": {}}},
		// Known records (an alias moved to this zone by a reload): a view
		// presumed empty is not drift, it was not read.
		Known: map[string]map[string][]netip.Addr{"a.lb.example.org": {cfg.Views[0].String(): ips("192.0.2.9")}}}
	plan := Decide(in)
	require.Len(t, plan.Aliases, 1)
	ap := plan.Aliases[0]
	assert.Equal(t, []Action{Write, Write}, actions(ap))
	fresh, read := ap.Views[0], ap.Views[1]
	assert.True(t, fresh.Fresh)
	assert.False(t, fresh.Drift)

	// Without fencing (no lease hand-over to excuse it) a view presumed
	// empty is still no drift.
	unfenced := in
	unfenced.Config = planConfig(t, aliasA)
	unfenced.Leases = nil
	unfenced.Known = map[string]map[string][]netip.Addr{"a.lb.example.org": {unfenced.Config.Views[0].String(): ips("192.0.2.9")}}
	uplan := Decide(unfenced)
	require.Len(t, uplan.Aliases, 1)
	assert.True(t, uplan.Aliases[0].Views[0].Fresh)
	assert.False(t, uplan.Aliases[0].Views[0].Drift)
	assert.True(t, fresh.Change.AddrsAbsent, "requires no A/AAAA")
	assert.True(t, fresh.Change.MetaRequire, "requires no metadata")
	assert.Empty(t, fresh.Change.MetaExpect)
	assert.True(t, fresh.Change.MetaSet, "claims the name")
	var prereqs []string
	for _, line := range strings.Split(fresh.Change.String(), "\n") {
		if strings.HasPrefix(line, "require") {
			prereqs = append(prereqs, line)
		}
	}
	assert.Equal(t, []string{
		"require no a.lb.example.org. IN A",
		"require no a.lb.example.org. IN AAAA",
		"require no _lbd.a.lb.example.org. IN TXT",
	}, prereqs)
	assert.Equal(t, ips("192.0.2.1"), fresh.Change.Desired)
	assert.False(t, read.Fresh)
	assert.False(t, read.Change.AddrsAbsent, "a view read as empty needs no presumption")
	assert.True(t, plan.Leases[0]["a.lb.example.org"].Write, "the lease is created with the first write")
	assert.Equal(t, "", plan.Leases[0]["a.lb.example.org"].Lease.Expect)

	// Nothing to write on a presumption (no usable member, fallback keep):
	// nothing is sent, and the view is left to be read (Unconfirmed).
	keep := planConfig(t, "[[alias]]\nname = \"a.lb.example.org\"\nmembers = [\"192.0.2.1\"]\nfallback = \"keep\"\n")
	res, rep = loads(map[string]int{"192.0.2.1": -1})
	plan = Decide(Input{Now: planNow, Config: keep, Resolved: res, Replies: rep, MayWrite: true,
		Served: map[string][]Served{"a.lb.example.org": {{Fresh: true}, {Fresh: true}}},
		Role:   lease.Role{Instance: "m", Master: true, Active: true}})
	require.Len(t, plan.Aliases, 1)
	for _, vp := range plan.Aliases[0].Views {
		assert.Equal(t, Kept, vp.Action)
		assert.True(t, vp.Fresh)
		assert.True(t, vp.Change.Empty(), "nothing sent on a presumption")
	}
}

func TestUnconfirmed(t *testing.T) {
	refused := fmt.Errorf("update: %w", &dnsupdate.RcodeError{Op: "update", Rcode: 7})
	timeout := errors.New("i/o timeout")
	plan := Plan{Aliases: []AliasPlan{
		{Alias: 0, Views: []ViewPlan{{View: 0, Action: Write, Fresh: true}}},                                       // written
		{Alias: 1, Views: []ViewPlan{{View: 0, Action: Write, Fresh: true}}},                                       // refused: YXRRSET
		{Alias: 2, Views: []ViewPlan{{View: 0, Action: InSync, Fresh: true}}},                                      // nothing to write
		{Alias: 3, Views: []ViewPlan{{View: 0, Action: Write, Fresh: true}, {View: 1, Action: Kept}}},              // timed out: retried later
		{Alias: 4, Views: []ViewPlan{{View: 0, Action: Write}}},                                                    // read, refused: reported
		{Alias: 5, Views: []ViewPlan{{View: 0, Action: InSync}, {View: 1, Action: Write, Fresh: true}}},            // second view refused
		{Alias: 6, Views: []ViewPlan{{View: 0, Action: Write, Fresh: true}, {View: 1, Action: InSync}}},            // written
		{Alias: 7, Views: []ViewPlan{{View: 0, Action: Kept, Fresh: true}, {View: 1, Action: Write, Fresh: true}}}, // kept
	}}
	rep := Report{Aliases: []AliasReport{
		{Written: []int{0}},
		{Errs: map[int]error{0: refused}},
		{},
		{Errs: map[int]error{0: timeout}},
		{Errs: map[int]error{0: refused}},
		{Errs: map[int]error{1: refused}},
		{Written: []int{0}},
		{Written: []int{1}},
	}}
	require.ErrorIs(t, refused, dnsupdate.ErrPrerequisite)
	assert.Equal(t, []int{1, 2, 5, 7}, Unconfirmed(plan, rep))
}

func TestMerge(t *testing.T) {
	first := Plan{
		Aliases: []AliasPlan{
			{Alias: 0, Name: "a", Views: []ViewPlan{{View: 0, Action: Write, Fresh: true}}},
			{Alias: 1, Name: "b", Views: []ViewPlan{{View: 0, Action: Write, Fresh: true}, {View: 1, Action: Write, Fresh: true}}},
			{Alias: 2, Name: "c", Views: []ViewPlan{{View: 0, Action: InSync, Fresh: true}}},
		},
		Removals: []RemovalPlan{{Managed: Managed{Name: "gone", Zone: "z"}}},
		Leases: map[int]map[string]lease.Plan{
			0: {"za": {Write: true, Holder: "m"}, "zb": {Write: true, Holder: "m"}, "zc": {Write: true, Holder: "m"}},
			1: {"zb": {Write: true, Holder: "m"}},
		},
	}
	refused := &dnsupdate.RcodeError{Op: "update", Rcode: 7}
	firstRep := Report{
		Aliases: []AliasReport{
			{Written: []int{0}},
			{Written: []int{0}, Serials: map[int]uint32{0: 5}, Errs: map[int]error{1: refused}},
			{},
		},
		Removals: []RemovalReport{{}},
		Leases:   map[int]map[string]error{1: {"zb": refused}},
	}
	second := Plan{
		Aliases: []AliasPlan{
			{Alias: 1, Name: "b", Views: []ViewPlan{{View: 0, Action: InSync}, {View: 1, Action: Foreign}}},
			{Alias: 2, Name: "c", Views: []ViewPlan{{View: 0, Action: Write}}},
		},
		Leases: map[int]map[string]lease.Plan{
			0: {"zb": {Write: true, Holder: "m"}, "zc": {Write: true, Holder: "m"}},
			1: {"zb": {Holder: "other", Why: "lease held by other"}},
		},
	}
	secondRep := Report{Aliases: []AliasReport{
		{Errs: map[int]error{0: errors.New("stale: read before the first write landed")}},
		{Written: []int{0}},
	}, Leases: map[int]map[string]error{}}

	plan, rep := Merge(first, firstRep, second, secondRep)
	require.Len(t, plan.Aliases, 3)
	assert.Equal(t, first.Aliases[0], plan.Aliases[0], "not in the second pass")
	assert.Equal(t, []ViewPlan{{View: 0, Action: Write, Fresh: true}, {View: 1, Action: Foreign}}, plan.Aliases[1].Views,
		"the view written by the first pass keeps its write; the other is the second pass's")
	assert.Equal(t, []int{0}, rep.Aliases[1].Written)
	assert.Equal(t, map[int]uint32{0: 5}, rep.Aliases[1].Serials)
	assert.Empty(t, rep.Aliases[1].Errs, "the refused presumption is not an error")
	assert.Equal(t, second.Aliases[1], plan.Aliases[2])
	assert.Equal(t, []int{0}, rep.Aliases[2].Written)
	assert.Equal(t, first.Removals, plan.Removals)
	assert.Equal(t, "other", plan.Leases[1]["zb"].Holder)
	assert.Equal(t, "m", plan.Leases[0]["za"].Holder)
	assert.NotContains(t, rep.Leases[1], "zb", "the first pass's failed swap is replaced by the second's decision")
	// The inputs are left alone.
	assert.Equal(t, "m", first.Leases[1]["zb"].Holder)
	assert.Equal(t, []ViewPlan{{View: 0, Action: InSync, Fresh: true}}, first.Aliases[2].Views)
	assert.Contains(t, firstRep.Aliases[1].Errs, 1)
	assert.Contains(t, firstRep.Leases[1], "zb")
}

// A view the first pass wrote and the second pass writes again (the
// second pass decided on another view that held this group's earlier
// records) has the second write's plan and outcome, its change shown from
// what the view held before the cycle; a view the second pass has no plan
// for keeps the first pass's.
func TestMergeWrittenTwice(t *testing.T) {
	d0, d1 := ips("192.0.2.1"), ips("192.0.2.2")
	first := Plan{Aliases: []AliasPlan{{Alias: 0, Views: []ViewPlan{
		{View: 0, Action: Write, Fresh: true, Change: dnsupdate.Change{Desired: d1, Add: d1}},
		{View: 1, Action: Write, Fresh: true, Change: dnsupdate.Change{Desired: d1, Add: d1}},
		{View: 2, Action: Write, Fresh: true, Change: dnsupdate.Change{Desired: d1, Add: d1}},
	}}}}
	refused := &dnsupdate.RcodeError{Op: "update", Rcode: 7}
	firstRep := Report{Aliases: []AliasReport{{Written: []int{1, 2}, Serials: map[int]uint32{1: 3, 2: 4}, Errs: map[int]error{0: refused}}}}
	timeout := errors.New("i/o timeout")
	second := Plan{Aliases: []AliasPlan{{Alias: 0, Views: []ViewPlan{
		{View: 0, Action: InSync, Served: d0},
		{View: 1, Action: Write, Served: d1, Drift: true, Known: d0, Change: dnsupdate.Change{Desired: d0, Add: d0, Remove: d1}},
	}}}}
	secondRep := Report{Aliases: []AliasReport{{Errs: map[int]error{1: timeout}}}}

	plan, rep := Merge(first, firstRep, second, secondRep)
	views := plan.Aliases[0].Views
	require.Len(t, views, 3)
	assert.Equal(t, InSync, views[0].Action)
	assert.Equal(t, Write, views[1].Action)
	assert.Empty(t, views[1].Served, "shown from what the view held before the cycle")
	assert.Equal(t, d0, views[1].Change.Add)
	assert.Empty(t, views[1].Change.Remove)
	assert.False(t, views[1].Drift, "the second pass read the first write: no drift")
	assert.Empty(t, views[1].Known)
	assert.Equal(t, first.Aliases[0].Views[2], views[2], "no second plan for it: the first pass's write")
	assert.Equal(t, []int{2}, rep.Aliases[0].Written, "the second write failed: not written")
	assert.Equal(t, map[int]error{1: timeout}, rep.Aliases[0].Errs, "its error is kept")
	assert.Equal(t, map[int]uint32{2: 4}, rep.Aliases[0].Serials)
}
