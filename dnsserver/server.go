package dnsserver

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/lbd-project/lbd/internal/tsig"
)

const (
	maxUDPSize     = 4096 // largest UDP reply; advertised in our OPT
	xfrMessageSize = 16000
	tcpWriteTimout = 10 * time.Second
	maxUDPWorkers  = 64
	notifyTries    = 3
	notifyTimeout  = time.Second
)

// Server is an authoritative DNS server for the configured zones.
type Server struct {
	cfg    Config
	keys   tsig.Keyring
	zones  map[string]*zone
	secs   []netip.AddrPort
	secIPs map[netip.Addr]bool
	lim    limits
	rrl    *rateLimiter // nil = no UDP rate limiting

	udp  *net.UDPConn
	tcp  *net.TCPListener
	lock *os.File

	compactCh chan *zone
	notifyCh  chan struct{}
	notifyMu  sync.Mutex
	pending   map[*zone]bool

	connMu    sync.Mutex
	conns     map[*tcpConn]struct{}
	perSource map[netip.Prefix]int

	healthMu sync.Mutex
	health   [healthComponents]error

	runMu   sync.Mutex
	running bool
	closed  bool
}

// New validates cfg, locks DataDir, loads every zone (snapshot + journal
// replay; a zone without files is created with an SOA and the configured NS
// records) and binds the UDP and TCP sockets. Serve with Run; Close
// releases everything if Run is never called.
func New(cfg Config) (*Server, error) {
	cc, err := cfg.compile()
	if err != nil {
		return nil, err
	}
	if cfg.CompactAfter == 0 {
		cfg.CompactAfter = defaultCompactAfter
	}
	if cfg.CompactInterval == 0 {
		cfg.CompactInterval = defaultCompactInterval
	}
	s := &Server{
		cfg:       cfg,
		keys:      cc.keys,
		zones:     map[string]*zone{},
		secs:      cc.secondaries,
		secIPs:    map[netip.Addr]bool{},
		lim:       cc.limits,
		rrl:       newRateLimiter(cc.limits.rrl),
		compactCh: make(chan *zone, len(cc.zones)),
		notifyCh:  make(chan struct{}, 1),
		pending:   map[*zone]bool{},
		conns:     map[*tcpConn]struct{}{},
		perSource: map[netip.Prefix]int{},
	}
	for _, ap := range cc.secondaries {
		s.secIPs[ap.Addr().Unmap()] = true
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("dnsserver: data dir: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(cfg.DataDir, "lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("dnsserver: data dir lock: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("dnsserver: data dir %s is in use by another server: %w", cfg.DataDir, err)
	}
	s.lock = lock
	for _, cz := range cc.zones {
		z, err := loadZone(cfg.DataDir, cz)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("dnsserver: %w", err)
		}
		s.zones[z.name] = z
	}
	if err := s.listen(cc.listen); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// listen binds TCP and UDP on the same port (a free one for port 0).
func (s *Server) listen(addr string) error {
	host, port, _ := net.SplitHostPort(addr)
	var lastErr error
	for try := 0; try < 20; try++ {
		tl, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("dnsserver: listen tcp %s: %w", addr, err)
		}
		p := tl.Addr().(*net.TCPAddr).Port
		ul, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err != nil {
			tl.Close()
			lastErr = err
			if port == "0" {
				continue
			}
			break
		}
		s.tcp, s.udp = tl.(*net.TCPListener), ul.(*net.UDPConn)
		return nil
	}
	return fmt.Errorf("dnsserver: listen udp %s: %w", addr, lastErr)
}

// Addr returns the address the server listens on, UDP and TCP
// ("127.0.0.1:5353"), or "" after Close.
func (s *Server) Addr() string {
	if s.tcp == nil {
		return ""
	}
	return s.tcp.Addr().String()
}

// Close releases the sockets, journals and the data-dir lock. Run calls
// it when it returns; it is only needed when Run is never called.
func (s *Server) Close() error {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.tcp != nil {
		s.tcp.Close()
	}
	if s.udp != nil {
		s.udp.Close()
	}
	var first error
	for _, z := range s.zones {
		z.updMu.Lock()
		if z.jnl != nil {
			if err := z.jnl.Close(); err != nil && first == nil {
				first = err
			}
			z.jnl = nil
		}
		z.updMu.Unlock()
	}
	if s.lock != nil {
		s.lock.Close()
	}
	return first
}

func (s *Server) logf(format string, args ...any) {
	if s.cfg.Log != nil {
		s.cfg.Log(format, args...)
	}
}

// Run serves UDP and TCP until ctx is done, compacts journals in the
// background and sends NOTIFY to the secondaries after every change (and
// once at start). It closes the server before returning.
func (s *Server) Run(ctx context.Context) error {
	s.runMu.Lock()
	if s.running || s.closed {
		s.runMu.Unlock()
		return errors.New("dnsserver: Run called twice or after Close")
	}
	s.running = true
	s.runMu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	wg.Add(4)
	go func() { defer wg.Done(); errc <- s.serveUDP(ctx) }()
	go func() { defer wg.Done(); errc <- s.serveTCP(ctx) }()
	go func() { defer wg.Done(); s.compactLoop(ctx) }()
	go func() { defer wg.Done(); s.notifyLoop(ctx) }()
	for _, z := range s.zones {
		s.queueNotify(z)
	}

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	cancel()
	s.tcp.Close()
	s.udp.Close()
	s.connMu.Lock()
	for tc := range s.conns {
		tc.c.Close()
	}
	s.connMu.Unlock()
	wg.Wait()
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	return err
}

// serveUDP reads requests until the server stops. A read error other
// than a timeout is retried with backoff (retryMin doubling to retryMax)
// and reported by Healthy while it lasts; after one, a read deadline
// probes whether reading works again even when no packet arrives.
func (s *Server) serveUDP(ctx context.Context) error {
	sem := make(chan struct{}, maxUDPWorkers)
	var wg sync.WaitGroup
	defer wg.Wait()
	buf := make([]byte, 65535)
	var backoff time.Duration
	for {
		n, from, err := s.udp.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			if isTimeout(err) {
				if backoff > 0 {
					s.udp.SetReadDeadline(time.Time{})
					backoff = 0
					s.setHealth(healthUDP, nil)
				}
				continue
			}
			s.setHealth(healthUDP, errRetrying("udp read", err))
			backoff = nextBackoff(backoff)
			if !sleepCtx(ctx, backoff) {
				return nil
			}
			s.udp.SetReadDeadline(time.Now().Add(backoff))
			continue
		}
		if backoff > 0 {
			s.udp.SetReadDeadline(time.Time{})
			backoff = 0
			s.setHealth(healthUDP, nil)
		}
		pkt := append([]byte(nil), buf[:n]...)
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			s.serve(pkt, from.Addr(), false, func(b []byte) error {
				_, err := s.udp.WriteToUDPAddrPort(b, from)
				return err
			})
		}()
	}
}

// serveTCP accepts connections until the server stops. An accept error
// other than a timeout (EMFILE, ENFILE, ECONNABORTED, ...) is retried with
// backoff and reported by Healthy while it lasts: the connection that
// could not be accepted stays in the kernel's queue and is taken once
// descriptors are free. After an error a deadline on the listener probes
// whether accepting works again: a timeout means no connection is pending
// and none failed, which clears the error.
func (s *Server) serveTCP(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	var backoff time.Duration
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			if isTimeout(err) {
				if backoff > 0 {
					s.tcp.SetDeadline(time.Time{})
					backoff = 0
					s.setHealth(healthTCP, nil)
				}
				continue
			}
			s.setHealth(healthTCP, errRetrying("tcp accept", err))
			backoff = nextBackoff(backoff)
			if !sleepCtx(ctx, backoff) {
				return nil
			}
			s.tcp.SetDeadline(time.Now().Add(backoff))
			continue
		}
		if backoff > 0 {
			s.tcp.SetDeadline(time.Time{})
			backoff = 0
			s.setHealth(healthTCP, nil)
		}
		tc, ok := s.admit(ctx, c)
		if !ok {
			c.Close()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveConn(tc)
			s.forget(tc)
			c.Close()
		}()
	}
}

// serveConn reads length-prefixed messages (RFC 1035 §4.2.2, RFC 7766
// §8) until the client closes or sends no complete message for the idle
// timeout (RFC 7766 §6.2.3). While it waits for a message the connection
// is idle: admit may close it to make room for a new one.
func (s *Server) serveConn(tc *tcpConn) {
	c := tc.c
	from := netip.Addr{}
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		from = ap.Addr()
	}
	var lenBuf [2]byte
	for {
		c.SetReadDeadline(time.Now().Add(s.lim.tcpIdle))
		if _, err := io.ReadFull(c, lenBuf[:]); err != nil {
			return
		}
		msg := make([]byte, binary.BigEndian.Uint16(lenBuf[:]))
		if _, err := io.ReadFull(c, msg); err != nil {
			return
		}
		s.setIdle(tc, false)
		failed := false
		s.serve(msg, from, true, func(b []byte) error {
			if failed {
				return net.ErrClosed
			}
			c.SetWriteDeadline(time.Now().Add(tcpWriteTimout))
			out := binary.BigEndian.AppendUint16(make([]byte, 0, len(b)+2), uint16(len(b)))
			_, err := c.Write(append(out, b...))
			if err != nil {
				failed = true
			}
			return err
		})
		if failed {
			return
		}
		s.setIdle(tc, true)
	}
}

// serve is handle with a last-resort recover: a request never takes the
// server down.
func (s *Server) serve(msg []byte, from netip.Addr, tcp bool, emit func([]byte) error) {
	defer func() {
		if r := recover(); r != nil {
			s.logf("dnsserver: panic handling a request from %s: %v\n%s", from, r, debug.Stack())
		}
	}()
	s.handle(msg, from, tcp, emit)
}

func (s *Server) compactLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.CompactInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case z := <-s.compactCh:
			if err := z.compact(); err != nil {
				s.logf("dnsserver: %v", err)
			}
		case <-t.C:
			for _, z := range s.zones {
				if err := z.compact(); err != nil {
					s.logf("dnsserver: %v", err)
				}
			}
		}
	}
}

// changed is called after a committed update.
func (s *Server) changed(z *zone) {
	z.updMu.Lock()
	full := z.jnlPending >= s.cfg.CompactAfter
	z.updMu.Unlock()
	if full {
		select {
		case s.compactCh <- z:
		default:
		}
	}
	s.queueNotify(z)
}

func (s *Server) queueNotify(z *zone) {
	if len(s.secs) == 0 {
		return
	}
	s.notifyMu.Lock()
	s.pending[z] = true
	s.notifyMu.Unlock()
	select {
	case s.notifyCh <- struct{}{}:
	default:
	}
}

// notifyLoop sends NOTIFY (RFC 1996 §3.6) for changed zones to every
// secondary, retrying a bounded number of times on timeouts. Changes made
// while a round is in flight are coalesced into the next round.
func (s *Server) notifyLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.notifyCh:
		}
		s.notifyMu.Lock()
		zs := s.pending
		s.pending = map[*zone]bool{}
		s.notifyMu.Unlock()
		var wg sync.WaitGroup
		for z := range zs {
			z.mu.RLock()
			soa := z.soa
			z.mu.RUnlock()
			for _, sec := range s.secs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := sendNotify(ctx, z.name, soa, sec.String()); err != nil && ctx.Err() == nil {
						s.logf("dnsserver: NOTIFY %s to %s: %v", z.name, sec, err)
					}
				}()
			}
		}
		wg.Wait()
	}
}

func sendNotify(ctx context.Context, zone string, soa *dns.SOA, addr string) error {
	c := &dns.Client{Net: "udp", Timeout: notifyTimeout}
	var err error
	for i := 0; i < notifyTries && ctx.Err() == nil; i++ {
		m := new(dns.Msg)
		m.SetNotify(zone)
		m.Answer = []dns.RR{soa}
		var r *dns.Msg
		r, _, err = c.ExchangeContext(ctx, m, addr)
		if err == nil {
			if r.Rcode != dns.RcodeSuccess {
				return fmt.Errorf("secondary replied %s", dns.RcodeToString[r.Rcode])
			}
			return nil
		}
	}
	return err
}

// findZone returns the most specific zone containing name (canonical).
func (s *Server) findZone(name string) *zone {
	for n := name; ; {
		if z := s.zones[n]; z != nil {
			return z
		}
		if n == "." || n == "" {
			return nil
		}
		off, end := dns.NextLabel(n, 0)
		if end {
			n = "."
		} else {
			n = n[off:]
		}
	}
}
