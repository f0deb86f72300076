package dnsserver

import (
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"
)

func fuzzServer(t testing.TB) *Server {
	cfg := testConfig(t)
	cfg.Secondaries = []string{"127.0.0.1:9"}
	cfg.Log = nil
	cfg.RRL = &RRL{} // every reply is checked, none dropped
	s, err := New(cfg)
	require.NoError(t, err, "New")
	t.Cleanup(func() { s.Close() })
	return s
}

func seedMessages(t testing.TB) [][]byte {
	pack := func(m *dns.Msg) []byte {
		b, err := m.Pack()
		require.NoError(t, err, "pack")
		return b
	}
	var seeds [][]byte
	m := new(dns.Msg)
	m.SetQuestion("www.lb.example.org.", dns.TypeA)
	seeds = append(seeds, pack(m))
	m.SetEdns0(1232, true)
	seeds = append(seeds, pack(m))
	m = new(dns.Msg)
	m.SetQuestion("lb.example.org.", dns.TypeANY)
	seeds = append(seeds, pack(m))
	m = new(dns.Msg)
	m.SetAxfr(testZone)
	seeds = append(seeds, pack(m))
	m = new(dns.Msg)
	m.SetIxfr(testZone, 1, "ns1.lb.example.org.", "hostmaster.lb.example.org.")
	seeds = append(seeds, pack(m))
	m = new(dns.Msg)
	m.SetNotify(testZone)
	seeds = append(seeds, pack(m))

	u := new(dns.Msg)
	u.SetUpdate(testZone)
	a, _ := dns.NewRR("www.lb.example.org. 60 IN A 192.0.2.1")
	txt, _ := dns.NewRR("www.lb.example.org. 60 IN TXT \"x\"")
	u.NameNotUsed([]dns.RR{a})
	u.RRsetUsed([]dns.RR{txt})
	u.Insert([]dns.RR{a, txt})
	u.RemoveName([]dns.RR{txt})
	seeds = append(seeds, pack(u))
	for _, build := range []func(m *dns.Msg){
		func(m *dns.Msg) { m.Insert([]dns.RR{a, txt}) },
		func(m *dns.Msg) { m.Remove([]dns.RR{a}) },
		func(m *dns.Msg) { m.RemoveRRset([]dns.RR{txt}) },
	} {
		m := new(dns.Msg)
		m.SetUpdate(testZone)
		build(m)
		seeds = append(seeds, pack(m))
	}
	u.SetTsig(testKeyName, dns.HmacSHA256, 300, time.Now().Unix())
	b, _, err := dns.TsigGenerate(u, testSecret, "", false)
	require.NoError(t, err, "sign")
	seeds = append(seeds, b)
	seeds = append(seeds,
		[]byte{},
		[]byte{0, 1, 2},
		[]byte{0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0},
		[]byte{0x12, 0x34, 0x28, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc0, 0x0c},
		[]byte("\x00\x00\x01\x00\x00\x01\x00\x00\x00\x00\x00\x01\x03www\x02lb\x07example\x03org\x00\x00\x01\x00\x01\x00\x00\x29\x10\x00\x00\x01\x00\x00\x00"),
	)
	return seeds
}

// FuzzHandle feeds arbitrary bytes to the message handler: it must not
// panic, and every reply it produces must parse.
func FuzzHandle(f *testing.F) {
	for _, s := range seedMessages(f) {
		f.Add(s, false)
		f.Add(s, true)
	}
	s := fuzzServer(f)
	from := netip.MustParseAddr("127.0.0.1")
	f.Fuzz(func(t *testing.T, data []byte, tcp bool) {
		in := append([]byte(nil), data...)
		s.handle(in, from, tcp, func(b []byte) error {
			require.LessOrEqual(t, len(b), dns.MaxMsgSize, "reply size")
			if !tcp {
				require.LessOrEqual(t, len(b), maxUDPSize, "UDP reply size")
			}
			var r dns.Msg
			require.NoError(t, r.Unpack(b), "reply does not parse")
			return nil
		})
	})
}

// FuzzUpdate drives the UPDATE path past authentication (which random
// bytes never pass): arbitrary messages are processed as if signed with an
// allowed key; no panic, and every accepted change must be journaled in a
// form that loads again.
func FuzzUpdate(f *testing.F) {
	for _, s := range seedMessages(f) {
		f.Add(s)
	}
	s := fuzzServer(f)
	key := s.keys[testKeyName]
	z := s.zones[testZone]
	changes := 0
	f.Fuzz(func(t *testing.T, data []byte) {
		m := new(dns.Msg)
		if m.Unpack(data) != nil {
			return
		}
		m.Opcode = dns.OpcodeUpdate
		reply := new(dns.Msg)
		reply.SetReply(m)
		s.handleUpdate(&request{msg: m, key: key}, reply)
		_, err := s.pack(&request{msg: m}, reply, dns.MaxMsgSize)
		require.NoError(t, err, "pack reply")
		z.mu.RLock()
		last := z.hist
		seq := z.seq
		z.mu.RUnlock()
		if len(last) == 0 || last[len(last)-1].seq != seq || seq == 0 {
			return
		}
		rec, err := encodeDelta(last[len(last)-1])
		require.NoError(t, err, "encode delta")
		_, err = decodeDelta(rec[8:])
		require.NoError(t, err, "journaled change does not decode")
		if changes++; changes%50 == 0 {
			// Compact and load the zone from disk: same serial, same data.
			require.NoError(t, z.compact(), "compact")
			z2, err := loadZone(z.dir, z.cfg)
			require.NoError(t, err, "zone does not load")
			z2.jnl.Close()
			z.mu.RLock()
			want := len(allRRs(z.nodes, z.soa))
			wantSerial := z.soa.Serial
			z.mu.RUnlock()
			require.Len(t, allRRs(z2.nodes, z2.soa), want, "reloaded zone: RRs")
			require.Equal(t, wantSerial, z2.soa.Serial, "reloaded zone: serial")
		}
	})
}
