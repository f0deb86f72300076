package dnsserver

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
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
