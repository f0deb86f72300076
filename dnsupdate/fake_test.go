package dnsupdate

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/internal/tsig"
)

// fakeServer is a scripted DNS server on 127.0.0.1 (UDP and TCP, same
// port). handle returns the reply (nil = no answer) and whether to sign it.
type fakeServer struct {
	t      *testing.T
	addr   string
	key    *tsig.Key // verifies requests
	signer *tsig.Key // signs replies
	handle func(req *dns.Msg, network string) (reply *dns.Msg, sign bool)

	mu   sync.Mutex
	reqs []*dns.Msg
	nets []string
}

func startFake(t *testing.T, k tsig.Spec, handle func(*dns.Msg, string) (*dns.Msg, bool)) *fakeServer {
	t.Helper()
	return startFakeSigner(t, k, k, handle)
}

// startFakeSigner is startFake with a separate key for signing replies.
func startFakeSigner(t *testing.T, k, replyKey tsig.Spec, handle func(*dns.Msg, string) (*dns.Msg, bool)) *fakeServer {
	t.Helper()
	key, err := k.Compile()
	if err != nil {
		t.Fatal(err)
	}
	signer, err := replyKey.Compile()
	if err != nil {
		t.Fatal(err)
	}
	// The TCP port is taken first (TIME_WAIT leftovers of other tests make
	// TCP ports the scarce ones), then UDP on the same number; bounded retry.
	var pc net.PacketConn
	var ln net.Listener
	for try := 0; ; try++ {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		pc, err = net.ListenPacket("udp", ln.Addr().String())
		if err == nil {
			break
		}
		ln.Close()
		if try == 50 {
			t.Fatalf("no port free for both UDP and TCP: %v", err)
		}
	}
	f := &fakeServer{t: t, addr: pc.LocalAddr().String(), key: key, signer: signer, handle: handle}
	var wg sync.WaitGroup
	t.Cleanup(func() { pc.Close(); ln.Close(); wg.Wait() })
	wg.Add(2)
	go func() {
		defer wg.Done()
		buf := make([]byte, 65535)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if out := f.reply(buf[:n], "udp"); out != nil {
				pc.WriteTo(out, from)
			}
		}
	}()
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(5 * time.Second))
				var l [2]byte
				if _, err := io.ReadFull(conn, l[:]); err != nil {
					return
				}
				p := make([]byte, binary.BigEndian.Uint16(l[:]))
				if _, err := io.ReadFull(conn, p); err != nil {
					return
				}
				if out := f.reply(p, "tcp"); out != nil {
					binary.BigEndian.PutUint16(l[:], uint16(len(out)))
					conn.Write(append(l[:], out...))
				}
			}()
		}
	}()
	return f
}

func (f *fakeServer) reply(raw []byte, network string) []byte {
	req := new(dns.Msg)
	if err := req.Unpack(raw); err != nil {
		return nil
	}
	if t := req.IsTsig(); t != nil {
		if err := dns.TsigVerifyWithProvider(raw, f.key, "", false); err != nil {
			f.t.Errorf("fake server: request TSIG: %v", err)
		}
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.nets = append(f.nets, network)
	f.mu.Unlock()
	r, sign := f.handle(req, network)
	if r == nil {
		return nil
	}
	if !sign {
		out, _ := r.Pack()
		return out
	}
	rt := req.IsTsig()
	r.SetTsig(rt.Hdr.Name, rt.Algorithm, 300, time.Now().Unix())
	out, _, err := dns.TsigGenerateWithProvider(r, f.signer, rt.MAC, false)
	if err != nil {
		f.t.Errorf("fake server: sign: %v", err)
		return nil
	}
	return out
}

func (f *fakeServer) requests() ([]*dns.Msg, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*dns.Msg(nil), f.reqs...), append([]string(nil), f.nets...)
}

var fakeKey = tsig.Spec{Name: "fake-key.", Algorithm: "hmac-sha256", Secret: "ZmFrZS1rZXktc2VjcmV0LWZha2Uta2V5LXNlY3JldA=="}

// fakeTSIG is fakeKey compiled.
var fakeTSIG = func() *tsig.Key {
	k, err := fakeKey.Compile()
	if err != nil {
		panic(err)
	}
	return k
}()

func fakeClient(f *fakeServer) *Client {
	return &Client{Server: f.addr, Key: fakeTSIG, Timeout: 500 * time.Millisecond, Retries: 2, Backoff: 5 * time.Millisecond}
}

func rcodeReply(rc int) func(*dns.Msg, string) (*dns.Msg, bool) {
	return func(req *dns.Msg, _ string) (*dns.Msg, bool) {
		r := new(dns.Msg)
		r.SetRcode(req, rc)
		return r, true
	}
}

var oneChange = []Change{{Zone: "lb.example.org", Name: "www.lb.example.org", TTL: 60,
	Add: addrs("127.0.0.2"), Remove: addrs("127.0.0.1"), Desired: addrs("127.0.0.2")}}

func TestUpdateMessage(t *testing.T) {
	f := startFake(t, fakeKey, rcodeReply(dns.RcodeSuccess))
	c := fakeClient(f)
	ch := []Change{
		{Zone: "lb.example.org", Name: "www.lb.example.org", TTL: 60,
			Add: addrs("127.0.0.2", "::2"), Remove: addrs("127.0.0.1"), Desired: addrs("127.0.0.2", "::2")},
		{Zone: "LB.example.org.", Name: "Other.lb.example.org", TTL: 30, Replace: true, Desired: addrs("::9")},
	}
	if err := c.Apply(context.Background(), ch); err != nil {
		t.Fatal(err)
	}
	reqs, nets := f.requests()
	if len(reqs) != 1 || nets[0] != "udp" {
		t.Fatalf("%d requests over %v, want 1 over udp", len(reqs), nets)
	}
	m := reqs[0]
	if m.Opcode != dns.OpcodeUpdate || len(m.Question) != 1 || m.Question[0].Name != "lb.example.org." ||
		m.Question[0].Qtype != dns.TypeSOA || m.Question[0].Qclass != dns.ClassINET || len(m.Answer) != 0 {
		t.Fatalf("bad header/zone/prerequisites:\n%s", m)
	}
	var got []string
	for _, rr := range m.Ns {
		h := rr.Header()
		got = append(got, fmt.Sprintf("%s %d %s %s %s", h.Name, h.Ttl, dns.ClassToString[h.Class], dns.TypeToString[h.Rrtype], rdata(rr)))
	}
	want := []string{
		"www.lb.example.org. 0 NONE A 127.0.0.1",
		"www.lb.example.org. 60 IN A 127.0.0.2",
		"www.lb.example.org. 60 IN AAAA ::2",
		"other.lb.example.org. 0 ANY AAAA ",
		"other.lb.example.org. 30 IN AAAA ::9",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("update section:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if tsig := m.IsTsig(); tsig == nil || tsig.Fudge != 300 || tsig.OrigId != m.Id {
		t.Fatalf("TSIG: %v", tsig)
	}
}

func TestServfailRetried(t *testing.T) {
	f := startFake(t, fakeKey, rcodeReply(dns.RcodeServerFailure))
	err := fakeClient(f).Apply(context.Background(), oneChange)
	if rc, ok := Rcode(err); !ok || rc != dns.RcodeServerFailure || !strings.Contains(err.Error(), "SERVFAIL") {
		t.Fatalf("error %v, want SERVFAIL", err)
	}
	reqs, _ := f.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d attempts, want 3", len(reqs))
	}
	if reqs[0].Id == reqs[1].Id && reqs[1].Id == reqs[2].Id {
		t.Fatalf("every attempt used ID %d", reqs[0].Id)
	}
}

func TestServfailThenSuccess(t *testing.T) {
	var mu sync.Mutex
	n := 0
	f := startFake(t, fakeKey, func(req *dns.Msg, _ string) (*dns.Msg, bool) {
		mu.Lock()
		defer mu.Unlock()
		n++
		r := new(dns.Msg)
		if n == 1 {
			return r.SetRcode(req, dns.RcodeServerFailure), true
		}
		return r.SetRcode(req, dns.RcodeSuccess), true
	})
	if err := fakeClient(f).Apply(context.Background(), oneChange); err != nil {
		t.Fatal(err)
	}
}

func TestNonTransientNotRetried(t *testing.T) {
	for _, rc := range []int{dns.RcodeRefused, dns.RcodeNotAuth, dns.RcodeNotZone, dns.RcodeFormatError, dns.RcodeNotImplemented} {
		t.Run(dns.RcodeToString[rc], func(t *testing.T) {
			f := startFake(t, fakeKey, rcodeReply(rc))
			err := fakeClient(f).Apply(context.Background(), oneChange)
			var re *RcodeError
			if !errors.As(err, &re) || re.Rcode != rc || re.Zone != "lb.example.org." ||
				!strings.Contains(err.Error(), dns.RcodeToString[rc]) {
				t.Fatalf("error %v", err)
			}
			if reqs, _ := f.requests(); len(reqs) != 1 {
				t.Fatalf("%d attempts, want 1", len(reqs))
			}
		})
	}
}

func TestUnsignedReplyIsNotSuccess(t *testing.T) {
	f := startFake(t, fakeKey, func(req *dns.Msg, _ string) (*dns.Msg, bool) {
		return new(dns.Msg).SetRcode(req, dns.RcodeSuccess), false
	})
	err := fakeClient(f).Apply(context.Background(), oneChange)
	if !errors.Is(err, ErrReplySignature) || !strings.Contains(err.Error(), "lb.example.org.") {
		t.Fatalf("error %v, want ErrReplySignature", err)
	}
}

func TestBadReplySignature(t *testing.T) {
	other := fakeKey
	other.Secret = "b3RoZXItc2VjcmV0"
	f := startFakeSigner(t, fakeKey, other, rcodeReply(dns.RcodeSuccess))
	err := fakeClient(f).Apply(context.Background(), oneChange)
	if !errors.Is(err, ErrReplySignature) {
		t.Fatalf("error %v, want ErrReplySignature", err)
	}
}

// tcpOnly answers every request with success over TCP and a truncated
// reply over UDP.
func tcpOnly(req *dns.Msg, network string) (*dns.Msg, bool) {
	r := new(dns.Msg).SetRcode(req, dns.RcodeSuccess)
	if network == "udp" {
		r.Truncated = true
		return r, false
	}
	return r, true
}

func TestTruncatedUDPRetriedOverTCP(t *testing.T) {
	f := startFake(t, fakeKey, tcpOnly)
	c := fakeClient(f)
	var seen []string
	var mu sync.Mutex
	c.Observe = func(a Attempt) { mu.Lock(); seen = append(seen, a.Net); mu.Unlock() }
	if err := c.Apply(context.Background(), oneChange); err != nil {
		t.Fatal(err)
	}
	if _, nets := f.requests(); strings.Join(nets, ",") != "udp,tcp" || strings.Join(seen, ",") != "udp,tcp" {
		t.Fatalf("transports %v, observed %v; want udp,tcp", nets, seen)
	}
}

// The fake server closes every TCP connection after one reply, as a server
// whose idle timeout passed would: the next exchange finds its kept
// connection closed and is sent again on a new one, within the same
// attempt (no retry used, nothing sent twice to the server).
func TestKeptTCPConnectionClosedByServer(t *testing.T) {
	f := startFake(t, fakeKey, tcpOnly)
	c := fakeClient(f)
	c.Retries = -1
	var attempts []Attempt
	var mu sync.Mutex
	c.Observe = func(a Attempt) { mu.Lock(); attempts = append(attempts, a); mu.Unlock() }
	for i := range 3 {
		require.NoError(t, c.Apply(context.Background(), oneChange), "apply %d", i)
	}
	_, nets := f.requests()
	assert.Equal(t, []string{"udp", "tcp", "udp", "tcp", "udp", "tcp"}, nets, "each UPDATE reached the server once over TCP")
	for _, a := range attempts {
		if a.Net == "tcp" {
			assert.False(t, a.Reused, "no exchange succeeded on a connection the server had closed")
			assert.NoError(t, a.Err)
		}
	}
}

func TestQueryTruncatedAndRcodes(t *testing.T) {
	f := startFake(t, fakeKey, func(req *dns.Msg, network string) (*dns.Msg, bool) {
		q := req.Question[0]
		r := new(dns.Msg).SetReply(req)
		r.Authoritative = true
		switch {
		case q.Name == "refused.example.org.":
			r.Rcode = dns.RcodeRefused
		case q.Name == "nx.example.org.":
			r.Rcode = dns.RcodeNameError
		case network == "udp":
			r.Truncated = true
		case q.Qtype == dns.TypeA:
			r.Answer = append(r.Answer,
				&dns.CNAME{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 5}, Target: "t.example.org."},
				&dns.A{Hdr: dns.RR_Header{Name: "t.example.org.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 5}, A: net.ParseIP("192.0.2.99")},
				&dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30}, A: net.ParseIP("192.0.2.2")},
				&dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30}, A: net.ParseIP("192.0.2.1")},
				&dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30}, A: net.ParseIP("192.0.2.1")})
		}
		return r, false
	})
	c := fakeClient(f)
	st, err := c.Query(context.Background(), "WWW.example.org")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(st.A) != "[192.0.2.1 192.0.2.2]" || len(st.AAAA) != 0 || st.TTL != 30 || st.ATTL != 30 {
		t.Fatalf("state %+v", st)
	}
	if st, err := c.Query(context.Background(), "nx.example.org"); err != nil || len(st.Addrs()) != 0 {
		t.Fatalf("NXDOMAIN: %+v, %v", st, err)
	}
	_, err = c.Query(context.Background(), "refused.example.org")
	if rc, ok := Rcode(err); !ok || rc != dns.RcodeRefused || !strings.Contains(err.Error(), "query refused.example.org. A: server replied REFUSED") {
		t.Fatalf("error %v", err)
	}
	if _, err := c.QuerySigned(context.Background(), "www.example.org"); !errors.Is(err, ErrReplySignature) {
		t.Fatalf("unsigned reply to a signed query: %v", err)
	}
}

func TestTimeoutRetriedAndBounded(t *testing.T) {
	// A UDP socket that never answers.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var mu sync.Mutex
	var attempts []Attempt
	c := &Client{Server: pc.LocalAddr().String(), Key: fakeTSIG, Timeout: 50 * time.Millisecond, Retries: 2, Backoff: 5 * time.Millisecond,
		Observe: func(a Attempt) { mu.Lock(); attempts = append(attempts, a); mu.Unlock() }}
	err = c.Apply(context.Background(), oneChange)
	var ne net.Error
	if err == nil || !errors.As(err, &ne) || !ne.Timeout() || !Transient(err) || !strings.Contains(err.Error(), "3 attempts") {
		t.Fatalf("error %v, want a timeout after 3 attempts", err)
	}
	if len(attempts) != 3 || attempts[2].Try != 3 || attempts[0].Rcode != -1 {
		t.Fatalf("attempts %+v", attempts)
	}

	// The context deadline bounds the whole operation, retries included.
	attempts = nil
	c.Timeout, c.Retries, c.Backoff = time.Second, 100, 10*time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err = c.Apply(ctx, oneChange)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want context.DeadlineExceeded", err)
	}
	if len(attempts) != 1 {
		t.Fatalf("%d attempts within the context deadline, want 1", len(attempts))
	}
}

func TestApplyValidation(t *testing.T) {
	c := &Client{Server: "127.0.0.1:1", Key: fakeTSIG}
	if err := c.Apply(context.Background(), nil); err != nil {
		t.Fatalf("no changes: %v", err)
	}
	bad := *c
	k, err := fakeKey.Compile() // a key of its own: fakeTSIG is shared by every test
	require.NoError(t, err)
	k.Algorithm = "hmac-foo"
	bad.Key = k
	if err := bad.Apply(context.Background(), oneChange); err == nil || !strings.Contains(err.Error(), "hmac-foo") {
		t.Fatalf("bad key: %v", err)
	}
	outside := []Change{{Zone: "lb.example.org", Name: "www.example.org", TTL: 60, Add: addrs("127.0.0.1")}}
	if err := c.Apply(context.Background(), outside); err == nil || !strings.Contains(err.Error(), "not in the zone") {
		t.Fatalf("name outside zone: %v", err)
	}
}

func TestBatches(t *testing.T) {
	var changes []Change
	for i := range 3000 {
		name := fmt.Sprintf("host%04d.lb.example.org", i)
		changes = append(changes, Diff("lb.example.org", name, State{}, addrs("2001:db8::1", "2001:db8::2"), 60))
	}
	batches, err := Batches("lb.example.org", changes)
	if err != nil {
		t.Fatal(err)
	}
	if len(batches) < 2 {
		t.Fatalf("%d batches, want a split", len(batches))
	}
	total := 0
	seen := map[string]int{}
	for i, b := range batches {
		m := updateMsg("lb.example.org.", batch{upd: b}, &Lease{Expect: strings.Repeat("x", 255), Set: strings.Repeat("y", 255)})
		m.Compress = false
		if l := m.Len(); l > maxUpdateSize {
			t.Fatalf("batch %d is %d bytes", i, l)
		}
		for _, rr := range b {
			if j, ok := seen[rr.Header().Name]; ok && j != i {
				t.Fatalf("%s split between batches %d and %d", rr.Header().Name, j, i)
			}
			seen[rr.Header().Name] = i
		}
		total += len(b)
	}
	if total != 6000 {
		t.Fatalf("%d records, want 6000", total)
	}

	var huge []netip.Addr
	for i := range 3000 {
		huge = append(huge, netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i >> 8), 15: byte(i)}))
	}
	_, err = Batches("lb.example.org", []Change{Diff("lb.example.org", "www.lb.example.org", State{}, huge, 60)})
	if err == nil || !strings.Contains(err.Error(), "do not fit") {
		t.Fatalf("huge name: %v", err)
	}
}

// InFlight bounds the zones ApplyFenced updates at once, across the
// clients sharing it (a server's internal and external views): a server
// that holds every UPDATE back until the test lets them go sees three at
// once from two clients sharing a bound of 3, and no more while it holds
// them (with a bound each, six would arrive).
func TestInFlightShared(t *testing.T) {
	const limit, zones = 3, 4 * 3
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	inFlight, most := 0, 0
	reached := make(chan struct{}, zones) // a signal each time limit are held
	release := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, TsigSecret: map[string]string{fakeKey.Name: fakeKey.Secret},
		MsgAcceptFunc: func(dns.Header) dns.MsgAcceptAction { return dns.MsgAccept }, // UPDATEs too
		Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
			mu.Lock()
			inFlight++
			most = max(most, inFlight)
			if inFlight == limit {
				reached <- struct{}{}
			}
			mu.Unlock()
			select {
			case <-release:
			case <-time.After(5 * time.Second):
			}
			mu.Lock()
			inFlight--
			mu.Unlock()
			r := new(dns.Msg)
			r.SetReply(req)
			r.SetTsig(fakeKey.Name, dns.HmacSHA256, 300, time.Now().Unix())
			_ = w.WriteMsg(r)
		})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })

	bound := NewInFlight(limit)
	var wg sync.WaitGroup
	for view := range 2 {
		c := &Client{Server: pc.LocalAddr().String(), Key: fakeTSIG, Timeout: 10 * time.Second, Retries: -1, InFlight: bound}
		var changes []Change
		for i := range zones / 2 {
			z := fmt.Sprintf("z%d-%d.example.org", view, i)
			changes = append(changes, Change{Zone: z, Name: z, TTL: 60, Add: addrs("127.0.0.2"), Desired: addrs("127.0.0.2")})
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			each := c.ApplyEach(context.Background(), changes)
			assert.Len(t, each, zones/2)
			for z, err := range each {
				assert.NoError(t, err, z)
			}
		}()
	}
	select {
	case <-reached:
	case <-time.After(5 * time.Second):
		t.Fatal("the server never held three UPDATEs")
	}
	// Both clients had every zone to send: with a bound each, the other
	// three UPDATEs would arrive now. They are given time to, then all go.
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	held := most
	mu.Unlock()
	close(release)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, limit, held, "held at once")
	assert.Equal(t, limit, most, "never more than the bound")
}
