package dnsupdate

import (
	"testing"

	"github.com/miekg/dns"

	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/internal/tsig"
)

// TestPowerDNS runs the server suite against the PowerDNS Authoritative
// Server (gsqlite3 backend).
func TestPowerDNS(t *testing.T) {
	runServerSuite(t, serverSuite{
		start: func(t *testing.T, zones []string, keys []tsig.Spec) (liveServer, string) {
			p := testenv.StartPowerDNS(t, testenv.PDNSOptions{Zones: zones, Keys: keys})
			return p, p.Addr
		},
		// RFC 8945 §5.2 asks for NOTAUTH with TSIG error BADSIG / BADKEY.
		// PowerDNS 4.7 answers REFUSED, unsigned and without a TSIG error,
		// to both, and gives the reason only in its log ("Packet for
		// 'lb.example.org' denied: Signature with TSIG key 'lbd-internal'
		// failed to validate"; "... can't find TSIG key with name
		// 'nobody'"), so REFUSED is all the error can report.
		wrongSecret: rejection{dns.RcodeRefused, 0},
		unknownKey:  rejection{dns.RcodeRefused, 0},
		notServed:   []int{dns.RcodeNotAuth},
	})
}
