package dnsupdate

import (
	"testing"

	"github.com/miekg/dns"

	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/internal/tsig"
)

// TestKnot runs the server suite against Knot DNS (knotd).
func TestKnot(t *testing.T) {
	runServerSuite(t, serverSuite{
		start: func(t *testing.T, zones []string, keys []tsig.Spec) (liveServer, string) {
			k := testenv.StartKnot(t, testenv.KnotOptions{Zones: zones, Keys: keys})
			return k, k.Addr
		},
		wrongSecret: rejection{dns.RcodeNotAuth, dns.RcodeBadSig},
		unknownKey:  rejection{dns.RcodeNotAuth, dns.RcodeBadKey},
		notServed:   []int{dns.RcodeNotAuth},
	})
}
