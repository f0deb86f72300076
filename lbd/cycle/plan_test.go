package cycle

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/dnsupdate"
	"github.com/lbd-project/lbd/lbd/choice"
	"github.com/lbd-project/lbd/lbd/config"
	"github.com/lbd-project/lbd/lbd/lease"
	"github.com/lbd-project/lbd/lbd/override"
	"github.com/lbd-project/lbd/lbd/snmp"
)

// planConfig compiles a configuration with two DNS servers, an external
// key and the given aliases (TOML [[alias]] tables). No socket is opened.
func planConfig(t *testing.T, aliases string) *config.Compiled {
	t.Helper()
	cfg, err := config.Parse("plan.toml", []byte(`
[lbd]
role = "master"
[dns]
fencing = false
servers = ["127.0.0.1:5301", "127.0.0.1:5302"]
internal_key = { name = "int.", secret = "aW50ZXJuYWw=" }
external_key = { name = "ext.", secret = "ZXh0ZXJuYWw=" }
[snmp]
version = "2c"
community = "public"
[defaults]
best_hosts = 1
polling_interval = "5m"
`+aliases))
	require.NoError(t, err)
	return cfg
}

const (
	aliasA = "[[alias]]\nname = \"a.lb.example.org\"\nmembers = [\"192.0.2.1\", \"192.0.2.2\"]\n"
	aliasB = "[[alias]]\nname = \"b.lb.example.org\"\nmembers = [\"192.0.2.3\"]\n"
)

var planNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// loads makes the poll results: member literal → INTEGER load.
func loads(m map[string]int) (map[string][]netip.Addr, map[netip.Addr]snmp.Reply) {
	res, rep := map[string][]netip.Addr{}, map[netip.Addr]snmp.Reply{}
	for h, l := range m {
		a := netip.MustParseAddr(h)
		res[h], rep[a] = []netip.Addr{a}, intReply(l)
	}
	return res, rep
}

// testOwner is the ownership text of planConfig's instance group.
const testOwner = "lbd-owner v=1 group=lbd"

// serves is a view serving addrs, written by this instance group (with its
// ownership record) when there are any.
func serves(addrs ...string) Served {
	var st dnsupdate.State
	for _, a := range addrs {
		st.A = append(st.A, netip.MustParseAddr(a))
	}
	s := Served{State: st}
	if len(st.A) > 0 {
		s.State.TTL = 60
		s.Meta = []string{testOwner}
	}
	return s
}

func actions(ap AliasPlan) []Action {
	var out []Action
	for _, v := range ap.Views {
		out = append(out, v.Action)
	}
	return out
}

func TestDecide(t *testing.T) {
	errDown := errors.New("i/o timeout")
	// Members: .1 load 10 (best), .2 load 20, .3 load 30.
	good := map[string]int{"192.0.2.1": 10, "192.0.2.2": 20, "192.0.2.3": 30}
	cases := []struct {
		name     string
		aliases  string
		sched    map[string]Schedule
		all      bool
		loads    map[string]int
		served   map[string][]Served
		mayWrite bool
		dryRun   bool

		wantDue     []string
		wantNextDue time.Time
		wantHosts   map[string][]string // alias → decision hosts
		wantActions map[string][]Action // alias → per-view actions
		wantDecided map[string]bool
		wantFB      map[string]config.Fallback
	}{
		{
			name: "due alias written to both servers", aliases: aliasA, loads: good, mayWrite: true,
			served:      map[string][]Served{"a.lb.example.org": {serves(), serves("192.0.2.1")}},
			wantDue:     []string{"a.lb.example.org"},
			wantHosts:   map[string][]string{"a.lb.example.org": {"192.0.2.1"}},
			wantActions: map[string][]Action{"a.lb.example.org": {Write, InSync}},
		},
		{
			name: "alias in backoff is not due; the other is", aliases: aliasA + aliasB, loads: good, mayWrite: true,
			sched: map[string]Schedule{
				"a.lb.example.org": {NextDue: planNow.Add(4 * time.Second), Failures: 3},
				"b.lb.example.org": {NextDue: planNow},
			},
			served:      map[string][]Served{"b.lb.example.org": {serves("192.0.2.3"), serves("192.0.2.3")}},
			wantDue:     []string{"b.lb.example.org"},
			wantNextDue: planNow.Add(4 * time.Second),
			wantActions: map[string][]Action{"b.lb.example.org": {InSync, InSync}},
		},
		{
			name: "all overrides the schedule", aliases: aliasA, loads: good, mayWrite: true, all: true,
			sched:       map[string]Schedule{"a.lb.example.org": {NextDue: planNow.Add(time.Hour)}},
			served:      map[string][]Served{"a.lb.example.org": {serves("192.0.2.1"), serves("192.0.2.1")}},
			wantDue:     []string{"a.lb.example.org"},
			wantActions: map[string][]Action{"a.lb.example.org": {InSync, InSync}},
		},
		{
			name: "passive slave plans but does not write", aliases: aliasA, loads: good, mayWrite: false,
			served:      map[string][]Served{"a.lb.example.org": {serves("192.0.2.2"), serves("192.0.2.2")}},
			wantDue:     []string{"a.lb.example.org"},
			wantActions: map[string][]Action{"a.lb.example.org": {Passive, Passive}},
		},
		{
			name: "dry run", aliases: aliasA, loads: good, mayWrite: true, dryRun: true,
			served:      map[string][]Served{"a.lb.example.org": {serves(), serves()}},
			wantDue:     []string{"a.lb.example.org"},
			wantActions: map[string][]Action{"a.lb.example.org": {DryRun, DryRun}},
		},
		{
			name: "fallback keep leaves DNS alone", aliases: aliasA, mayWrite: true,
			loads:       map[string]int{"192.0.2.1": -1, "192.0.2.2": -14},
			served:      map[string][]Served{"a.lb.example.org": {serves("192.0.2.9"), serves("192.0.2.9")}},
			wantDue:     []string{"a.lb.example.org"},
			wantActions: map[string][]Action{"a.lb.example.org": {Kept, Kept}},
			wantFB:      map[string]config.Fallback{"a.lb.example.org": config.FallbackKeep},
		},
		{
			name: "fallback none empties the alias", aliases: aliasA + "fallback = \"none\"\n", mayWrite: true,
			loads:       map[string]int{"192.0.2.1": -1, "192.0.2.2": -14},
			served:      map[string][]Served{"a.lb.example.org": {serves("192.0.2.1"), serves()}},
			wantDue:     []string{"a.lb.example.org"},
			wantHosts:   map[string][]string{"a.lb.example.org": nil},
			wantActions: map[string][]Action{"a.lb.example.org": {Write, InSync}},
			wantFB:      map[string]config.Fallback{"a.lb.example.org": config.FallbackNone},
		},
		{
			name: "fallback all-random publishes best_hosts members anyway", aliases: aliasA + "fallback = \"all-random\"\n", mayWrite: true,
			loads:       map[string]int{"192.0.2.1": -1, "192.0.2.2": -14},
			served:      map[string][]Served{"a.lb.example.org": {serves(), serves()}},
			wantDue:     []string{"a.lb.example.org"},
			wantActions: map[string][]Action{"a.lb.example.org": {Write, Write}},
			wantFB:      map[string]config.Fallback{"a.lb.example.org": config.FallbackAllRandom},
		},
		{
			name: "two servers that disagree: each diffed on its own, selection on the first", aliases: aliasA, loads: good, mayWrite: true,
			// .2 is published on server 1: with 10 % hysteresis .1 (10) still beats .2 (20).
			served:      map[string][]Served{"a.lb.example.org": {serves("192.0.2.2"), serves("192.0.2.1")}},
			wantDue:     []string{"a.lb.example.org"},
			wantHosts:   map[string][]string{"a.lb.example.org": {"192.0.2.1"}},
			wantActions: map[string][]Action{"a.lb.example.org": {Write, InSync}},
		},
		{
			name: "first server down: the second decides, the first is unread", aliases: aliasA, loads: good, mayWrite: true,
			served:      map[string][]Served{"a.lb.example.org": {{Err: errDown}, serves()}},
			wantDue:     []string{"a.lb.example.org"},
			wantHosts:   map[string][]string{"a.lb.example.org": {"192.0.2.1"}},
			wantActions: map[string][]Action{"a.lb.example.org": {Unread, Write}},
		},
		{
			name: "every internal view down: nothing decided", aliases: aliasA + "external = true\n", loads: good, mayWrite: true,
			served:  map[string][]Served{"a.lb.example.org": {{Err: errDown}, {Err: errDown}, serves(), serves()}},
			wantDue: []string{"a.lb.example.org"}, wantDecided: map[string]bool{"a.lb.example.org": false},
			wantActions: map[string][]Action{"a.lb.example.org": {Unread, Unread}},
		},
		{
			name: "external view: internal and external views of both servers", aliases: aliasA + "external = true\n", loads: good, mayWrite: true,
			served: map[string][]Served{"a.lb.example.org": {
				serves("192.0.2.1"), serves("192.0.2.1"), serves(), serves("192.0.2.2")}},
			wantDue:     []string{"a.lb.example.org"},
			wantHosts:   map[string][]string{"a.lb.example.org": {"192.0.2.1"}},
			wantActions: map[string][]Action{"a.lb.example.org": {InSync, InSync, Write, Write}},
		},
		{
			name: "a view missing from the input counts as unread", aliases: aliasB, loads: good, mayWrite: true,
			served:      map[string][]Served{"b.lb.example.org": {serves()}},
			wantDue:     []string{"b.lb.example.org"},
			wantActions: map[string][]Action{"b.lb.example.org": {Write, Unread}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := planConfig(t, tc.aliases)
			res, rep := loads(tc.loads)
			in := Input{Now: planNow, Config: cfg, Schedule: tc.sched, All: tc.all, Resolved: res, Replies: rep,
				Served: tc.served, MayWrite: tc.mayWrite, DryRun: tc.dryRun}
			plan := Decide(in)
			assert.Equal(t, plan, Decide(in), "pure: the same input gives the same plan")

			var due []string
			for _, ap := range plan.Aliases {
				due = append(due, ap.Name)
			}
			assert.Equal(t, tc.wantDue, due, "due aliases")
			assert.Equal(t, tc.wantNextDue, plan.NextDue, "next due")
			for _, ap := range plan.Aliases {
				if want, ok := tc.wantHosts[ap.Name]; ok {
					assert.Equal(t, want, ap.Decision.Hosts, "%s: hosts", ap.Name)
				}
				if want, ok := tc.wantActions[ap.Name]; ok {
					assert.Equal(t, want, actions(ap), "%s: actions per view", ap.Name)
				}
				if want, ok := tc.wantDecided[ap.Name]; ok {
					assert.Equal(t, want, ap.Decided, "%s: decided", ap.Name)
				} else {
					assert.True(t, ap.Decided, "%s: decided", ap.Name)
				}
				assert.Equal(t, tc.wantFB[ap.Name], ap.Decision.Fallback, "%s: fallback", ap.Name)
				for _, vp := range ap.Views {
					switch vp.Action {
					case Write, Passive, DryRun:
						assert.False(t, vp.Change.Empty(), "%s: %s with an empty change", ap.Name, vp.Action)
						assert.Equal(t, sortedAddrs(ap.Decision.Addrs), sortedAddrs(vp.Change.Desired), "%s: the change publishes the decision", ap.Name)
					case InSync, Kept:
						assert.True(t, vp.Change.Empty(), "%s: %s with a change", ap.Name, vp.Action)
					case Unread:
						assert.Error(t, vp.Err)
					}
				}
			}
		})
	}
}

func sortedAddrs(a []netip.Addr) []netip.Addr {
	out := append([]netip.Addr{}, a...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j].Less(out[i]) {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestDecideExternalViewSignsNothingItself(t *testing.T) {
	// The compiled views: internal per server, then external per server,
	// each with its own client and key.
	cfg := planConfig(t, aliasA+"external = true\n"+aliasB)
	require.Len(t, cfg.Views, 4)
	assert.Equal(t, []int{0, 1, 2, 3}, cfg.ViewsOf(&cfg.Params[0]))
	assert.Equal(t, []int{0, 1}, cfg.ViewsOf(&cfg.Params[1]))
	assert.Equal(t, "127.0.0.1:5301 (external view)", cfg.Views[2].String())
	assert.Equal(t, "int.", cfg.Views[0].Client.Key.Name)
	assert.Equal(t, "ext.", cfg.Views[3].Client.Key.Name)
	assert.Same(t, cfg.Views[0].Client.Key, cfg.Views[1].Client.Key, "one compiled key per configured key")
}

func TestReschedule(t *testing.T) {
	p := &config.Params{PollingInterval: 5 * time.Minute}
	tick := time.Second
	cases := []struct {
		name   string
		prev   Schedule
		failed Outcome
		want   Schedule
	}{
		{"success: next polling interval", Schedule{Failures: 2}, Succeeded, Schedule{NextDue: planNow.Add(5 * time.Minute)}},
		{"first failure: one tick", Schedule{}, FailedTransient, Schedule{NextDue: planNow.Add(time.Second), Failures: 1}},
		{"third failure: four ticks", Schedule{Failures: 2}, FailedTransient, Schedule{NextDue: planNow.Add(4 * time.Second), Failures: 3}},
		{"backoff capped at 64 ticks", Schedule{Failures: 20}, FailedTransient, Schedule{NextDue: planNow.Add(64 * time.Second), Failures: 21}},
		{"permanent failure: not retried before the polling interval", Schedule{}, FailedPermanent, Schedule{NextDue: planNow.Add(5 * time.Minute), Failures: 1}},
		{"poked meanwhile: stays due", Schedule{Poked: true, Failures: 1}, FailedTransient, Schedule{Poked: true, Failures: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Reschedule(planNow, tick, p, tc.prev, tc.failed))
		})
	}
	short := &config.Params{PollingInterval: 3 * time.Second}
	assert.Equal(t, planNow.Add(3*time.Second), Reschedule(planNow, tick, short, Schedule{Failures: 5}, FailedTransient).NextDue,
		"backoff never longer than the polling interval")
}

func TestDecideDrift(t *testing.T) {
	cfg := planConfig(t, aliasA)
	res, rep := loads(map[string]int{"192.0.2.1": 10, "192.0.2.2": 20})
	left := map[string]map[string][]netip.Addr{"a.lb.example.org": {
		"127.0.0.1:5301": ips("192.0.2.1"), "127.0.0.1:5302": ips("192.0.2.1")}}
	in := Input{Now: planNow, Config: cfg, Resolved: res, Replies: rep, Known: left, MayWrite: true,
		Served: map[string][]Served{"a.lb.example.org": {serves("192.0.2.1"), serves("192.0.2.77")}}}
	ap := Decide(in).Aliases[0]
	assert.Equal(t, []Action{InSync, Write}, actions(ap))
	assert.False(t, ap.Views[0].Drift, "server 1 serves what lbd left")
	assert.True(t, ap.Views[1].Drift, "server 2 was changed behind lbd's back")
	assert.Equal(t, ips("192.0.2.1"), ap.Views[1].Known)
	assert.Equal(t, ips("192.0.2.77"), ap.Views[1].Served)

	in.MayWrite = false
	assert.False(t, Decide(in).Aliases[0].Views[1].Drift, "a passive slave sees the master's writes, not drift")
	in.MayWrite, in.Known = true, nil
	assert.False(t, Decide(in).Aliases[0].Views[1].Drift, "nothing known (first cycle): no drift")
}

func TestDecideOwnership(t *testing.T) {
	res, rep := loads(map[string]int{"192.0.2.1": 10, "192.0.2.2": 20})
	foreign := Served{State: serves("192.0.2.9").State} // records, no ownership record
	other := Served{State: serves("192.0.2.9").State, Meta: []string{"lbd-owner v=1 group=elsewhere"}}
	cases := []struct {
		name     string
		alias    string
		served   []Served
		actions  []Action
		setOwner []bool
		ifOwner  []bool
	}{
		{"own name: change required to still be ours", aliasA, []Served{serves("192.0.2.2"), serves("192.0.2.1")},
			[]Action{Write, InSync}, []bool{false, false}, []bool{true, true}},
		{"empty name: claimed with the first write", aliasA, []Served{serves(), serves()},
			[]Action{Write, Write}, []bool{true, true}, []bool{false, false}},
		{"records lbd did not write: left alone", aliasA, []Served{foreign, other},
			[]Action{Foreign, Foreign}, []bool{false, false}, []bool{false, false}},
		{"adopt takes them over", aliasA + "adopt = true\n", []Served{foreign, {State: serves("192.0.2.1").State}},
			[]Action{Write, Write}, []bool{true, true}, []bool{false, false}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := planConfig(t, tc.alias)
			ap := Decide(Input{Now: planNow, Config: cfg, Resolved: res, Replies: rep, MayWrite: true,
				Served: map[string][]Served{"a.lb.example.org": tc.served}}).Aliases[0]
			assert.Equal(t, tc.actions, actions(ap))
			for k, vp := range ap.Views {
				if vp.Action == Foreign {
					assert.ErrorContains(t, vp.Err, "did not write")
					continue
				}
				assert.Equal(t, []string{testOwner}, vp.Change.Meta)
				assert.Equal(t, tc.setOwner[k], vp.Change.MetaSet, "view %d MetaSet", k)
				assert.Equal(t, tc.ifOwner[k] && !vp.Change.Empty(), vp.Change.MetaRequire && !vp.Change.Empty(), "view %d MetaRequire", k)
			}
		})
	}
}

func TestDecideRemovals(t *testing.T) {
	cfg := planConfig(t, aliasA)
	gone := Managed{Name: "old.lb.example.org", Zone: "old.lb.example.org"}
	for _, tc := range []struct {
		name     string
		mayWrite bool
		dryRun   bool
		want     Action
	}{
		{"master deletes", true, false, Write},
		{"dry run shows the deletion", true, true, DryRun},
		{"passive slave does not", false, false, Passive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan := Decide(Input{Now: planNow, Config: cfg, Schedule: map[string]Schedule{"a.lb.example.org": {NextDue: planNow.Add(time.Hour)}},
				Removed: []Managed{gone}, MayWrite: tc.mayWrite, DryRun: tc.dryRun,
				RemovedServed: map[string][]Served{gone.Name: {{Meta: []string{testOwner}}, {Meta: []string{testOwner}}, {Meta: []string{testOwner}}, {Meta: []string{testOwner}}}}})
			assert.Empty(t, plan.Aliases, "removals need no due alias")
			require.Len(t, plan.Removals, 1)
			require.Len(t, plan.Removals[0].Views, len(cfg.Views), "every view, internal and external")
			for _, vp := range plan.Removals[0].Views {
				assert.Equal(t, tc.want, vp.Action)
				assert.True(t, vp.Change.Delete && vp.Change.MetaRequire, "deleted only if still ours")
				assert.Equal(t, []string{testOwner}, vp.Change.MetaExpect)
			}
		})
	}
}

func TestDecideFencedView(t *testing.T) {
	cfg := planConfig(t, aliasA)
	cfg.DNS.Fencing = true
	res, rep := loads(map[string]int{"192.0.2.1": 10, "192.0.2.2": 20})
	held := lease.State{Records: []string{lease.Record{Holder: "s", Epoch: 2, Until: planNow.Add(time.Hour)}.String()}}
	plan := Decide(Input{Now: planNow, Config: cfg, Resolved: res, Replies: rep, MayWrite: true,
		Served: map[string][]Served{"a.lb.example.org": {serves(), serves()}},
		Role:   lease.Role{Instance: "m", Master: true, Active: true, TTL: time.Hour},
		Leases: map[int]map[string]lease.State{0: {"a.lb.example.org": held}, 1: {"a.lb.example.org": {}}}})
	assert.Equal(t, []Action{Fenced, Write}, actions(plan.Aliases[0]), "server 1's zone is held by the slave; server 2 has no lease yet")
	assert.ErrorContains(t, plan.Aliases[0].Views[0].Err, "lease held by s")
	assert.Equal(t, "", plan.Leases[1]["a.lb.example.org"].Lease.Expect)
}

func TestOutcomeOf(t *testing.T) {
	refused := &dnsupdate.RcodeError{Op: "update", Zone: "z.", Rcode: 5}
	servfail := &dnsupdate.RcodeError{Op: "update", Zone: "z.", Rcode: 2}
	for _, tc := range []struct {
		name    string
		servers map[string]error
		want    Outcome
	}{
		{"ok", nil, Succeeded},
		{"timeout", map[string]error{"a": errors.New("i/o timeout")}, FailedTransient},
		{"refused", map[string]error{"a": fmt.Errorf("update: %w", refused)}, FailedPermanent},
		{"servfail", map[string]error{"a": servfail}, FailedTransient},
		{"not ours", map[string]error{"a": &permanentError{errors.New("did not write")}}, FailedPermanent},
		{"one transient among permanent", map[string]error{"a": refused, "b": errors.New("timeout")}, FailedTransient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if len(tc.servers) > 0 {
				err = errors.New("failed")
			}
			assert.Equal(t, tc.want, OutcomeOf(err, tc.servers))
		})
	}
}

func TestDecideOverrides(t *testing.T) {
	cfg := planConfig(t, aliasA+"best_hosts = 2\n")
	res, rep := loads(map[string]int{"192.0.2.1": 10, "192.0.2.2": 20})
	drain := func(member string, until time.Time) override.Override {
		return override.Override{Alias: "a.lb.example.org", Member: member, Action: override.Drain, Reason: "maintenance",
			Author: "alice", Since: planNow.Add(-time.Minute), Until: until}
	}
	inForce := drain("192.0.2.1", planNow.Add(time.Hour))
	expired := drain("192.0.2.2", planNow.Add(-time.Second))
	withMeta := func(s Served, texts ...string) Served { s.Meta = append(s.Meta, texts...); return s }

	t.Run("a drain in force takes the member out", func(t *testing.T) {
		served := withMeta(serves("192.0.2.1", "192.0.2.2"), inForce.Text())
		ap := Decide(Input{Now: planNow, Config: cfg, Resolved: res, Replies: rep, MayWrite: true,
			Served: map[string][]Served{"a.lb.example.org": {served, served}}}).Aliases[0]
		assert.Equal(t, []string{"192.0.2.2"}, ap.Decision.Hosts)
		assert.Equal(t, choice.LoadDrained, ap.Members[0].Load)
		require.Len(t, ap.Overrides, 1)
		assert.False(t, ap.Views[0].Change.MetaSet, "the metadata already says so")
		assert.Equal(t, served.Meta, ap.Views[0].Change.MetaExpect, "the write requires the metadata as read")
	})
	t.Run("an expired drain ends by itself and is removed from the zone", func(t *testing.T) {
		served := withMeta(serves("192.0.2.1"), expired.Text())
		ap := Decide(Input{Now: planNow, Config: cfg, Resolved: res, Replies: rep, MayWrite: true,
			Served: map[string][]Served{"a.lb.example.org": {served, served}}}).Aliases[0]
		assert.Equal(t, []string{"192.0.2.1", "192.0.2.2"}, ap.Decision.Hosts)
		assert.Empty(t, ap.Overrides)
		assert.True(t, ap.Views[0].Change.MetaSet)
		assert.Equal(t, []string{testOwner}, ap.Views[0].Change.Meta)
	})
	t.Run("an operator's edit is written with the cycle", func(t *testing.T) {
		served := serves("192.0.2.1", "192.0.2.2")
		ap := Decide(Input{Now: planNow, Config: cfg, Resolved: res, Replies: rep, MayWrite: true,
			Served: map[string][]Served{"a.lb.example.org": {served, served}},
			Edits:  map[string][]override.Edit{"a.lb.example.org": {{Set: &inForce}}}}).Aliases[0]
		assert.Equal(t, []string{"192.0.2.2"}, ap.Decision.Hosts)
		assert.Equal(t, []Action{Write, Write}, actions(ap))
		want := []string{inForce.Text(), testOwner}
		slices.Sort(want)
		assert.Equal(t, want, ap.Views[1].Change.Meta, "every view gets the override")
	})
	t.Run("draining every usable member is said, and the fallback decides", func(t *testing.T) {
		both := withMeta(serves("192.0.2.1", "192.0.2.2"), inForce.Text(), drain("192.0.2.2", planNow.Add(time.Hour)).Text())
		ap := Decide(Input{Now: planNow, Config: cfg, Resolved: res, Replies: rep, MayWrite: true,
			Served: map[string][]Served{"a.lb.example.org": {both, both}}}).Aliases[0]
		assert.True(t, ap.DrainEmptied)
		assert.Equal(t, config.FallbackKeep, ap.Decision.Fallback)
	})
}

func TestDecideRemovalOfForeignName(t *testing.T) {
	cfg := planConfig(t, aliasA)
	gone := Managed{Name: "old.lb.example.org", Zone: "old.lb.example.org"}
	other := []Served{{Meta: []string{"lbd-owner v=1 group=elsewhere"}}, {}, {Err: errors.New("timeout")}, {}}
	plan := Decide(Input{Now: planNow, Config: cfg, Schedule: map[string]Schedule{"a.lb.example.org": {NextDue: planNow.Add(time.Hour)}},
		Removed: []Managed{gone}, RemovedServed: map[string][]Served{gone.Name: other}, MayWrite: true})
	var got []Action
	for _, vp := range plan.Removals[0].Views {
		got = append(got, vp.Action)
	}
	assert.Equal(t, []Action{InSync, InSync, Unread, InSync}, got, "not ours or gone: nothing to delete; unread: retried")
}

// The permission to write is taken when sending: a plan made while this
// instance could write sends nothing once allow says it may not.
func TestApplyChecksRoleAtWriteTime(t *testing.T) {
	cfg := planConfig(t, aliasA)
	res, rep := loads(map[string]int{"192.0.2.1": 10})
	plan := Decide(Input{Now: planNow, Config: cfg, Resolved: res, Replies: rep, MayWrite: true,
		Served: map[string][]Served{"a.lb.example.org": {serves(), serves()}}})
	require.Equal(t, []Action{Write, Write}, actions(plan.Aliases[0]))
	var asked atomic.Int32
	out := Apply(context.Background(), cfg, plan, func() bool { asked.Add(1); return false }, nil)
	assert.Equal(t, int32(2), asked.Load(), "asked for each server")
	require.Len(t, out.Aliases[0].Errs, 2)
	for _, err := range out.Aliases[0].Errs {
		assert.ErrorContains(t, err, "may no longer write")
	}
	assert.Empty(t, out.Aliases[0].Written)
}

func intReply(n int) snmp.Reply { return snmp.Reply{Value: snmp.Value{Int: n}} }

func ips(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

// A shard writes the zones it owns (taking their leases with until) and
// leaves the others Passive: no error, no lease taken, no hand-back of a
// lease it does not hold.
func TestDecideSharded(t *testing.T) {
	cfg := planConfig(t, aliasA+aliasB)
	cfg.DNS.Fencing = true
	res, rep := loads(map[string]int{"192.0.2.1": 10, "192.0.2.2": 20, "192.0.2.3": 5})
	peer := lease.State{Records: []string{lease.Record{Holder: "b", Epoch: 2, Until: planNow.Add(time.Second)}.String()}}
	plan := Decide(Input{Now: planNow, Config: cfg, Resolved: res, Replies: rep, MayWrite: true,
		Served: map[string][]Served{"a.lb.example.org": {serves(), serves()}, "b.lb.example.org": {serves(), serves()}},
		Role:   lease.Role{Instance: "a", Master: true, Active: true, TTL: 2 * time.Second, Sharded: true},
		Owned:  map[string]bool{"a.lb.example.org": true},
		Leases: map[int]map[string]lease.State{0: {"a.lb.example.org": {}, "b.lb.example.org": peer}, 1: {"a.lb.example.org": {}, "b.lb.example.org": {}}}})
	require.Len(t, plan.Aliases, 2)
	assert.Equal(t, []Action{Write, Write}, actions(plan.Aliases[0]), "its own zone")
	assert.Equal(t, lease.Record{Holder: "a", Epoch: 1, Until: planNow.Add(2 * time.Second)}.String(), plan.Leases[0]["a.lb.example.org"].Lease.Set)
	assert.Equal(t, []Action{Passive, Passive}, actions(plan.Aliases[1]), "another instance's zone")
	for _, vp := range plan.Aliases[1].Views {
		assert.NoError(t, vp.Err)
	}
	assert.False(t, plan.Leases[0]["b.lb.example.org"].Lease.Swaps())
	assert.False(t, plan.Leases[1]["b.lb.example.org"].Lease.Swaps())
}

// What another lease holder wrote is no drift: not while this shard waits
// for the lease, nor in the cycle that takes it; with its own lease held,
// a change behind its back is.
func TestDecideDriftAcrossLeaseHolders(t *testing.T) {
	cfg := planConfig(t, aliasA)
	cfg.DNS.Fencing = true
	res, rep := loads(map[string]int{"192.0.2.1": 10, "192.0.2.2": 20})
	known := map[string]map[string][]netip.Addr{"a.lb.example.org": {cfg.Views[0].String(): ips("192.0.2.2")}}
	role := lease.Role{Instance: "a", TTL: 2 * time.Second, Sharded: true}
	rec := func(l lease.Record) lease.State { return lease.State{Records: []string{l.String()}} }
	for _, tc := range []struct {
		name  string
		st    lease.State
		drift bool
	}{
		{"waiting for another's lease", rec(lease.Record{Holder: "b", Epoch: 2, Until: planNow.Add(time.Second)}), false},
		{"taking another's expired lease", rec(lease.Record{Holder: "b", Epoch: 2, Until: planNow.Add(-time.Second)}), false},
		{"taking a released lease", rec(lease.Record{Released: true, Epoch: 3}), false},
		{"holding its own lease", rec(lease.Record{Holder: "a", Epoch: 2, Until: planNow.Add(2 * time.Second)}), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan := Decide(Input{Now: planNow, Config: cfg, Resolved: res, Replies: rep, MayWrite: true, Known: known,
				Served: map[string][]Served{"a.lb.example.org": {serves("192.0.2.1"), serves("192.0.2.1")}},
				Role:   role, Owned: map[string]bool{"a.lb.example.org": true},
				Leases: map[int]map[string]lease.State{0: {"a.lb.example.org": tc.st}, 1: {"a.lb.example.org": tc.st}}})
			require.Len(t, plan.Aliases, 1)
			assert.Equal(t, tc.drift, plan.Aliases[0].Views[0].Drift)
		})
	}
}
