package dnsserver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lbd-project/lbd/internal/tsig"
	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func rrsetStrings(t *testing.T, addr, name string, qtype uint16) []string {
	t.Helper()
	r := query(t, addr, name, qtype)
	return sortedCopy(answerStrings(r.Answer))
}

func TestUpdateSemantics(t *testing.T) {
	s := startServer(t, testConfig(t))
	addr := s.Addr()
	rr := func(s string) dns.RR { return mustRR(t, s) }

	// Apex SOA/NS cannot be deleted; the last NS stays.
	assert.Equal(t, dns.RcodeSuccess, update(t, addr, func(m *dns.Msg) {
		m.RemoveRRset([]dns.RR{rr("lb.example.org. 0 IN NS x.")})
		m.RemoveRRset([]dns.RR{rr("lb.example.org. 0 IN SOA . . 0 0 0 0 0")})
		m.Remove([]dns.RR{rr("lb.example.org. 0 IN NS ns1.lb.example.org.")})
		m.RemoveName([]dns.RR{rr("lb.example.org. 0 IN A 0.0.0.0")})
	}), "apex deletes")
	assert.Equal(t, testSerialBase, serial(t, addr), "serial after no-op update")
	assert.Len(t, rrsetStrings(t, addr, testZone, dns.TypeNS), 1, "apex NS")

	// Add a second NS, then the first one may go.
	assert.Equal(t, dns.RcodeSuccess, update(t, addr, func(m *dns.Msg) {
		m.Insert([]dns.RR{rr("lb.example.org. 300 IN NS ns2.lb.example.org.")})
		m.Remove([]dns.RR{rr("lb.example.org. 0 IN NS ns1.lb.example.org.")})
	}), "NS swap")
	assert.Equal(t, "lb.example.org. 300 IN NS ns2.lb.example.org.", rrsetStrings(t, addr, testZone, dns.TypeNS)[0], "NS")
	assert.Equal(t, testSerialBase+1, serial(t, addr), "serial")

	// An explicit larger SOA serial is kept; a smaller one ignored
	// (RFC 1982 §3.2: 100 is "smaller" than testSerialBase+1).
	soaWith := func(serial uint32) dns.RR {
		return rr(fmt.Sprintf("lb.example.org. 300 IN SOA ns2.lb.example.org. hostmaster.lb.example.org. %d 3600 600 86400 60", serial))
	}
	for _, tc := range []struct {
		name   string
		serial uint32
		want   uint32
	}{
		{"explicit larger serial", testSerialBase + 100, testSerialBase + 100},
		{"smaller serial ignored", testSerialBase + 50, testSerialBase + 100},
		{"small absolute value is behind in RFC 1982", 100, testSerialBase + 100},
	} {
		assert.Equal(t, dns.RcodeSuccess, update(t, addr, func(m *dns.Msg) { m.Insert([]dns.RR{soaWith(tc.serial)}) }), tc.name)
		assert.Equal(t, tc.want, serial(t, addr), tc.name)
	}

	// CNAME and other data never coexist.
	assert.Equal(t, dns.RcodeSuccess, update(t, addr, func(m *dns.Msg) {
		m.Insert([]dns.RR{rr("c.lb.example.org. 60 IN CNAME x.example.net."), rr("c.lb.example.org. 60 IN A 192.0.2.1")})
		m.Insert([]dns.RR{rr("d.lb.example.org. 60 IN A 192.0.2.1"), rr("d.lb.example.org. 60 IN CNAME x.example.net.")})
	}), "cname")
	assert.Len(t, rrsetStrings(t, addr, "c.lb.example.org", dns.TypeANY), 1, "A beside CNAME")
	assert.Len(t, rrsetStrings(t, addr, "c.lb.example.org", dns.TypeCNAME), 1, "CNAME")
	assert.Empty(t, rrsetStrings(t, addr, "d.lb.example.org", dns.TypeCNAME), "CNAME beside A")

	// Duplicate add replaces (new TTL for the whole RRset), no duplicate RR.
	assert.Equal(t, dns.RcodeSuccess, update(t, addr, func(m *dns.Msg) {
		m.Insert([]dns.RR{rr("d.lb.example.org. 60 IN A 192.0.2.2"), rr("d.lb.example.org. 120 IN A 192.0.2.1")})
	}), "dup")
	assert.Equal(t, "d.lb.example.org. 120 IN A 192.0.2.1,d.lb.example.org. 120 IN A 192.0.2.2",
		joinComma(rrsetStrings(t, addr, "d.lb.example.org", dns.TypeA)), "RRset TTL")
	before := serial(t, addr)
	assert.Equal(t, dns.RcodeSuccess, update(t, addr, func(m *dns.Msg) {
		m.Insert([]dns.RR{rr("d.lb.example.org. 120 IN A 192.0.2.2")})
	}), "same again")
	assert.Equal(t, before, serial(t, addr), "serial after an update that changes nothing")

	// Format errors and out-of-zone names.
	assert.Equal(t, dns.RcodeNotZone, update(t, addr, func(m *dns.Msg) {
		m.Insert([]dns.RR{rr("www.example.com. 60 IN A 192.0.2.1")})
	}), "NOTZONE")
	assert.Equal(t, dns.RcodeNotZone, update(t, addr, func(m *dns.Msg) {
		m.NameUsed([]dns.RR{rr("www.example.com. 0 IN A 0.0.0.0")})
	}), "NOTZONE prereq")
	assert.Equal(t, dns.RcodeFormatError, update(t, addr, func(m *dns.Msg) {
		m.Ns = append(m.Ns, rr("x.lb.example.org. 60 CH A 192.0.2.1"))
	}), "FORMERR class")
	assert.Equal(t, dns.RcodeFormatError, update(t, addr, func(m *dns.Msg) {
		x := rr("x.lb.example.org. 60 IN A 192.0.2.1")
		x.Header().Class = dns.ClassANY
		m.Ns = append(m.Ns, x)
	}), "FORMERR ANY with rdata")

	// Update for a zone we do not serve: NOTAUTH.
	m := new(dns.Msg)
	m.SetUpdate("example.com.")
	m.Insert([]dns.RR{rr("www.example.com. 60 IN A 192.0.2.1")})
	r := rawExchange(t, addr, signWire(t, m))
	wantRcode(t, dns.RcodeNotAuth, r, "foreign zone")
	require.NotNil(t, r.IsTsig(), "NOTAUTH for a foreign zone not signed: %v", r)
	require.NotEmpty(t, r.IsTsig().MAC, "NOTAUTH for a foreign zone not signed: %v", r)

	// Value-dependent prerequisite: exact RRset (order and TTL ignored).
	assert.Equal(t, dns.RcodeSuccess, update(t, addr, func(m *dns.Msg) {
		m.Used([]dns.RR{rr("d.lb.example.org. 1 IN A 192.0.2.2"), rr("d.lb.example.org. 1 IN A 192.0.2.1")})
		m.Insert([]dns.RR{rr("e.lb.example.org. 60 IN A 192.0.2.5")})
	}), "exact RRset")
	assert.Equal(t, dns.RcodeNXRrset, update(t, addr, func(m *dns.Msg) {
		m.Used([]dns.RR{rr("d.lb.example.org. 1 IN A 192.0.2.2")})
		m.Insert([]dns.RR{rr("f.lb.example.org. 60 IN A 192.0.2.5")})
	}), "subset is not the RRset")

	// Atomicity: the first RR of a failing message is not applied.
	assert.Equal(t, dns.RcodeFormatError, update(t, addr, func(m *dns.Msg) {
		m.Insert([]dns.RR{rr("g.lb.example.org. 60 IN A 192.0.2.5")})
		m.Ns = append(m.Ns, rr("g.lb.example.org. 60 CH A 192.0.2.1"))
	}), "half-bad update")
	wantRcode(t, dns.RcodeNameError, query(t, addr, "g.lb.example.org", dns.TypeA), "g after failed update")

	// Signed reply.
	r = exchange(t, addr, signedUpdate(testKeyName, func(m *dns.Msg) {
		m.Insert([]dns.RR{rr("h.lb.example.org. 60 IN A 192.0.2.5")})
	}), "udp")
	require.NotNil(t, r.IsTsig(), "update reply not signed")
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}

func TestBadTime(t *testing.T) {
	s := startServer(t, testConfig(t))
	m := signedUpdate(testKeyName, func(m *dns.Msg) {
		m.Insert([]dns.RR{mustRR(t, "t.lb.example.org. 60 IN A 192.0.2.5")})
	})
	m.Extra = nil
	m.SetTsig(testKeyName, dns.HmacSHA256, 300, time.Now().Add(-time.Hour).Unix())
	b, _, err := dns.TsigGenerate(m, testSecret, "", false)
	require.NoError(t, err, "sign")
	r := rawExchange(t, s.Addr(), b)
	wantRcode(t, dns.RcodeNotAuth, r, "old signature")
	require.NotNil(t, r.IsTsig(), "want BADTIME: %v", r)
	require.Equal(t, rcodeName(dns.RcodeBadTime), rcodeName(int(r.IsTsig().Error)), "TSIG error: %v", r)
	wantRcode(t, dns.RcodeNameError, query(t, s.Addr(), "t.lb.example.org", dns.TypeA), "not applied")
}

// TestRestartAndCompaction: data survives restarts, with and without
// compaction, and with a torn record at the end of the journal.
func TestRestartAndCompaction(t *testing.T) {
	cfg := testConfig(t)
	cfg.CompactAfter = 3
	run := func(f func(addr string)) {
		t.Helper()
		s, err := New(cfg)
		require.NoError(t, err, "New")
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- s.Run(ctx) }()
		f(s.Addr())
		cancel()
		require.NoError(t, <-done, "Run")
	}
	names := []string{}
	add := func(addr, name string) {
		assert.Equal(t, dns.RcodeSuccess, update(t, addr, func(m *dns.Msg) {
			m.Insert([]dns.RR{mustRR(t, name+" 60 IN A 192.0.2.1")})
		}), "add "+name)
		names = append(names, name)
	}
	verify := func(addr string) {
		for _, n := range names {
			wantRcode(t, dns.RcodeSuccess, query(t, addr, n, dns.TypeA), n)
		}
		assert.Equal(t, testSerialBase+uint32(len(names)), serial(t, addr), "serial")
	}
	run(func(addr string) {
		for i := 0; i < 10; i++ {
			add(addr, "n"+string(rune('a'+i))+".lb.example.org.")
		}
	})
	run(func(addr string) {
		verify(addr)
		add(addr, "after-restart.lb.example.org.")
		add(addr, "deep.ent.lb.example.org.")
	})
	run(func(addr string) {
		// Loaded from snapshot and journal: ent.lb.example.org is still an
		// empty non-terminal (NODATA), not NXDOMAIN.
		r := query(t, addr, "ent.lb.example.org.", dns.TypeA)
		wantRcode(t, dns.RcodeSuccess, r, "empty non-terminal after a restart")
		assert.Empty(t, r.Answer)
	})
	// Explicit compaction, then a torn record appended by hand.
	s, err := New(cfg)
	require.NoError(t, err, "New")
	for _, z := range s.zones {
		require.NoError(t, z.compact(), "compact")
	}
	s.Close()
	jnl := filepath.Join(cfg.DataDir, "lb.example.org.jnl")
	f, err := os.OpenFile(jnl, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	f.Write([]byte{0, 0, 1, 0, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3})
	f.Close()
	run(func(addr string) {
		verify(addr)
		add(addr, "after-torn.lb.example.org.")
	})
	run(verify)
	// A leftover temporary snapshot is ignored.
	os.WriteFile(filepath.Join(cfg.DataDir, "lb.example.org.snap.tmp"), []byte("garbage"), 0o644)
	run(verify)

	// Two servers on one data dir: refused.
	s1, err := New(cfg)
	require.NoError(t, err, "New")
	defer s1.Close()
	_, err = New(cfg)
	require.Error(t, err, "second server on the same data dir started")
}

func TestConfigValidate(t *testing.T) {
	good := testConfig(t)
	require.NoError(t, good.Validate(), "good config")
	for name, mod := range map[string]func(c *Config){
		"no listen":      func(c *Config) { c.Listen = "" },
		"listen no port": func(c *Config) { c.Listen = "127.0.0.1" },
		"no data dir":    func(c *Config) { c.DataDir = "" },
		"bad alg":        func(c *Config) { c.Keys[0].Algorithm = "hmac-foo" },
		"bad secret":     func(c *Config) { c.Keys[0].Secret = "!!" },
		"dup key":        func(c *Config) { c.Keys[1].Name = "LBD-internal" },
		"bad secondary":  func(c *Config) { c.Secondaries = []string{"localhost"} },
		"no zones":       func(c *Config) { c.Zones = nil },
		"dup zone":       func(c *Config) { c.Zones = append(c.Zones, Zone{Name: "LB.example.org."}) },
		"unknown key":    func(c *Config) { c.Zones[0].UpdateKeys = []string{"nope"} },
		"bad ns":         func(c *Config) { c.Zones[0].NS = []string{""} },
	} {
		c := testConfig(t)
		c.Keys = append([]tsig.Spec(nil), c.Keys...)
		c.Zones = append([]Zone(nil), c.Zones...)
		mod(&c)
		assert.Error(t, c.Validate(), "%s: accepted", name)
	}
}
