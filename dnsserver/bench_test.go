package dnsserver

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// BenchmarkQueryA: A lookups. "handler" measures the message handler in
// process (unpack, lookup, pack); "udp" a Go client over loopback UDP,
// 4×GOMAXPROCS client goroutines, one socket each.
func BenchmarkQueryA(b *testing.B) {
	cfg := testConfig(b)
	cfg.Log = nil
	cfg.RRL = &RRL{} // measure the server, not the rate limiter
	s := startServer(b, cfg)
	rc := update(b, s.Addr(), func(m *dns.Msg) {
		rr, _ := dns.NewRR("www.lb.example.org. 60 IN A 192.0.2.1")
		rr2, _ := dns.NewRR("www.lb.example.org. 60 IN A 192.0.2.2")
		m.Insert([]dns.RR{rr, rr2})
	})
	require.Equal(b, rcodeName(dns.RcodeSuccess), rcodeName(rc), "update")
	m := new(dns.Msg)
	m.SetQuestion("www.lb.example.org.", dns.TypeA)
	m.SetEdns0(1232, false)
	wire, _ := m.Pack()
	from := netip.MustParseAddr("127.0.0.1")

	b.Run("handler", func(b *testing.B) {
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			s.handle(wire, from, false, func(r []byte) error { n += len(r); return nil })
		}
		require.NotZero(b, n, "no reply")
	})
	b.Run("udp", func(b *testing.B) {
		b.SetParallelism(4) // 8 client goroutines on 2 CPUs
		b.RunParallel(func(pb *testing.PB) {
			c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
			conn, err := c.Dial(s.Addr())
			if !assert.NoError(b, err, "dial") {
				return
			}
			defer conn.Close()
			q := new(dns.Msg)
			q.SetQuestion("www.lb.example.org.", dns.TypeA)
			for pb.Next() {
				r, _, err := c.ExchangeWithConn(q, conn)
				// Checked without reflection: this is the measured loop.
				if err != nil || len(r.Answer) != 2 {
					assert.Fail(b, "query", "%v %v", err, r)
					return
				}
			}
		})
	})
}

// BenchmarkUpdateFsync: signed UPDATEs (each adds one A record) through
// the handler in process; every one is journaled and fsynced on the
// DataDir (a temporary directory) before the reply. Compaction is left to
// its default (every 1000 records).
func BenchmarkUpdateFsync(b *testing.B) {
	cfg := testConfig(b)
	cfg.Log = nil
	s := startServer(b, cfg)
	from := netip.MustParseAddr("127.0.0.1")
	i := 0
	b.ResetTimer()
	for b.Loop() {
		i++
		m := new(dns.Msg)
		m.SetUpdate(testZone)
		rr, _ := dns.NewRR(fmt.Sprintf("h%d.lb.example.org. 60 IN A 192.0.2.%d", i, i%250+1))
		m.Insert([]dns.RR{rr})
		m.SetTsig(testKeyName, dns.HmacSHA256, 300, time.Now().Unix())
		wire, _, err := dns.TsigGenerate(m, testSecret, "", false)
		require.NoError(b, err, "sign")
		var rcode int = -1
		s.handle(wire, from, true, func(r []byte) error {
			var rm dns.Msg
			if err := rm.Unpack(r); err == nil {
				rcode = rm.Rcode
			}
			return nil
		})
		if rcode != dns.RcodeSuccess { // checked without reflection: measured loop
			require.FailNow(b, "update", "update %d: rcode %d", i, rcode)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
}
