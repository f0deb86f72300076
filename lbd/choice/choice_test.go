package choice

import (
	"errors"
	"math/rand"
	"net/netip"
	"reflect"
	"sort"
	"testing"

	"github.com/lbd-project/lbd/lbd/config"
	"github.com/lbd-project/lbd/lbd/snmp"
)

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func ips(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, ip(s))
	}
	return out
}

func intReply(n int) snmp.Reply    { return snmp.Reply{Value: snmp.Value{Int: n}} }
func strReply(s string) snmp.Reply { return snmp.Reply{Value: snmp.Value{IsString: true, Str: s}} }

var errTimeout = errors.New("timeout")

// docs/protocol.md §3.3 table, with D2 fixed.
func TestMemberFor(t *testing.T) {
	v4, v6 := ip("192.0.2.1"), ip("2001:db8::1")
	cases := []struct {
		name     string
		alias    string
		resolved []netip.Addr
		replies  map[netip.Addr]snmp.Reply
		load     int
		addrs    []netip.Addr
	}{
		{"both answer 50", "a", []netip.Addr{v6, v4}, map[netip.Addr]snmp.Reply{v6: intReply(50), v4: intReply(50)}, 50, []netip.Addr{v6, v4}},
		{"v6 timed out", "a", []netip.Addr{v6, v4}, map[netip.Addr]snmp.Reply{v6: {Err: errTimeout}, v4: intReply(50)}, 50, []netip.Addr{v4}},
		{"both -13", "a", []netip.Addr{v4, v6}, map[netip.Addr]snmp.Reply{v4: intReply(-13), v6: intReply(-13)}, -13, nil},
		{"v4 0, v6 50: minimum usable (D2)", "a", []netip.Addr{v4, v6}, map[netip.Addr]snmp.Reply{v4: intReply(0), v6: intReply(50)}, 50, []netip.Addr{v6}},
		{"different values: minimum", "a", []netip.Addr{v4, v6}, map[netip.Addr]snmp.Reply{v4: intReply(70), v6: intReply(20)}, 20, []netip.Addr{v4, v6}},
		{"all failed", "a", []netip.Addr{v4, v6}, map[netip.Addr]snmp.Reply{v4: {Err: errTimeout}, v6: {Err: errTimeout}}, LoadNoAnswer, nil},
		{"missing reply counts as no answer", "a", []netip.Addr{v4}, nil, LoadNoAnswer, nil},
		{"no addresses", "a", nil, nil, LoadNoAddress, nil},
		{"string negative for alias", "b.cern.ch", []netip.Addr{v4}, map[netip.Addr]snmp.Reply{v4: strReply("a.cern.ch=5,b.cern.ch=-7")}, -7, nil},
		{"string exact match (D1)", "a.cern.ch", []netip.Addr{v4}, map[netip.Addr]snmp.Reply{v4: strReply("xa.cern.ch=5,a.cern.ch=7")}, 7, []netip.Addr{v4}},
		{"alias absent from string", "c.cern.ch", []netip.Addr{v4}, map[netip.Addr]snmp.Reply{v4: strReply("a.cern.ch=5")}, LoadNoAnswer, nil},
		{"per-address string values checked", "a", []netip.Addr{v4, v6}, map[netip.Addr]snmp.Reply{v4: strReply("a=-1"), v6: strReply("a=30")}, 30, []netip.Addr{v6}},
		{"too large is unusable", "a", []netip.Addr{v4}, map[netip.Addr]snmp.Reply{v4: intReply(100000)}, 100000, nil},
		{"explicit code preferred over no answer", "a", []netip.Addr{v4, v6}, map[netip.Addr]snmp.Reply{v4: {Err: errTimeout}, v6: intReply(-1)}, -1, nil},
	}
	for _, c := range cases {
		m := MemberFor(c.alias, "h", c.resolved, c.replies)
		if m.Load != c.load || !reflect.DeepEqual(m.Addrs, c.addrs) {
			t.Errorf("%s: load %d addrs %v, want %d %v", c.name, m.Load, m.Addrs, c.load, c.addrs)
		}
	}
}

func mem(host string, load int, addrs ...string) Member {
	m := Member{Host: host, Load: load, All: ips(addrs...)}
	if Usable(load) {
		m.Addrs = m.All
	}
	return m
}

func TestSelect(t *testing.T) {
	five := []Member{
		mem("h27a", 27, "10.0.0.3"), mem("h2", 2, "10.0.0.1", "2001:db8::1"), mem("h816", 816, "10.0.0.5"),
		mem("h3", 3, "10.0.0.2"), mem("h27b", 27, "10.0.0.4"),
	}
	down := []Member{mem("d1", -1, "10.0.1.1"), mem("d2", LoadNoAnswer, "10.0.1.2", "10.0.1.3"), mem("d3", LoadNoAddress)}
	cases := []struct {
		name  string
		in    Input
		hosts []string
		addrs []netip.Addr
		keep  bool
		fb    config.Fallback
	}{
		{"best 2 of {2,3,27,27,816}", Input{Alias: "a", BestHosts: 2, Members: five},
			[]string{"h2", "h3"}, ips("10.0.0.1", "2001:db8::1", "10.0.0.2"), false, ""},
		{"best -1 = every usable", Input{Alias: "a", BestHosts: -1, Members: append([]Member{mem("x", -6, "10.9.9.9")}, five...)},
			[]string{"h2", "h3", "h27b", "h27a", "h816"}, nil, false, ""}, // 27/27 tie: stable hash order
		{"N larger than members clamps", Input{Alias: "a", BestHosts: 10, Members: five[:2]},
			[]string{"h2", "h27a"}, ips("10.0.0.1", "2001:db8::1", "10.0.0.3"), false, ""},
		{"fewer usable than N", Input{Alias: "a", BestHosts: 3, Members: []Member{mem("u", 5, "10.0.0.1"), down[0], down[1]}},
			[]string{"u"}, ips("10.0.0.1"), false, ""},
		{"none usable, keep", Input{Alias: "a", BestHosts: 2, Fallback: config.FallbackKeep, Members: down}, nil, nil, true, config.FallbackKeep},
		{"none usable, none", Input{Alias: "a", BestHosts: 2, Fallback: config.FallbackNone, Members: down}, nil, nil, false, config.FallbackNone},
		{"no members at all, none", Input{Alias: "a", BestHosts: 2, Fallback: config.FallbackNone}, nil, nil, false, config.FallbackNone},
		{"usable but no address that answered is not usable", Input{Alias: "a", BestHosts: 1, Fallback: config.FallbackNone,
			Members: []Member{{Host: "odd", Load: 5, All: ips("10.0.0.1")}}}, nil, nil, false, config.FallbackNone},
	}
	for _, c := range cases {
		d := Select(c.in)
		if !reflect.DeepEqual(d.Hosts, c.hosts) || d.Keep != c.keep || d.Fallback != c.fb {
			t.Errorf("%s: got hosts %v keep %v fb %q, want %v %v %q", c.name, d.Hosts, d.Keep, d.Fallback, c.hosts, c.keep, c.fb)
		}
		if c.addrs != nil && !reflect.DeepEqual(d.Addrs, c.addrs) {
			t.Errorf("%s: addrs %v, want %v", c.name, d.Addrs, c.addrs)
		}
	}
}

func TestSelectAllRandomFallback(t *testing.T) {
	down := []Member{mem("d1", -1, "10.0.1.1"), mem("d2", LoadNoAnswer, "10.0.1.2", "10.0.1.3"), mem("d3", LoadNoAddress), mem("d4", 0, "10.0.1.4")}
	d := Select(Input{Alias: "a", BestHosts: 2, Fallback: config.FallbackAllRandom, Members: down})
	if len(d.Hosts) != 2 || d.Fallback != config.FallbackAllRandom {
		t.Fatalf("want 2 hosts via all-random, got %+v", d)
	}
	// Every resolved address of the chosen members, whatever their SNMP result.
	var want []netip.Addr
	for _, h := range d.Hosts {
		for _, m := range down {
			if m.Host == h {
				want = append(want, m.All...)
			}
		}
	}
	if !reflect.DeepEqual(d.Addrs, want) {
		t.Fatalf("addrs %v want %v", d.Addrs, want)
	}
	// Sticky: whatever is published stays chosen.
	d2 := Select(Input{Alias: "a", BestHosts: 1, Fallback: config.FallbackAllRandom, Members: down, Published: ips("10.0.1.4")})
	if !reflect.DeepEqual(d2.Hosts, []string{"d4"}) {
		t.Fatalf("published member not kept: %v", d2.Hosts)
	}
	// -1: every member that has an address.
	d3 := Select(Input{Alias: "a", BestHosts: -1, Fallback: config.FallbackAllRandom, Members: down})
	if len(d3.Hosts) != 3 {
		t.Fatalf("-1 all-random: %v", d3.Hosts)
	}
}

func TestSelectHysteresisAndTies(t *testing.T) {
	// Published member with load 100; a newcomer at 95 does not beat the 10 % margin.
	ms := []Member{mem("old", 100, "10.0.0.1"), mem("new", 95, "10.0.0.2")}
	in := Input{Alias: "a", BestHosts: 1, Hysteresis: 0.1, Members: ms, Published: ips("10.0.0.1")}
	if d := Select(in); !reflect.DeepEqual(d.Hosts, []string{"old"}) {
		t.Fatalf("near-equal load reshuffled: %v", d.Hosts)
	}
	// At 80 it does.
	ms[1].Load = 80
	if d := Select(in); !reflect.DeepEqual(d.Hosts, []string{"new"}) {
		t.Fatalf("clearly better member not chosen: %v", d.Hosts)
	}
	// Without hysteresis, equal loads prefer the published one.
	ms[1].Load = 100
	in.Hysteresis = 0
	if d := Select(in); !reflect.DeepEqual(d.Hosts, []string{"old"}) {
		t.Fatalf("tie did not prefer published: %v", d.Hosts)
	}
	in.Published = ips("10.0.0.2")
	if d := Select(in); !reflect.DeepEqual(d.Hosts, []string{"new"}) {
		t.Fatalf("tie did not prefer published: %v", d.Hosts)
	}
}

func TestSelectDeterministic(t *testing.T) {
	var ms []Member
	for i := 0; i < 20; i++ {
		ms = append(ms, mem("h"+string(rune('a'+i)), 10, netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}).String()))
	}
	first := Select(Input{Alias: "x", BestHosts: 3, Members: ms})
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 50; i++ {
		shuf := append([]Member(nil), ms...)
		rng.Shuffle(len(shuf), func(a, b int) { shuf[a], shuf[b] = shuf[b], shuf[a] })
		if d := Select(Input{Alias: "x", BestHosts: 3, Members: shuf}); !reflect.DeepEqual(d.Hosts, first.Hosts) {
			t.Fatalf("order-dependent: %v vs %v", d.Hosts, first.Hosts)
		}
	}
	// Published hosts stay when the ranking would otherwise pick others.
	pub := Select(Input{Alias: "x", BestHosts: 3, Members: ms, Published: append(ms[17].All, ms[18].All[0], ms[19].All[0])})
	got := append([]string(nil), pub.Hosts...)
	sort.Strings(got)
	if !reflect.DeepEqual(got, []string{"hr", "hs", "ht"}) {
		t.Fatalf("published tied hosts not kept: %v", pub.Hosts)
	}
}

// all-random publishes best_hosts members that have addresses: a member that
// resolved to nothing must not take one of the N places.
func TestSelectAllRandomSkipsMembersWithoutAddress(t *testing.T) {
	for _, alias := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		down := []Member{mem("none", LoadNoAddress), mem("x", LoadNoAnswer, "10.0.2.1"), mem("y", -1, "10.0.2.2")}
		d := Select(Input{Alias: alias, BestHosts: 2, Fallback: config.FallbackAllRandom, Members: down})
		if len(d.Hosts) != 2 || len(d.Addrs) != 2 {
			t.Fatalf("alias %s: want x and y, got %+v", alias, d)
		}
	}
}
