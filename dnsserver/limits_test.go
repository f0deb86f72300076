package dnsserver

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tcpQueryFrom sends one SOA query over a new TCP connection from the local
// address src (any of 127.0.0.0/8 on Linux) and reports whether it was
// answered.
func tcpQueryFrom(addr, src string) error {
	c := &dns.Client{Net: "tcp", Timeout: 3 * time.Second,
		Dialer: &net.Dialer{Timeout: 3 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}}
	m := new(dns.Msg)
	m.SetQuestion(testZone, dns.TypeSOA)
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		return err
	}
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		return errors.New("bad answer: " + r.String())
	}
	return nil
}

// openIdle opens n TCP connections to addr from src and sends nothing on
// them; they are closed when the test ends.
func openIdle(t *testing.T, addr, src string, n int) []net.Conn {
	t.Helper()
	d := &net.Dialer{Timeout: 3 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	conns := make([]net.Conn, 0, n)
	for i := 0; i < n; i++ {
		c, err := d.Dial("tcp", addr)
		require.NoError(t, err, "idle connection %d", i)
		conns = append(conns, c)
	}
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	return conns
}

// openCount reports how many of conns the server still holds open: a
// closed one reads EOF (or a reset) at once, an open one times out at the
// deadline (all are read at once: a read past its deadline times out even
// when EOF is pending).
func openCount(conns []net.Conn, wait time.Duration) int {
	deadline := time.Now().Add(wait)
	var open atomic.Int32
	var wg sync.WaitGroup
	for _, c := range conns {
		c.SetReadDeadline(deadline)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b [1]byte
			_, err := c.Read(b[:])
			if isTimeout(err) {
				open.Add(1)
			}
		}()
	}
	wg.Wait()
	return int(open.Load())
}

// TestTCPOneClientCannotExhaust: one client holding 130 idle connections
// (more than the global cap of 128) does not deny TCP to a second client.
func TestTCPOneClientCannotExhaust(t *testing.T) {
	s := startServer(t, testConfig(t))
	addr := s.Addr()
	hogs := openIdle(t, addr, "127.0.0.1", 130)
	const legit = 28
	answered := 0
	for i := 0; i < legit; i++ {
		if err := tcpQueryFrom(addr, "127.0.0.2"); err == nil {
			answered++
		} else {
			t.Logf("query %d from the second client: %v", i, err)
		}
	}
	assert.Equal(t, legit, answered, "TCP queries of the second client answered")
	assert.Equal(t, 16, openCount(hogs, 500*time.Millisecond), "connections of the first client kept open (the per-source cap)")
}

// The file-descriptor exhaustion test runs the server in a child process
// (the test binary again, see TestMain) with a low RLIMIT_NOFILE, driven by
// commands on its stdin: "fill" opens files until EMFILE, "free" closes
// them, "health" prints Healthy(), "quit" stops the server.
const fdHelperEnv = "LBD_DNSSERVER_FD_HELPER_DIR"

func fdHelperMain(dir string) int {
	lim := syscall.Rlimit{Cur: 256, Max: 256}
	var cur syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &cur); err == nil && cur.Max < lim.Max {
		lim = cur
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		os.Stdout.WriteString("ERR setrlimit " + err.Error() + "\n")
		return 2
	}
	cfg := Config{
		Listen:  "127.0.0.1:0",
		DataDir: dir,
		Zones:   []Zone{{Name: testZone, NS: []string{"ns1.lb.example.org."}}},
	}
	s, err := New(cfg)
	if err != nil {
		os.Stdout.WriteString("ERR New " + err.Error() + "\n")
		return 3
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	os.Stdout.WriteString("ADDR " + s.Addr() + "\n")
	var files []*os.File
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		switch sc.Text() {
		case "fill":
			for len(files) < 100000 {
				f, err := os.Open(os.DevNull)
				if err != nil {
					break
				}
				files = append(files, f)
			}
			os.Stdout.WriteString("FULL\n")
		case "free":
			for _, f := range files {
				f.Close()
			}
			files = nil
			os.Stdout.WriteString("FREED\n")
		case "health":
			os.Stdout.WriteString("HEALTH " + healthLine(s) + "\n")
		case "quit":
			return 0
		}
		select {
		case err := <-done:
			os.Stdout.WriteString("STOPPED " + strings.ReplaceAll(errString(err), "\n", " ") + "\n")
			done <- err
		default:
		}
	}
	return 0
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// TestAcceptErrorFDExhaustion: with file descriptors exhausted the TCP
// accept fails (EMFILE); the server keeps serving UDP, reports the error
// while it lasts, and accepts TCP again once descriptors are free.
func TestAcceptErrorFDExhaustion(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fdHelperEnv+"="+t.TempDir())
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err, "stdin pipe")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err, "stdout pipe")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start(), "start helper")
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	// next returns the helper's next line starting with prefix (other
	// lines, e.g. STOPPED, are logged).
	next := func(prefix string) string {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				require.True(t, ok, "helper exited; stderr:\n%s", stderr.String())
				if strings.HasPrefix(l, prefix) {
					return strings.TrimPrefix(l, prefix)
				}
				t.Logf("helper: %s", l)
			case <-timeout:
				require.FailNow(t, "helper did not print "+prefix)
			}
		}
	}
	send := func(cmd string) {
		t.Helper()
		_, err := io.WriteString(stdin, cmd+"\n")
		require.NoError(t, err, "helper command %s", cmd)
	}
	addr := next("ADDR ")
	require.NoError(t, tcpQueryFrom(addr, "127.0.0.1"), "TCP before exhaustion")

	send("fill")
	next("FULL")
	// The kernel completes the handshake; the server's accept fails.
	pending, err := net.DialTimeout("tcp", addr, 3*time.Second)
	require.NoError(t, err, "dial while the server has no descriptors")
	defer pending.Close()
	m := new(dns.Msg)
	m.SetQuestion(testZone, dns.TypeSOA)
	wire, _ := m.Pack()
	_, err = pending.Write(append([]byte{byte(len(wire) >> 8), byte(len(wire))}, wire...))
	require.NoError(t, err, "write query on the pending connection")
	var health string
	for i := 0; i < 50; i++ {
		send("health")
		if health = next("HEALTH "); strings.Contains(health, "too many open files") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	assert.Contains(t, health, "too many open files", "Healthy() while accept fails")
	r := query(t, addr, testZone, dns.TypeSOA)
	wantRcode(t, dns.RcodeSuccess, r, "UDP while TCP accept fails")

	send("free")
	next("FREED")
	// The pending connection is accepted after the backoff and answered.
	pending.SetReadDeadline(time.Now().Add(5 * time.Second))
	var lenBuf [2]byte
	_, err = io.ReadFull(pending, lenBuf[:])
	require.NoError(t, err, "answer on the connection made during exhaustion")
	require.NoError(t, tcpQueryFrom(addr, "127.0.0.1"), "TCP after the descriptors were freed")
	for i := 0; i < 50; i++ {
		send("health")
		if health = next("HEALTH "); health == "ok" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	assert.Equal(t, "ok", health, "Healthy() after recovery")
	send("quit")
}

func healthLine(s *Server) string { return strings.ReplaceAll(errString(s.Healthy()), "\n", " ") }

// TestTransferPolicy: a zone may be transferred by the keys in its
// TransferKeys and from the secondaries' addresses; a key allowed to update
// the zone only, and any other valid key, are REFUSED; a bad signature
// stays NOTAUTH (RFC 8945 §5.2).
func TestTransferPolicy(t *testing.T) {
	cfg := testConfig(t) // UpdateKeys: testKeyName
	cfg.Zones[0].TransferKeys = []string{otherKey}
	cfg.Secondaries = []string{"127.0.0.2:9"} // nothing listens on port 9
	s := startServer(t, cfg)
	addr := s.Addr()
	secrets := map[string]string{testKeyName: testSecret, otherKey: otherSecret}
	tests := []struct {
		name   string
		src    string
		qtype  uint16
		net    string
		key    string // "" = unsigned
		secret string // signing secret when not the key's own (a bad MAC)
		rcode  int
	}{
		{"unsigned, not a secondary", "127.0.0.1", dns.TypeAXFR, "tcp", "", "", dns.RcodeRefused},
		{"update key, AXFR", "127.0.0.1", dns.TypeAXFR, "tcp", testKeyName, "", dns.RcodeRefused},
		{"update key, IXFR", "127.0.0.1", dns.TypeIXFR, "tcp", testKeyName, "", dns.RcodeRefused},
		{"update key, IXFR over UDP", "127.0.0.1", dns.TypeIXFR, "udp", testKeyName, "", dns.RcodeRefused},
		{"transfer key, AXFR", "127.0.0.1", dns.TypeAXFR, "tcp", otherKey, "", dns.RcodeSuccess},
		{"transfer key, IXFR", "127.0.0.1", dns.TypeIXFR, "tcp", otherKey, "", dns.RcodeSuccess},
		{"transfer key, bad MAC", "127.0.0.1", dns.TypeIXFR, "udp", otherKey, wrongSecret, dns.RcodeNotAuth},
		{"secondary address, unsigned", "127.0.0.2", dns.TypeAXFR, "tcp", "", "", dns.RcodeSuccess},
		{"secondary address, update key", "127.0.0.2", dns.TypeAXFR, "tcp", testKeyName, "", dns.RcodeSuccess},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := new(dns.Msg)
			if tt.qtype == dns.TypeAXFR {
				m.SetAxfr(testZone)
			} else {
				m.SetIxfr(testZone, 1, "ns1.lb.example.org.", "hostmaster.lb.example.org.")
			}
			var r *dns.Msg
			if tt.secret != "" {
				m.SetTsig(tt.key, dns.HmacSHA256, 300, time.Now().Unix())
				wire, _, err := dns.TsigGenerate(m, tt.secret, "", false)
				require.NoError(t, err, "sign")
				r = rawExchange(t, addr, wire)
			} else {
				if tt.key != "" {
					m.SetTsig(tt.key, dns.HmacSHA256, 300, time.Now().Unix())
				}
				c := &dns.Client{Net: tt.net, Timeout: 3 * time.Second, TsigSecret: secrets}
				if tt.net == "tcp" {
					c.Dialer = &net.Dialer{Timeout: 3 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(tt.src)}}
				}
				var err error
				r, _, err = c.Exchange(m, addr)
				require.NoError(t, err, "exchange")
			}
			wantRcode(t, tt.rcode, r, tt.name)
			if tt.rcode == dns.RcodeSuccess {
				// SOA, NS, SOA: the whole zone in one message.
				assert.Len(t, r.Answer, 3, "transfer RRs")
			} else {
				assert.Empty(t, r.Answer, "records in a refused transfer")
			}
		})
	}
}

// TestTCPGlobalCapEvictsIdle: at the global cap a new connection replaces
// the one idle for the longest time; a client over its per-source cap is
// closed at once.
func TestTCPGlobalCapEvictsIdle(t *testing.T) {
	cfg := testConfig(t)
	cfg.TCPMax, cfg.TCPPerSource = 8, 4
	s := startServer(t, cfg)
	addr := s.Addr()
	first := openIdle(t, addr, "127.0.0.1", 4)
	second := openIdle(t, addr, "127.0.0.2", 4)
	over := openIdle(t, addr, "127.0.0.2", 1)
	assert.Equal(t, 0, openCount(over, 2*time.Second), "a connection over the per-source cap stays open")
	// The server is at its cap of 8 idle connections; a third client is
	// still served, each query evicting one idle connection.
	for i := 0; i < 3; i++ {
		require.NoError(t, tcpQueryFrom(addr, "127.0.0.3"), "query %d at the global cap", i)
	}
	// At least the first query evicted (the server may have seen the
	// close of a served connection before the next one arrived): the
	// oldest idle connection goes first, the younger ones stay.
	assert.Equal(t, 0, openCount(first[:1], 2*time.Second), "the connection idle longest is kept")
	assert.Equal(t, 4, openCount(second, 300*time.Millisecond), "younger idle connections evicted")
}

// TestTCPIdleTimeout: a connection on which no complete message arrives
// is closed after the idle timeout (RFC 7766 §6.2.3), also one that sent a
// partial message.
func TestTCPIdleTimeout(t *testing.T) {
	cfg := testConfig(t)
	cfg.TCPIdleTimeout = 200 * time.Millisecond
	s := startServer(t, cfg)
	conns := openIdle(t, s.Addr(), "127.0.0.1", 2)
	_, err := conns[1].Write([]byte{0, 40, 1, 2}) // 4 bytes of a 40-byte message
	require.NoError(t, err, "partial write")
	for i, c := range conns {
		start := time.Now()
		c.SetReadDeadline(start.Add(5 * time.Second))
		var b [1]byte
		_, err := c.Read(b[:])
		assert.False(t, isTimeout(err), "connection %d still open after 5 s", i)
		assert.Less(t, time.Since(start), 5*time.Second, "connection %d", i)
	}
	require.NoError(t, tcpQueryFrom(s.Addr(), "127.0.0.1"), "a new connection is served")
}

// TestRateLimiter: the token bucket per source prefix, on an injected
// clock.
func TestRateLimiter(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	type step struct {
		at   time.Duration // clock offset from t0
		from string
		n    int    // responses asked for
		want string // one letter per response: s(end), d(rop), t(runcated slip)
	}
	tests := []struct {
		name  string
		rrl   RRL
		steps []step
	}{
		{"burst, then slip every 2nd drop, refill at the rate", RRL{ResponsesPerSecond: 10, Burst: 5, Slip: 2}, []step{
			{0, "192.0.2.1", 9, "sssssdtdt"},
			{500 * time.Millisecond, "192.0.2.1", 8, "sssssdtd"}, // 5 tokens earned in 0.5 s
			{600 * time.Millisecond, "192.0.2.1", 2, "st"},
		}},
		{"the /24 shares one bucket, other prefixes have their own", RRL{ResponsesPerSecond: 1, Burst: 2, Slip: 1}, []step{
			{0, "192.0.2.1", 2, "ss"},
			{0, "192.0.2.200", 2, "tt"},
			{0, "192.0.3.1", 3, "sst"},
			{0, "::ffff:192.0.2.7", 1, "t"}, // IPv4-mapped counts as IPv4
			{0, "2001:db8:0:1::1", 2, "ss"},
			{0, "2001:db8:0:ff::2", 1, "t"},      // same /56
			{0, "2001:db8:0:100::1", 2, "ss"},    // another /56
			{time.Second, "192.0.2.99", 2, "st"}, // one token per second
		}},
		{"slip 0 drops every excess response", RRL{ResponsesPerSecond: 2, Burst: 1, Slip: 0}, []step{
			{0, "198.51.100.1", 4, "sddd"},
		}},
		{"burst 0 is two seconds' worth", RRL{ResponsesPerSecond: 3, Slip: 3}, []step{
			{0, "198.51.100.1", 9, "ssssssddt"},
		}},
		{"a clock going backwards earns nothing", RRL{ResponsesPerSecond: 10, Burst: 2, Slip: 1}, []step{
			{time.Second, "198.51.100.1", 3, "sst"},
			{0, "198.51.100.1", 1, "t"},
			{time.Second + 100*time.Millisecond, "198.51.100.1", 2, "st"},
		}},
	}
	letter := map[rrlAction]byte{rrlSend: 's', rrlDrop: 'd', rrlSlip: 't'}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var now time.Time
			r := tt.rrl
			r.Clock = func() time.Time { return now }
			if r.Burst == 0 {
				r.Burst = 2 * r.ResponsesPerSecond // as Config.compile does
			}
			l := newRateLimiter(r)
			for i, st := range tt.steps {
				now = t0.Add(st.at)
				got := make([]byte, st.n)
				for j := range got {
					got[j] = letter[l.decide(netip.MustParseAddr(st.from))]
				}
				assert.Equal(t, st.want, string(got), "step %d (%s at +%v)", i, st.from, st.at)
			}
		})
	}
	assert.Nil(t, newRateLimiter(RRL{}), "ResponsesPerSecond 0 disables the limiter")
}

// TestRateLimiterBounded: a flood from more prefixes than the table holds
// shares one overflow bucket instead of growing it; the table is swept of
// refilled buckets.
func TestRateLimiterBounded(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := newRateLimiter(RRL{ResponsesPerSecond: 1, Burst: 1, Slip: 0, Clock: func() time.Time { return now }})
	for i := 0; i < rrlMaxBuckets; i++ {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 1}) // 10.x.y.0/24
		require.Equal(t, rrlSend, l.decide(a), "first response of prefix %d", i)
	}
	require.Len(t, l.buckets, rrlMaxBuckets, "table")
	// Full and nothing refilled: new prefixes share the overflow bucket.
	assert.Equal(t, rrlSend, l.decide(netip.MustParseAddr("192.0.2.1")), "overflow bucket, first")
	assert.Equal(t, rrlDrop, l.decide(netip.MustParseAddr("198.51.100.1")), "overflow bucket, shared")
	assert.Len(t, l.buckets, rrlMaxBuckets, "table grew")
	// Two seconds later every bucket has refilled: the sweep empties the
	// table and the new prefix gets its own bucket.
	now = now.Add(2 * time.Second)
	assert.Equal(t, rrlSend, l.decide(netip.MustParseAddr("203.0.113.1")), "after the sweep")
	assert.Len(t, l.buckets, 1, "table after the sweep")
}

// TestRRLFlood: a burst of 2,000 UDP queries from one source within one
// clock second (the limiter's clock stands still) is answered only up to
// the burst, with truncated slips; a second source, TCP and signed
// queries are still answered.
func TestRRLFlood(t *testing.T) {
	cfg := testConfig(t)
	cfg.RRL = &RRL{ResponsesPerSecond: 50, Burst: 100, Slip: 2, Clock: fixedClock(testSerialBase)}
	s := startServer(t, cfg)
	addr := s.Addr()

	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err, "client socket")
	defer c.Close()
	to, err := net.ResolveUDPAddr("udp", addr)
	require.NoError(t, err, "resolve")
	const flood = 2000
	var answered, slipped, replies atomic.Int32
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		buf := make([]byte, 65535)
		for i := 0; i < flood; i++ {
			c.SetReadDeadline(time.Now().Add(time.Second))
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				return // a second of silence: the flood is over
			}
			var r dns.Msg
			if r.Unpack(buf[:n]) != nil {
				continue
			}
			replies.Add(1)
			switch {
			case r.Truncated && len(r.Answer) == 0:
				slipped.Add(1)
			case r.Rcode == dns.RcodeSuccess && len(r.Answer) == 1:
				answered.Add(1)
			}
		}
	}()
	m := new(dns.Msg)
	m.SetQuestion(testZone, dns.TypeSOA)
	for i := 0; i < flood; i++ {
		m.Id = uint16(i)
		wire, _ := m.Pack()
		_, err := c.WriteTo(wire, to)
		require.NoError(t, err, "query %d", i)
	}
	select {
	case <-readDone:
	case <-time.After(30 * time.Second):
		require.FailNow(t, "reader did not finish")
	}
	t.Logf("%d queries: %d answered, %d truncated slips, %d replies", flood, answered.Load(), slipped.Load(), replies.Load())
	assert.Positive(t, answered.Load(), "no query answered")
	assert.LessOrEqual(t, answered.Load(), int32(100), "answers beyond the burst")
	assert.Positive(t, slipped.Load(), "no TC=1 slip")
	assert.Less(t, replies.Load(), int32(flood/2+100), "replies: most excess queries must be dropped")

	// Another /24 has its own bucket.
	c2, err := net.ListenPacket("udp", "127.0.1.1:0")
	require.NoError(t, err, "second client socket")
	defer c2.Close()
	wire, _ := m.Pack()
	_, err = c2.WriteTo(wire, to)
	require.NoError(t, err, "second client query")
	c2.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 65535)
	n, _, err := c2.ReadFrom(buf)
	require.NoError(t, err, "second source not answered")
	var r dns.Msg
	require.NoError(t, r.Unpack(buf[:n]), "unpack")
	wantRcode(t, dns.RcodeSuccess, &r, "second source")
	assert.False(t, r.Truncated, "second source truncated")
	assert.Len(t, r.Answer, 1, "second source answer")

	// The flooded source is still answered over TCP and when signed.
	require.NoError(t, tcpQueryFrom(addr, "127.0.0.1"), "TCP from the flooded source")
	sm := new(dns.Msg)
	sm.SetQuestion(testZone, dns.TypeSOA)
	sm.SetTsig(otherKey, dns.HmacSHA256, 300, time.Now().Unix())
	sr := exchange(t, addr, sm, "udp")
	wantRcode(t, dns.RcodeSuccess, sr, "signed query from the flooded source")
	assert.Len(t, sr.Answer, 1, "signed query answer")
}

// TestLimitsConfig: validation of the limits and transfer keys.
func TestLimitsConfig(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(c *Config)
		error string // "" = valid
	}{
		{"defaults", func(c *Config) {}, ""},
		{"explicit limits", func(c *Config) { c.TCPMax, c.TCPPerSource, c.TCPIdleTimeout = 10, 9, time.Second }, ""},
		{"per source default below a small max", func(c *Config) { c.TCPMax = 4 }, ""},
		{"per source equal to max", func(c *Config) { c.TCPMax, c.TCPPerSource = 16, 16 }, "must be below tcp_max"},
		{"per source above the default max", func(c *Config) { c.TCPPerSource = 200 }, "must be below tcp_max"},
		{"max 1", func(c *Config) { c.TCPMax = 1 }, "at least 2"},
		{"negative idle timeout", func(c *Config) { c.TCPIdleTimeout = -time.Second }, "must not be negative"},
		{"RRL off", func(c *Config) { c.RRL = &RRL{} }, ""},
		{"RRL negative", func(c *Config) { c.RRL = &RRL{ResponsesPerSecond: 5, Slip: -1} }, "must not be negative"},
		{"transfer key", func(c *Config) { c.Zones[0].TransferKeys = []string{"OTHER-KEY"} }, ""},
		{"unknown transfer key", func(c *Config) { c.Zones[0].TransferKeys = []string{"nope."} }, `transfer_keys[0] "nope.": no such key`},
		{"empty transfer key", func(c *Config) { c.Zones[0].TransferKeys = []string{" "} }, "transfer_keys[0]: empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testConfig(t)
			tt.edit(&c)
			err := c.Validate()
			if tt.error == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tt.error)
			}
		})
	}
	cc, err := testConfig(t).compile()
	require.NoError(t, err, "compile")
	assert.Equal(t, limits{tcpMax: DefaultTCPMax, tcpPerSource: DefaultTCPPerSource, tcpIdle: DefaultTCPIdleTimeout, rrl: DefaultRRL()}, cc.limits, "defaults")
}

// TestHealthyLifecycle: not healthy before Run and after it returned.
func TestHealthyLifecycle(t *testing.T) {
	s, err := New(testConfig(t))
	require.NoError(t, err, "New")
	assert.ErrorContains(t, s.Healthy(), "not running", "before Run")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	ok := false
	for i := 0; i < 100 && !ok; i++ {
		ok = s.Healthy() == nil
		time.Sleep(10 * time.Millisecond)
	}
	assert.True(t, ok, "Healthy while running: %v", s.Healthy())
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err, "Run")
	case <-time.After(10 * time.Second):
		require.FailNow(t, "Run did not return")
	}
	assert.ErrorContains(t, s.Healthy(), "stopped", "after Run")
}
