package dnsserver

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/lbd-project/lbd/internal/tsig"
	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testSerialBase is the fixed SerialClock of testConfig, in Unix seconds:
// a new test zone starts at this serial and, the clock standing still,
// its n-th change has serial testSerialBase+n.
const testSerialBase uint32 = 1_700_000_000

// fixedClock is a SerialClock that always reads sec (Unix seconds).
func fixedClock(sec uint32) func() time.Time {
	return func() time.Time { return time.Unix(int64(sec), 0) }
}

const (
	testZone    = "lb.example.org."
	testKeyName = "lbd-internal."
	otherKey    = "other-key."
)

var (
	testSecret  = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	otherSecret = base64.StdEncoding.EncodeToString([]byte("another secret, another key....."))
	wrongSecret = base64.StdEncoding.EncodeToString([]byte("not the right secret at all!!!!!"))
)

func testConfig(t testing.TB) Config {
	return Config{
		Listen:  "127.0.0.1:0",
		DataDir: t.TempDir(),
		Keys: []tsig.Spec{
			{Name: testKeyName, Algorithm: "hmac-sha256", Secret: testSecret},
			{Name: otherKey, Algorithm: "hmac-sha256", Secret: otherSecret},
		},
		Zones:       []Zone{{Name: "lb.example.org", NS: []string{"ns1.lb.example.org."}, UpdateKeys: []string{testKeyName}}},
		Log:         func(f string, a ...any) { t.Logf(f, a...) },
		SerialClock: fixedClock(testSerialBase),
	}
}

// startServer creates and runs a server until the test ends.
func startServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg)
	require.NoError(t, err, "New")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err, "Run")
		case <-time.After(10 * time.Second):
			assert.Fail(t, "Run did not return")
		}
	})
	return s
}

func exchange(t testing.TB, addr string, m *dns.Msg, network string) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 3 * time.Second,
		TsigSecret: map[string]string{testKeyName: testSecret, otherKey: otherSecret}}
	r, _, err := c.Exchange(m, addr)
	require.NoError(t, err, "exchange %v over %s", m.Question, network)
	return r
}

func query(t testing.TB, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = false
	return exchange(t, addr, m, "udp")
}

func mustRR(t testing.TB, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	require.NoError(t, err, "NewRR %q", s)
	return rr
}

// signedUpdate builds an UPDATE for testZone signed with keyName (""
// = unsigned); build adds prerequisites and updates.
func signedUpdate(keyName string, build func(m *dns.Msg)) *dns.Msg {
	m := new(dns.Msg)
	m.SetUpdate(testZone)
	build(m)
	if keyName != "" {
		m.SetTsig(keyName, dns.HmacSHA256, 300, time.Now().Unix())
	}
	return m
}

func update(t testing.TB, addr string, build func(m *dns.Msg)) int {
	t.Helper()
	r := exchange(t, addr, signedUpdate(testKeyName, build), "tcp")
	return r.Rcode
}

func serial(t testing.TB, addr string) uint32 {
	t.Helper()
	r := query(t, addr, testZone, dns.TypeSOA)
	require.Len(t, r.Answer, 1, "SOA: %v", r)
	require.IsType(t, (*dns.SOA)(nil), r.Answer[0], "SOA: %v", r)
	return r.Answer[0].(*dns.SOA).Serial
}

func answerStrings(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		out = append(out, strings.ReplaceAll(rr.String(), "\t", " "))
	}
	return out
}

func rcodeName(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return fmt.Sprint(rc)
}

// wantRcode asserts r's RCODE, naming both codes (and showing r) on
// failure.
func wantRcode(t testing.TB, want int, r *dns.Msg, what string) {
	t.Helper()
	assert.Equal(t, rcodeName(want), rcodeName(r.Rcode), "%s: rcode\n%v", what, r)
}

// rawExchange sends wire over UDP and unpacks the reply without verifying
// any TSIG (the library refuses to verify NOTAUTH replies).
func rawExchange(t testing.TB, addr string, wire []byte) *dns.Msg {
	t.Helper()
	c, err := net.Dial("udp", addr)
	require.NoError(t, err, "dial")
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	_, err = c.Write(wire)
	require.NoError(t, err, "write")
	buf := make([]byte, 65535)
	n, err := c.Read(buf)
	require.NoError(t, err, "read")
	r := new(dns.Msg)
	require.NoError(t, r.Unpack(buf[:n]), "unpack reply")
	return r
}

// signWire packs m signed with the test key.
func signWire(t testing.TB, m *dns.Msg) []byte {
	t.Helper()
	m.SetTsig(testKeyName, dns.HmacSHA256, 300, time.Now().Unix())
	b, _, err := dns.TsigGenerate(m, testSecret, "", false)
	require.NoError(t, err, "sign")
	return b
}
