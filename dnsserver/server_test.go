package dnsserver

import (
	"fmt"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQueries(t *testing.T) {
	s := startServer(t, testConfig(t))
	addr := s.Addr()

	r := query(t, addr, testZone, dns.TypeSOA)
	wantRcode(t, dns.RcodeSuccess, r, "SOA")
	assert.True(t, r.Authoritative, "AA not set: %v", r)
	require.Len(t, r.Answer, 1, "%v", r)
	assert.Equal(t, testSerialBase, r.Answer[0].(*dns.SOA).Serial, "new zone: time-derived serial")

	r = query(t, addr, "LB.Example.ORG", dns.TypeNS)
	require.Len(t, r.Answer, 1, "%v", r)
	assert.Equal(t, "ns1.lb.example.org.", r.Answer[0].(*dns.NS).Ns, "r.Answer[0].(*dns.NS).Ns")
	assert.Equal(t, "LB.Example.ORG.", r.Question[0].Name, "question copied verbatim")

	rc := update(t, addr, func(m *dns.Msg) {
		m.Insert([]dns.RR{
			mustRR(t, "www.lb.example.org. 60 IN A 192.0.2.1"),
			mustRR(t, "www.lb.example.org. 60 IN AAAA 2001:db8::1"),
			mustRR(t, "a.b.lb.example.org. 60 IN TXT \"deep\""),
			mustRR(t, "alias.lb.example.org. 60 IN CNAME www.lb.example.org."),
			mustRR(t, "ext.lb.example.org. 60 IN CNAME www.example.net."),
		})
	})
	assert.Equal(t, dns.RcodeSuccess, rc, "update rcode")
	assert.Equal(t, testSerialBase+1, serial(t, addr), "serial")

	r = query(t, addr, "www.lb.example.org", dns.TypeA)
	require.Len(t, r.Answer, 1, "%v", r)
	assert.Equal(t, "192.0.2.1", r.Answer[0].(*dns.A).A.String(), "r.Answer[0].(*dns.A).A.String()")

	// NODATA: NOERROR, no answer, SOA in authority with TTL ≤ minimum.
	r = query(t, addr, "www.lb.example.org", dns.TypeTXT)
	wantRcode(t, dns.RcodeSuccess, r, "")
	assert.Empty(t, r.Answer, "want no answer: %v", r)
	require.Len(t, r.Ns, 1, "%v", r)
	assert.Equal(t, uint32(60), r.Ns[0].Header().Ttl, "r.Ns[0].Header().Ttl")
	assert.True(t, r.Authoritative, "AA not set: %v", r)

	// Empty non-terminal: NODATA.
	r = query(t, addr, "b.lb.example.org", dns.TypeA)
	wantRcode(t, dns.RcodeSuccess, r, "")
	require.Len(t, r.Ns, 1, "%v", r)

	// Its only descendant deleted, it no longer exists: NXDOMAIN.
	rc = update(t, addr, func(m *dns.Msg) { m.RemoveName([]dns.RR{mustRR(t, "a.b.lb.example.org. 0 IN ANY")}) })
	require.Equal(t, dns.RcodeSuccess, rc)
	wantRcode(t, dns.RcodeNameError, query(t, addr, "b.lb.example.org", dns.TypeA), "")
	rc = update(t, addr, func(m *dns.Msg) { m.Insert([]dns.RR{mustRR(t, "a.b.lb.example.org. 60 IN TXT \"deep\"")}) })
	require.Equal(t, dns.RcodeSuccess, rc)
	wantRcode(t, dns.RcodeSuccess, query(t, addr, "b.lb.example.org", dns.TypeA), "")

	// NXDOMAIN with SOA.
	r = query(t, addr, "nope.lb.example.org", dns.TypeA)
	wantRcode(t, dns.RcodeNameError, r, "")
	require.Len(t, r.Ns, 1, "%v", r)
	assert.Equal(t, dns.TypeSOA, r.Ns[0].Header().Rrtype, "r.Ns[0].Header().Rrtype")
	assert.True(t, r.Authoritative, "AA not set: %v", r)

	// CNAME chased inside the zone; not outside.
	r = query(t, addr, "alias.lb.example.org", dns.TypeA)
	require.Len(t, r.Answer, 2, "%v", r)
	assert.Equal(t, dns.TypeCNAME, r.Answer[0].Header().Rrtype, "r.Answer[0].Header().Rrtype")
	assert.Equal(t, dns.TypeA, r.Answer[1].Header().Rrtype, "r.Answer[1].Header().Rrtype")
	r = query(t, addr, "ext.lb.example.org", dns.TypeA)
	require.Len(t, r.Answer, 1, "%v", r)
	r = query(t, addr, "alias.lb.example.org", dns.TypeCNAME)
	require.Len(t, r.Answer, 1, "%v", r)

	// Outside our zones.
	r = query(t, addr, "www.example.com", dns.TypeA)
	wantRcode(t, dns.RcodeRefused, r, "")
	assert.False(t, r.Authoritative, "AA set: %v", r)
	r = query(t, addr, "example.org", dns.TypeSOA)
	wantRcode(t, dns.RcodeRefused, r, "")

	// EDNS: OPT echoed; bad version → BADVERS.
	m := new(dns.Msg)
	m.SetQuestion("www.lb.example.org.", dns.TypeA)
	m.SetEdns0(1232, false)
	r = exchange(t, addr, m, "udp")
	require.NotNil(t, r.IsEdns0(), "no OPT: %v", r)
	m.IsEdns0().SetVersion(1)
	r = exchange(t, addr, m, "udp")
	wantRcode(t, dns.RcodeBadVers, r, "")

	// Opcode STATUS: NOTIMP.
	m = new(dns.Msg)
	m.SetQuestion(testZone, dns.TypeSOA)
	m.Opcode = dns.OpcodeStatus
	r = exchange(t, addr, m, "udp")
	wantRcode(t, dns.RcodeNotImplemented, r, "")
}

func TestTruncation(t *testing.T) {
	s := startServer(t, testConfig(t))
	addr := s.Addr()
	var rrs []dns.RR
	for i := 0; i < 40; i++ {
		rrs = append(rrs, mustRR(t, fmt.Sprintf("big.lb.example.org. 60 IN TXT \"%s-%02d\"", strings.Repeat("x", 40), i)))
	}
	assert.Equal(t, dns.RcodeSuccess, update(t, addr, func(m *dns.Msg) { m.Insert(rrs) }), "update rcode")

	// No EDNS: 512 bytes, TC.
	r := query(t, addr, "big.lb.example.org", dns.TypeTXT)
	assert.True(t, r.Truncated, "TC not set: %v", r)
	assert.Less(t, len(r.Answer), 40, "not truncated")
	// EDNS 4096: everything fits.
	m := new(dns.Msg)
	m.SetQuestion("big.lb.example.org.", dns.TypeTXT)
	m.SetEdns0(4096, false)
	r = exchange(t, addr, m, "udp")
	assert.False(t, r.Truncated, "TC set: %v", r)
	assert.Len(t, r.Answer, 40, "%v", r)
	// EDNS 1232 honoured.
	m.IsEdns0().SetUDPSize(1232)
	r = exchange(t, addr, m, "udp")
	assert.True(t, r.Truncated, "TC not set: %v", r)
	// TCP: everything.
	m = new(dns.Msg)
	m.SetQuestion("big.lb.example.org.", dns.TypeTXT)
	r = exchange(t, addr, m, "tcp")
	assert.False(t, r.Truncated, "TC set: %v", r)
	assert.Len(t, r.Answer, 40, "%v", r)
	// Signed over UDP without EDNS: TC, still signed (the client verifies).
	m = new(dns.Msg)
	m.SetQuestion("big.lb.example.org.", dns.TypeTXT)
	m.SetTsig(testKeyName, dns.HmacSHA256, 300, 0)
	r = exchange(t, addr, m, "udp")
	assert.True(t, r.Truncated, "TC not set: %v", r)
	require.NotNil(t, r.IsTsig(), "unsigned reply: %v", r)
}
