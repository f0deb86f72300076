package dnsserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// This file holds the per-client limits (TCP connections per source and
// in total, the UDP response rate limiter) and the server's health: see
// docs/design.md, "Embedded DNS server limits".

// Retry backoff of the accept and read loops after an error that is not
// a timeout (EMFILE, ENFILE, ECONNABORTED, ENOBUFS, ...): they never end
// while the server runs.
const (
	retryMin = 5 * time.Millisecond
	retryMax = time.Second
)

func nextBackoff(d time.Duration) time.Duration {
	if d == 0 {
		return retryMin
	}
	return min(2*d, retryMax)
}

// sleepCtx waits for d and reports false when ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Components whose health Healthy reports.
const (
	healthTCP = iota
	healthUDP
	healthComponents
)

var componentName = [healthComponents]string{"tcp accept", "udp read"}

// setHealth records err (nil = working) for component i and logs the
// transitions only, not every retry.
func (s *Server) setHealth(i int, err error) {
	s.healthMu.Lock()
	was := s.health[i]
	s.health[i] = err
	s.healthMu.Unlock()
	switch {
	case was == nil && err != nil:
		s.logf("%v", err)
	case was != nil && err == nil:
		s.logf("dnsserver: %s works again", componentName[i])
	}
}

// Healthy reports whether the server serves: nil while it runs without
// trouble; otherwise the reason, for a health endpoint (lbd's /healthz).
// That is the last error of the TCP accept loop or the UDP read loop for
// as long as it persists (e.g. "accept4: too many open files" while file
// descriptors are exhausted: the loops retry with backoff, 5 ms doubling
// to 1 s, and never end while the server runs), or that the server is not
// running (Run not called yet, or returned).
func (s *Server) Healthy() error {
	s.runMu.Lock()
	running, closed := s.running, s.closed
	s.runMu.Unlock()
	switch {
	case closed:
		return errors.New("dnsserver: stopped")
	case !running:
		return errors.New("dnsserver: not running")
	}
	s.healthMu.Lock()
	defer s.healthMu.Unlock()
	return errors.Join(s.health[:]...)
}

// tcpConn is one TCP connection being served.
type tcpConn struct {
	c   net.Conn
	src netip.Prefix // the source it counts against (sourceOf)
	// idleSince is when the connection began waiting for a message, zero
	// while a message is read to its end or handled. Under Server.connMu.
	idleSince time.Time
}

// sourceOf is what the per-source TCP cap counts: the IPv4 address, or
// the IPv6 /64 (one host usually has the whole /64).
func sourceOf(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	if a.Is4() || !a.IsValid() {
		return netip.PrefixFrom(a, a.BitLen())
	}
	p, _ := a.Prefix(64)
	return p
}

// admit registers c, or reports false when it must be closed at once:
// its source holds TCPPerSource connections already, or the server holds
// TCPMax and none of them is idle. At the global cap the connection idle
// for the longest time is closed to make room (RFC 7766 §6.2.3: a server
// may close idle connections under resource pressure), so a client
// holding idle connections cannot lock others out.
func (s *Server) admit(ctx context.Context, c net.Conn) (*tcpConn, bool) {
	var from netip.Addr
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		from = ap.Addr()
	}
	src := sourceOf(from)
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if ctx.Err() != nil || s.perSource[src] >= s.lim.tcpPerSource {
		return nil, false
	}
	if len(s.conns) >= s.lim.tcpMax {
		var victim *tcpConn
		for tc := range s.conns {
			if !tc.idleSince.IsZero() && (victim == nil || tc.idleSince.Before(victim.idleSince)) {
				victim = tc
			}
		}
		if victim == nil {
			return nil, false
		}
		s.forgetLocked(victim)
		victim.c.Close()
	}
	tc := &tcpConn{c: c, src: src, idleSince: time.Now()}
	s.conns[tc] = struct{}{}
	s.perSource[src]++
	return tc, true
}

// forget unregisters tc (once; admit may have done it already).
func (s *Server) forget(tc *tcpConn) {
	s.connMu.Lock()
	s.forgetLocked(tc)
	s.connMu.Unlock()
}

func (s *Server) forgetLocked(tc *tcpConn) {
	if _, ok := s.conns[tc]; !ok {
		return
	}
	delete(s.conns, tc)
	if s.perSource[tc.src]--; s.perSource[tc.src] <= 0 {
		delete(s.perSource, tc.src)
	}
}

// setIdle marks tc as waiting for a message (evictable) or busy.
func (s *Server) setIdle(tc *tcpConn, idle bool) {
	s.connMu.Lock()
	if idle {
		tc.idleSince = time.Now()
	} else {
		tc.idleSince = time.Time{}
	}
	s.connMu.Unlock()
}

// rrlAction is the rate limiter's verdict on one UDP response.
type rrlAction int

const (
	rrlSend rrlAction = iota
	rrlDrop
	rrlSlip // send truncated (TC=1, no records)
)

// rrlMaxBuckets bounds the limiter's memory under a flood from spoofed
// sources; prefixes beyond it share one bucket.
const rrlMaxBuckets = 1 << 16

// rateLimiter is the UDP response rate limiter (Config.RRL): one token
// bucket per source prefix.
type rateLimiter struct {
	rate, burst float64
	slip        uint64
	clock       func() time.Time

	mu        sync.Mutex
	buckets   map[netip.Prefix]*bucket
	overflow  bucket // for new prefixes while buckets is full
	lastSweep time.Time
}

type bucket struct {
	tokens  float64
	last    time.Time
	dropped uint64
}

// newRateLimiter returns nil when r disables rate limiting.
func newRateLimiter(r RRL) *rateLimiter {
	if r.ResponsesPerSecond <= 0 {
		return nil
	}
	l := &rateLimiter{rate: float64(r.ResponsesPerSecond), burst: float64(max(r.Burst, 1)),
		slip: uint64(r.Slip), clock: r.Clock, buckets: map[netip.Prefix]*bucket{}}
	if l.clock == nil {
		l.clock = time.Now
	}
	l.overflow.tokens = l.burst
	return l
}

// rrlPrefix is the source prefix responses are counted for: /24 for IPv4,
// /56 for IPv6.
func rrlPrefix(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := 56
	if a.Is4() {
		bits = 24
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return netip.Prefix{}
	}
	return p
}

// refill adds the tokens earned since b.last (a clock going backwards
// earns nothing).
func (l *rateLimiter) refill(b *bucket, now time.Time) {
	if now.After(b.last) {
		b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
		b.last = now
	}
}

// decide takes one response from the bucket of from's prefix.
func (l *rateLimiter) decide(from netip.Addr) rrlAction {
	now := l.clock()
	p := rrlPrefix(from)
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[p]
	if b == nil {
		if len(l.buckets) >= rrlMaxBuckets {
			l.sweep(now)
		}
		if len(l.buckets) < rrlMaxBuckets {
			b = &bucket{tokens: l.burst, last: now}
			l.buckets[p] = b
		} else {
			b = &l.overflow
		}
	}
	l.refill(b, now)
	if b.tokens >= 1 {
		b.tokens--
		return rrlSend
	}
	b.dropped++
	if l.slip > 0 && b.dropped%l.slip == 0 {
		return rrlSlip
	}
	return rrlDrop
}

// sweep forgets the buckets that have refilled completely (at most once a
// second, so that a full table does not cost a scan per packet).
func (l *rateLimiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < time.Second && !l.lastSweep.IsZero() {
		return
	}
	l.lastSweep = now
	for p, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, p)
		}
	}
}

// udpAction applies the rate limiter to a reply to from; TCP and
// disabled limiting always send.
func (s *Server) udpAction(from netip.Addr, tcp bool) rrlAction {
	if tcp || s.rrl == nil {
		return rrlSend
	}
	return s.rrl.decide(from)
}

// errRetrying wraps a loop error that is being retried.
func errRetrying(component string, err error) error {
	return fmt.Errorf("dnsserver: %s failing, retrying: %w", component, err)
}
