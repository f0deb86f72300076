package dnsserver

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// transfer runs an AXFR or IXFR (fromSerial) and returns the RRs.
func transfer(t *testing.T, addr string, qtype uint16, fromSerial uint32, signed bool) ([]dns.RR, error) {
	t.Helper()
	m := new(dns.Msg)
	if qtype == dns.TypeAXFR {
		m.SetAxfr(testZone)
	} else {
		m.SetIxfr(testZone, fromSerial, "ns1.lb.example.org.", "hostmaster.lb.example.org.")
	}
	tr := &dns.Transfer{DialTimeout: 3 * time.Second, ReadTimeout: 3 * time.Second}
	if signed {
		m.SetTsig(testKeyName, dns.HmacSHA256, 300, time.Now().Unix())
		tr.TsigSecret = map[string]string{testKeyName: testSecret}
	}
	ch, err := tr.In(m, addr)
	if err != nil {
		return nil, err
	}
	var rrs []dns.RR
	for env := range ch {
		if env.Error != nil {
			return rrs, env.Error
		}
		rrs = append(rrs, env.RR...)
	}
	return rrs, nil
}

func TestTransfers(t *testing.T) {
	cfg := testConfig(t)
	cfg.Secondaries = []string{"127.0.0.1:9"} // our test client's address; nothing listens on port 9
	cfg.Zones[0].TransferKeys = []string{testKeyName}
	s := startServer(t, cfg)
	addr := s.Addr()
	for i := 0; i < 5; i++ {
		assert.Equal(t, dns.RcodeSuccess, update(t, addr, func(m *dns.Msg) {
			m.Insert([]dns.RR{mustRR(t, fmt.Sprintf("h%d.lb.example.org. 60 IN A 192.0.2.%d", i, i+1))})
			if i > 0 {
				m.RemoveRRset([]dns.RR{mustRR(t, fmt.Sprintf("h%d.lb.example.org. 0 IN A 0.0.0.0", i-1))})
			}
		}), "update")
	}
	// Many records, so that the AXFR needs several messages.
	var big []dns.RR
	for i := 0; i < 600; i++ {
		big = append(big, mustRR(t, fmt.Sprintf("big%03d.lb.example.org. 60 IN TXT \"%s\"", i, strings.Repeat("y", 60))))
	}
	assert.Equal(t, dns.RcodeSuccess, update(t, addr, func(m *dns.Msg) { m.Insert(big) }), "big update")
	assert.Equal(t, testSerialBase+6, serial(t, addr), "serial")

	for _, signed := range []bool{false, true} {
		rrs, err := transfer(t, addr, dns.TypeAXFR, 0, signed)
		require.NoError(t, err, "AXFR signed=%v", signed)
		// SOA, NS, h4 A, 600 TXT, SOA
		assert.Len(t, rrs, 604, "AXFR RRs")
		assert.Equal(t, dns.TypeSOA, rrs[0].Header().Rrtype, "first")
		assert.Equal(t, dns.TypeSOA, rrs[len(rrs)-1].Header().Rrtype, "last")
	}

	// IXFR from the third serial: two small deltas then the big one.
	rrs, err := transfer(t, addr, dns.TypeIXFR, testSerialBase+2, true)
	require.NoError(t, err, "IXFR")
	// current SOA, then per change: old SOA, deleted RRs, new SOA, added RRs; current SOA.
	var serials []uint32
	for _, rr := range rrs {
		if soa, ok := rr.(*dns.SOA); ok {
			serials = append(serials, soa.Serial-testSerialBase+1) // 1 = the new zone
		}
	}
	assert.Equal(t, "[7 3 4 4 5 5 6 6 7 7]", fmt.Sprint(serials), "IXFR SOA sequence")
	// Up to date: only the SOA.
	rrs, err = transfer(t, addr, dns.TypeIXFR, testSerialBase+6, false)
	require.NoError(t, err, "IXFR current")
	require.Len(t, rrs, 1, "IXFR current")
	// Unknown serial: AXFR form.
	rrs, err = transfer(t, addr, dns.TypeIXFR, 0, false)
	require.NoError(t, err, "IXFR fallback")
	assert.Len(t, rrs, 604, "IXFR fallback RRs")

	// Not a secondary and not signed: REFUSED; signed: allowed.
	cfg2 := testConfig(t)
	cfg2.Secondaries = []string{"127.0.0.9:53"}
	cfg2.Zones[0].TransferKeys = []string{testKeyName}
	s2 := startServer(t, cfg2)
	_, err = transfer(t, s2.Addr(), dns.TypeAXFR, 0, false)
	require.Error(t, err, "AXFR from a non-secondary allowed")
	rrs, err = transfer(t, s2.Addr(), dns.TypeAXFR, 0, true)
	require.NoError(t, err, "signed AXFR")
	require.Len(t, rrs, 3, "signed AXFR")
	// AXFR over UDP: refused with FORMERR.
	m := new(dns.Msg)
	m.SetAxfr(testZone)
	wantRcode(t, dns.RcodeFormatError, exchange(t, s2.Addr(), m, "udp"), "AXFR over UDP")
}

// TestNamedSecondary: a real named transfers the zone, gets NOTIFY and
// follows updates.
func TestNamedSecondary(t *testing.T) {
	testenv.Require(t, "named")
	cfg := testConfig(t)
	secPort := testenv.FreePort(t, "127.0.0.1")
	cfg.Secondaries = []string{fmt.Sprintf("127.0.0.1:%d", secPort)}
	cfg.CompactAfter = 4
	s := startServer(t, cfg)
	addr := s.Addr()
	assert.Equal(t, dns.RcodeSuccess, update(t, addr, func(m *dns.Msg) {
		m.Insert([]dns.RR{mustRR(t, "www.lb.example.org. 60 IN A 192.0.2.1"), mustRR(t, "www.lb.example.org. 60 IN TXT \"v1\"")})
	}), "first update")

	sec := testenv.StartSecondary(t, testenv.SecondaryOptions{Zones: []string{testZone}, Primary: addr, Port: secPort})
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				require.FailNow(t, "secondary: "+what+" not reached", "named log:\n%s", sec.Log())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	same := func(name string, qtype uint16) bool {
		want := sortedCopy(answerStrings(query(t, addr, name, qtype).Answer))
		got := sortedCopy(answerStrings(sec.Query(t, name, qtype)))
		return strings.Join(want, "|") == strings.Join(got, "|")
	}
	waitFor("initial transfer", func() bool { return same("www.lb.example.org", dns.TypeA) && same(testZone, dns.TypeSOA) })

	// Further updates (more than CompactAfter, so the journal is
	// compacted meanwhile): NOTIFY makes named follow.
	for i := 2; i <= 8; i++ {
		assert.Equal(t, dns.RcodeSuccess, update(t, addr, func(m *dns.Msg) {
			m.RemoveRRset([]dns.RR{mustRR(t, "www.lb.example.org. 0 IN TXT \"\"")})
			m.Insert([]dns.RR{mustRR(t, fmt.Sprintf("www.lb.example.org. 60 IN TXT \"v%d\"", i)),
				mustRR(t, fmt.Sprintf("www.lb.example.org. 60 IN A 192.0.2.%d", i))})
		}), "update")
	}
	waitFor("the 8th change's serial", func() bool {
		soa := sec.Query(t, testZone, dns.TypeSOA)
		return len(soa) == 1 && soa[0].(*dns.SOA).Serial == testSerialBase+8
	})
	for _, q := range []uint16{dns.TypeA, dns.TypeTXT} {
		assert.True(t, same("www.lb.example.org", q), "secondary differs for %s", dns.TypeToString[q])
	}
	assert.Equal(t, "v8", strings.Join(sec.Query(t, "www.lb.example.org", dns.TypeTXT)[0].(*dns.TXT).Txt, ""), "TXT at the secondary")
	log := sec.Log()
	assert.Contains(t, log, "notify from 127.0.0.1", "named log does not show our NOTIFY")
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "transfer") || strings.Contains(l, "IXFR") || strings.Contains(l, "AXFR") {
			t.Logf("named: %s", l)
		}
	}
}
