package testenv

import (
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/internal/tsig"
)

// dnsDaemon is what Knot and PowerDNS have in common.
type dnsDaemon interface {
	Query(t testing.TB, name string, qtype uint16) []dns.RR
	QuerySigned(t testing.TB, name string, qtype uint16, key tsig.Spec) []dns.RR
	Start(t testing.TB)
	Stop()
	Log() string
}

func TestStartKnotAndPowerDNS(t *testing.T) {
	zones := []string{"lb.example.org", "www.lb.example.org."}
	keys := []tsig.Spec{
		{Name: "int-key", Secret: "aW50ZXJuYWxzZWNyZXQ="},
		{Name: "md5-key.", Algorithm: "hmac-md5", Secret: "bWQ1c2VjcmV0"},
	}
	for _, tc := range []struct {
		name  string
		start func(t *testing.T) (dnsDaemon, string)
	}{
		{"knot", func(t *testing.T) (dnsDaemon, string) {
			k := StartKnot(t, KnotOptions{Zones: zones, Keys: keys})
			return k, k.Addr
		}},
		{"powerdns", func(t *testing.T) (dnsDaemon, string) {
			p := StartPowerDNS(t, PDNSOptions{Zones: zones, Keys: keys})
			return p, p.Addr
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, addr := tc.start(t)
			assert.Regexp(t, `^127\.0\.0\.1:\d+$`, addr)
			check := func() {
				for _, z := range zones {
					require.Len(t, s.Query(t, z, dns.TypeSOA), 1, "SOA %s", z)
					require.Len(t, s.Query(t, z, dns.TypeNS), 1, "NS %s", z)
					ns := s.Query(t, "ns1."+z, dns.TypeA)
					require.Len(t, ns, 1, "ns1.%s A", z)
					assert.Equal(t, "127.0.0.1", ns[0].(*dns.A).A.String())
					for _, k := range keys {
						require.Len(t, s.QuerySigned(t, z, dns.TypeSOA, k), 1, "SOA %s signed with %s", z, k.Name)
					}
				}
			}
			check()
			s.Stop()
			s.Stop() // idempotent
			s.Start(t)
			check()
			assert.NotEmpty(t, s.Log())
		})
	}
}
