package testenv

import (
	"testing"

	"github.com/lbd-project/lbd/internal/tsig"
	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"
)

func TestStartNamedServesZones(t *testing.T) {
	n := StartNamed(t, NamedOptions{Zones: []string{"lb.example.org", "www.lb.example.org."}})
	for _, z := range []string{"lb.example.org", "www.lb.example.org"} {
		ans := n.Query(t, z, dns.TypeSOA)
		if len(ans) != 1 {
			t.Fatalf("SOA %s: %v", z, ans)
		}
		ns := n.Query(t, "ns1."+z, dns.TypeA)
		if len(ns) != 1 || ns[0].(*dns.A).A.String() != "127.0.0.1" {
			t.Fatalf("ns1.%s A: %v", z, ns)
		}
	}
	n.Stop()
	n.Stop() // idempotent
	n.Start(t)
	if ans := n.Query(t, "lb.example.org", dns.TypeSOA); len(ans) != 1 {
		t.Fatalf("after restart: %v", ans)
	}
	if n.Log() == "" {
		t.Fatal("no log output")
	}
}

func TestStartNamedViews(t *testing.T) {
	ext := &tsig.Spec{Name: "ext-key", Algorithm: "hmac-md5", Secret: "ZXh0ZXJuYWxzZWNyZXQ="}
	n := StartNamed(t, NamedOptions{
		Zones:       []string{"lb.example.org"},
		Keys:        []tsig.Spec{{Name: "int-key", Secret: "aW50ZXJuYWxzZWNyZXQ="}},
		ExternalKey: ext,
	})
	if ans := n.QueryView(t, "lb.example.org", dns.TypeSOA, ext); len(ans) != 1 {
		t.Fatalf("external SOA: %v", ans)
	}
	if ans := n.Query(t, "lb.example.org", dns.TypeSOA); len(ans) != 1 {
		t.Fatalf("internal SOA: %v", ans)
	}
}

func TestStartNamedKeyOnlyViews(t *testing.T) {
	ext := &tsig.Spec{Name: "ext-key", Algorithm: "hmac-sha256", Secret: "ZXh0ZXJuYWxzZWNyZXQ="}
	n := StartNamed(t, NamedOptions{
		Zones:       []string{"lb.example.org"},
		Keys:        []tsig.Spec{{Name: "int-key", Secret: "aW50ZXJuYWxzZWNyZXQ="}},
		ExternalKey: ext,
		KeyOnly:     true,
	})
	require.True(t, n.Refuses(t, "lb.example.org"), "an unsigned query matches no view")
	require.Len(t, n.QueryView(t, "lb.example.org", dns.TypeSOA, ext), 1, "external view")
	require.Len(t, n.Query(t, "lb.example.org", dns.TypeSOA), 1, "internal view, signed with Keys[0]")
}
