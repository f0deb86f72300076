package dnsserver

import (
	"net/netip"

	"github.com/miekg/dns"

	"github.com/lbd-project/lbd/internal/tsig"
)

const maxCNAMEChain = 8

// negativeSOA is the SOA for the authority section of a negative answer,
// its TTL capped by the SOA MINIMUM (RFC 2308 §3).
func negativeSOA(soa *dns.SOA) dns.RR {
	c := dns.Copy(soa).(*dns.SOA)
	if c.Minttl < c.Hdr.Ttl {
		c.Hdr.Ttl = c.Minttl
	}
	return c
}

// query answers a standard query (RFC 1034 §4.3.2 for an authoritative
// server without delegations or wildcards; RFC 2308 negative answers).
func (s *Server) query(req, reply *dns.Msg) {
	q := req.Question[0]
	if q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY {
		reply.Rcode = dns.RcodeRefused
		return
	}
	name := dns.CanonicalName(q.Name)
	z := s.findZone(name)
	if z == nil {
		reply.Rcode = dns.RcodeRefused
		return
	}
	reply.Authoritative = true
	z.mu.RLock()
	defer z.mu.RUnlock()
	seen := map[string]bool{}
	for {
		seen[name] = true
		n := z.nodes[name]
		if n == nil {
			if len(reply.Answer) == 0 && z.below[name] > 0 {
				reply.Ns = append(reply.Ns, negativeSOA(z.soa)) // empty non-terminal: NODATA
				return
			}
			reply.Rcode = dns.RcodeNameError
			reply.Ns = append(reply.Ns, negativeSOA(z.soa))
			return
		}
		if q.Qtype == dns.TypeANY {
			for _, rrs := range n {
				reply.Answer = append(reply.Answer, rrs...)
			}
			return
		}
		if rrs := n[q.Qtype]; len(rrs) > 0 {
			reply.Answer = append(reply.Answer, rrs...)
			return
		}
		if c := n[dns.TypeCNAME]; len(c) > 0 {
			reply.Answer = append(reply.Answer, c...)
			target := dns.CanonicalName(c[0].(*dns.CNAME).Target)
			if seen[target] || len(seen) > maxCNAMEChain || s.findZone(target) != z {
				return
			}
			name = target
			continue
		}
		reply.Ns = append(reply.Ns, negativeSOA(z.soa))
		return
	}
}

// transferAllowed: a configured secondary's address, or a valid TSIG key
// listed in the zone's TransferKeys (a key allowed to update the zone is
// not thereby allowed to transfer it). RFC 5936 §6 leaves the policy to
// the server; a request signed with a bad key or MAC never gets here
// (NOTAUTH, RFC 8945 §5.2).
func (s *Server) transferAllowed(z *zone, from netip.Addr, key *tsig.Key) bool {
	return key != nil && z.cfg.transferKeys[key.Name] || s.secIPs[from.Unmap()]
}

// xfr builds the RRs of a zone transfer: AXFR (RFC 5936 §2.2) or IXFR
// (RFC 1995 §4) from the in-memory history, falling back to the AXFR form
// when the client's serial is not in it. For IXFR over UDP only the SOA is
// sent (RFC 1995 §2), telling the client to use TCP.
func (s *Server) xfr(req, reply *dns.Msg, from netip.Addr, tcp bool, key *tsig.Key) []dns.RR {
	q := req.Question[0]
	if q.Qtype == dns.TypeAXFR && !tcp {
		reply.Rcode = dns.RcodeFormatError
		return nil
	}
	z := s.zones[dns.CanonicalName(q.Name)]
	if z == nil || q.Qclass != dns.ClassINET {
		reply.Rcode = dns.RcodeNotAuth
		return nil
	}
	if !s.transferAllowed(z, from, key) {
		reply.Rcode = dns.RcodeRefused
		return nil
	}
	reply.Authoritative = true
	z.mu.RLock()
	soa, hist := z.soa, z.hist
	var all []dns.RR
	if q.Qtype == dns.TypeAXFR {
		all = allRRs(z.nodes, soa)
	}
	z.mu.RUnlock()

	if q.Qtype == dns.TypeIXFR {
		var client *dns.SOA
		if len(req.Ns) == 1 {
			client, _ = req.Ns[0].(*dns.SOA)
		}
		if client == nil {
			reply.Rcode = dns.RcodeFormatError
			return nil
		}
		// RFC 1995 §2: a client whose serial is not older than ours
		// (RFC 1982 §3.2, not a plain <: serials wrap) gets only the SOA.
		if !serialGreater(soa.Serial, client.Serial) || !tcp {
			return []dns.RR{soa}
		}
		if chain := ixfrChain(hist, client.Serial, soa.Serial); chain != nil {
			out := []dns.RR{soa}
			for _, d := range chain {
				out = append(out, d.oldSOA)
				out = append(out, d.del...)
				out = append(out, d.newSOA)
				out = append(out, d.add...)
			}
			return append(out, soa)
		}
		z.mu.RLock()
		soa = z.soa
		all = allRRs(z.nodes, soa)
		z.mu.RUnlock()
	}
	return append(all, soa)
}

// ixfrChain returns the deltas leading from serial from to serial to, or
// nil when the history does not hold them all. Deltas are matched by
// serial equality and each one increases the serial (RFC 1982 §3.2), so
// no ordering comparison is needed; the search starts at the newest delta,
// so that a serial seen again after wrapping around 2^32 (possible only
// through explicit SOA updates, RFC 2136 §3.6) yields the recent chain.
func ixfrChain(hist []*delta, from, to uint32) []*delta {
	for i := len(hist) - 1; i >= 0; i-- {
		if hist[i].oldSOA.Serial != from {
			continue
		}
		chain := hist[i:]
		ok := chain[len(chain)-1].newSOA.Serial == to
		for j := 1; ok && j < len(chain); j++ {
			ok = chain[j].oldSOA.Serial == chain[j-1].newSOA.Serial
		}
		if ok {
			return chain
		}
	}
	return nil
}
