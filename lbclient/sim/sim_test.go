package sim

import (
	"net/netip"
	"strings"
	"testing"
)

func TestAddrSkipsNetworkAndBroadcastOctets(t *testing.T) {
	base := netip.MustParseAddr("127.1.0.1")
	for i, want := range map[int]string{0: "127.1.0.1", 253: "127.1.0.254", 254: "127.1.1.1", 508: "127.1.2.1"} {
		if got := Addr(base, i).String(); got != want {
			t.Errorf("Addr(%d) = %s, want %s", i, got, want)
		}
	}
	seen := map[netip.Addr]bool{}
	for i := 0; i < 5000; i++ {
		a := Addr(base, i)
		b := a.As4()
		if b[3] == 0 || b[3] == 255 || seen[a] {
			t.Fatalf("Addr(%d) = %s", i, a)
		}
		seen[a] = true
	}
}

func TestLayout(t *testing.T) {
	cfg := Config{Members: 200, Aliases: 20, Silent: 0.1, Garbage: 0.05, Seed: 3, Zone: "lb.test"}
	f, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[Fault]int{}
	for _, m := range f.Members {
		counts[m.Fault]++
		if l := m.Load(); l < 1 || l > 1000 {
			t.Fatalf("load %d", l)
		}
	}
	if counts[Silent] != 20 || counts[Garbage] != 10 || counts[Healthy] != 170 {
		t.Fatalf("faults %v", counts)
	}
	if len(f.AliasNames) != 20 || len(f.AliasMembers[AliasName(0, "lb.test")]) != 10 {
		t.Fatalf("aliases %d, members of the first %d", len(f.AliasNames), len(f.AliasMembers[AliasName(0, "lb.test")]))
	}
	// Deterministic: the same config lays out the same farm.
	g, _ := New(cfg)
	for i := range f.Members {
		if f.Members[i].Load() != g.Members[i].Load() || f.Members[i].Fault != g.Members[i].Fault {
			t.Fatal("layout not deterministic")
		}
	}
	var b strings.Builder
	if err := f.EmitConfig(&b); err != nil {
		t.Fatal(err)
	}
	if strings.Count(b.String(), "[[alias]]") != 20 || !strings.Contains(b.String(), `zone = "lb.test"`) {
		t.Fatalf("emitted config:\n%s", b.String())
	}
	for _, bad := range []Config{{Members: 0, Aliases: 1}, {Members: 5, Aliases: 6}, {Members: 5, Aliases: 1, Silent: 0.7, Garbage: 0.7},
		{Members: 5, Aliases: 1, Base: netip.MustParseAddr("10.0.0.1")}} {
		if _, err := New(bad); err == nil {
			t.Errorf("config %+v accepted", bad)
		}
	}
}
