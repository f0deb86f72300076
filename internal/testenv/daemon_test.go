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
		start func(t *testing.T, keys []tsig.Spec) (dnsDaemon, string)
	}{
		{"knot", func(t *testing.T, keys []tsig.Spec) (dnsDaemon, string) {
			k := StartKnot(t, KnotOptions{Zones: zones, Keys: keys})
			return k, k.Addr
		}},
		{"powerdns", func(t *testing.T, keys []tsig.Spec) (dnsDaemon, string) {
			p := StartPowerDNS(t, PDNSOptions{Zones: zones, Keys: keys})
			return p, p.Addr
		}},
	} {
		t.Run(tc.name+" without keys", func(t *testing.T) {
			s, addr := tc.start(t, nil)
			require.Len(t, s.Query(t, "lb.example.org", dns.TypeSOA), 1)
			require.NotEqual(t, dns.RcodeSuccess, unsignedUpdate(t, addr, "lb.example.org."), "unsigned UPDATE accepted")
		})
		t.Run(tc.name, func(t *testing.T) {
			s, addr := tc.start(t, keys)
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
			require.NotEqual(t, dns.RcodeSuccess, unsignedUpdate(t, addr, "lb.example.org."), "unsigned UPDATE accepted")
			s.Stop()
			s.Stop() // idempotent
			s.Start(t)
			check()
			assert.NotEmpty(t, s.Log())
		})
	}
}

// unsignedUpdate sends an unsigned UPDATE adding an A record to zone and
// returns the reply's RCODE.
func unsignedUpdate(t *testing.T, addr, zone string) int {
	t.Helper()
	m := new(dns.Msg)
	m.SetUpdate(zone)
	rr, err := dns.NewRR("unsigned." + zone + " 60 IN A 127.0.0.9")
	require.NoError(t, err)
	m.Insert([]dns.RR{rr})
	r, _, err := (&dns.Client{Timeout: daemonQueryTimeout}).Exchange(m, addr)
	require.NoError(t, err)
	t.Logf("unsigned UPDATE: %s", dns.RcodeToString[r.Rcode])
	return r.Rcode
}
