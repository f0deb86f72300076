package dnsupdate

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func TestDiff(t *testing.T) {
	const zone, name = "lb.example.org", "www.lb.example.org"
	tests := []struct {
		name           string
		cur            State
		desired        []netip.Addr
		ttl            uint32
		add, remove    []netip.Addr
		replace, empty bool
		wantDesired    []netip.Addr
		wantLines      []string
	}{
		{
			name: "empty to empty", ttl: 60, empty: true,
		},
		{
			name: "add to empty", desired: addrs("127.0.0.2", "::2"), ttl: 60,
			add: addrs("127.0.0.2", "::2"), wantDesired: addrs("127.0.0.2", "::2"),
			wantLines: []string{"add www.lb.example.org. 60 IN A 127.0.0.2", "add www.lb.example.org. 60 IN AAAA ::2"},
		},
		{
			name: "remove all", cur: State{A: addrs("127.0.0.1"), AAAA: addrs("::1"), TTL: 60}, ttl: 60,
			remove:    addrs("127.0.0.1", "::1"),
			wantLines: []string{"delete www.lb.example.org. IN A 127.0.0.1", "delete www.lb.example.org. IN AAAA ::1"},
		},
		{
			name: "add and remove", cur: State{A: addrs("127.0.0.1", "127.0.0.2"), TTL: 60},
			desired: addrs("127.0.0.2", "127.0.0.3"), ttl: 60,
			add: addrs("127.0.0.3"), remove: addrs("127.0.0.1"), wantDesired: addrs("127.0.0.2", "127.0.0.3"),
			wantLines: []string{"delete www.lb.example.org. IN A 127.0.0.1", "add www.lb.example.org. 60 IN A 127.0.0.3"},
		},
		{
			name: "no change", cur: State{A: addrs("127.0.0.1"), AAAA: addrs("::1"), TTL: 60},
			desired: addrs("::1", "127.0.0.1"), ttl: 60, empty: true, wantDesired: addrs("127.0.0.1", "::1"),
		},
		{
			name: "duplicates collapse", cur: State{A: addrs("127.0.0.1"), TTL: 60},
			desired: addrs("127.0.0.1", "127.0.0.1", "::ffff:127.0.0.1", "::5", "::5"), ttl: 60,
			add: addrs("::5"), wantDesired: addrs("127.0.0.1", "::5"),
			wantLines: []string{"add www.lb.example.org. 60 IN AAAA ::5"},
		},
		{
			name: "ttl change on staying records", cur: State{A: addrs("127.0.0.1", "127.0.0.2"), TTL: 300},
			desired: addrs("127.0.0.1", "127.0.0.3"), ttl: 60, replace: true,
			add: addrs("127.0.0.3"), remove: addrs("127.0.0.2"), wantDesired: addrs("127.0.0.1", "127.0.0.3"),
			wantLines: []string{"delete www.lb.example.org. A (whole RRset)",
				"add www.lb.example.org. 60 IN A 127.0.0.1", "add www.lb.example.org. 60 IN A 127.0.0.3"},
		},
		{
			name: "ttl change only", cur: State{AAAA: addrs("::1"), TTL: 300},
			desired: addrs("::1"), ttl: 60, replace: true, wantDesired: addrs("::1"),
			wantLines: []string{"delete www.lb.example.org. AAAA (whole RRset)", "add www.lb.example.org. 60 IN AAAA ::1"},
		},
		{
			name: "ttl differs but nothing stays", cur: State{A: addrs("127.0.0.1"), TTL: 300},
			desired: addrs("127.0.0.2"), ttl: 60,
			add: addrs("127.0.0.2"), remove: addrs("127.0.0.1"), wantDesired: addrs("127.0.0.2"),
			wantLines: []string{"delete www.lb.example.org. IN A 127.0.0.1", "add www.lb.example.org. 60 IN A 127.0.0.2"},
		},
		{
			name: "per-RRset TTLs: only AAAA wrong", cur: State{A: addrs("127.0.0.1"), AAAA: addrs("::1"), TTL: 60, ATTL: 60, AAAATTL: 300},
			desired: addrs("127.0.0.1", "::1"), ttl: 60, replace: true, wantDesired: addrs("127.0.0.1", "::1"),
			wantLines: []string{"delete www.lb.example.org. A (whole RRset)", "delete www.lb.example.org. AAAA (whole RRset)",
				"add www.lb.example.org. 60 IN A 127.0.0.1", "add www.lb.example.org. 60 IN AAAA ::1"},
		},
		{
			name: "v4 and v6 mix", cur: State{A: addrs("127.0.0.1"), AAAA: addrs("::1", "::2"), TTL: 60},
			desired: addrs("::3", "127.0.0.1", "::2", "127.0.0.4"), ttl: 60,
			add: addrs("127.0.0.4", "::3"), remove: addrs("::1"), wantDesired: addrs("127.0.0.1", "127.0.0.4", "::2", "::3"),
			wantLines: []string{"delete www.lb.example.org. IN AAAA ::1",
				"add www.lb.example.org. 60 IN A 127.0.0.4", "add www.lb.example.org. 60 IN AAAA ::3"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Diff(zone, name, tt.cur, tt.desired, tt.ttl)
			if c.Zone != "lb.example.org." || c.Name != "www.lb.example.org." || c.TTL != tt.ttl {
				t.Errorf("zone/name/ttl = %q %q %d", c.Zone, c.Name, c.TTL)
			}
			if !slices.Equal(c.Add, tt.add) || !slices.Equal(c.Remove, tt.remove) {
				t.Errorf("add %v remove %v, want add %v remove %v", c.Add, c.Remove, tt.add, tt.remove)
			}
			if c.Replace != tt.replace || c.Empty() != tt.empty {
				t.Errorf("replace %v empty %v, want %v %v", c.Replace, c.Empty(), tt.replace, tt.empty)
			}
			if !slices.Equal(c.Desired, tt.wantDesired) {
				t.Errorf("desired %v, want %v", c.Desired, tt.wantDesired)
			}
			var lines []string
			if s := c.String(); s != "" {
				lines = strings.Split(s, "\n")
			}
			if !slices.Equal(lines, tt.wantLines) {
				t.Errorf("String():\n%s\nwant:\n%s", c.String(), strings.Join(tt.wantLines, "\n"))
			}
		})
	}
}

func TestDiffDoesNotModifyInputs(t *testing.T) {
	cur := State{A: addrs("127.0.0.2", "127.0.0.1"), TTL: 60}
	desired := addrs("127.0.0.3", "127.0.0.1")
	Diff("z", "z", cur, desired, 60)
	if !slices.Equal(cur.A, addrs("127.0.0.2", "127.0.0.1")) || !slices.Equal(desired, addrs("127.0.0.3", "127.0.0.1")) {
		t.Fatalf("inputs modified: %v %v", cur.A, desired)
	}
}
