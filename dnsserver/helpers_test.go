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
)

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
		Zones: []Zone{{Name: "lb.example.org", NS: []string{"ns1.lb.example.org."}, UpdateKeys: []string{testKeyName}}},
		Log:   func(f string, a ...any) { t.Logf(f, a...) },
	}
}

// startServer creates and runs a server until the test ends.
func startServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Run did not return")
		}
	})
	return s
}

func exchange(t testing.TB, addr string, m *dns.Msg, network string) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 3 * time.Second,
		TsigSecret: map[string]string{testKeyName: testSecret, otherKey: otherSecret}}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("exchange %v over %s: %v", m.Question, network, err)
	}
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
	if err != nil {
		t.Fatalf("NewRR %q: %v", s, err)
	}
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
	if len(r.Answer) != 1 {
		t.Fatalf("SOA: %v", r)
	}
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

// Small assertion helpers (testify's dependencies are not in go.sum).

func check(t testing.TB, ok bool, format string, args ...any) {
	t.Helper()
	if !ok {
		t.Errorf(format, args...)
	}
}

func must(t testing.TB, ok bool, format string, args ...any) {
	t.Helper()
	if !ok {
		t.Fatalf(format, args...)
	}
}

func eq[T comparable](t testing.TB, want, got T, what string) {
	t.Helper()
	if want != got {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

func wantRcode(t testing.TB, want int, r *dns.Msg, what string) {
	t.Helper()
	if r.Rcode != want {
		t.Errorf("%s: rcode %s, want %s\n%v", what, rcodeName(r.Rcode), rcodeName(want), r)
	}
}

// rawExchange sends wire over UDP and unpacks the reply without verifying
// any TSIG (the library refuses to verify NOTAUTH replies).
func rawExchange(t testing.TB, addr string, wire []byte) *dns.Msg {
	t.Helper()
	c, err := net.Dial("udp", addr)
	must(t, err == nil, "dial: %v", err)
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	_, err = c.Write(wire)
	must(t, err == nil, "write: %v", err)
	buf := make([]byte, 65535)
	n, err := c.Read(buf)
	must(t, err == nil, "read: %v", err)
	r := new(dns.Msg)
	must(t, r.Unpack(buf[:n]) == nil, "unpack reply")
	return r
}

// signWire packs m signed with the test key.
func signWire(t testing.TB, m *dns.Msg) []byte {
	t.Helper()
	m.SetTsig(testKeyName, dns.HmacSHA256, 300, time.Now().Unix())
	b, _, err := dns.TsigGenerate(m, testSecret, "", false)
	must(t, err == nil, "sign: %v", err)
	return b
}
