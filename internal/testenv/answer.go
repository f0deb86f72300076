package testenv

import (
	"slices"

	"github.com/miekg/dns"
)

// AddrsA returns the addresses of the A records among rrs, sorted (a
// query's answer section, compared with a wanted set of hosts).
func AddrsA(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	slices.Sort(out)
	return out
}
