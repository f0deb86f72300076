package snmp

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lbd-project/lbd/internal/snmpwire"
)

// The SNMP client engine behind Poller (docs/design.md §6, docs/protocol.md §3 and D9).
//
//   - One unconnected UDP socket per address family, opened on first use,
//     with a large receive buffer. One reader goroutine per socket
//     demultiplexes replies by (source IP:port, msgID) for SNMPv3 and
//     (source IP:port, request-id) for v2c. A reply from any other source
//     than the polled IP:port matches nothing and is dropped, like the
//     legacy lbd's connected socket.
//   - Waiting is a goroutine parked on a channel and a reused timer, so
//     thousands of requests can be in flight (MinInFlight).
//   - SNMPv3 engine ID, boots, time and the keys localized to the engine are
//     cached per agent address: discovery happens only when nothing is
//     cached (or the entry expired); a Report usmStatsUnknownEngineIDs or
//     usmStatsNotInTimeWindows refreshes the entry from the report and the
//     GET is retried once.
//   - Every reply is checked (D9): msgID, request-id, the HMAC, engine ID,
//     boots and the 150 s time window, the security level, PDU type,
//     error-status and the varbind OID. A reply that fails a check that a
//     forger or a stray datagram could fail is dropped and the request keeps
//     waiting until its deadline; an authenticated answer that is wrong
//     (error-status, wrong OID or type) is a failure of that address.
//   - Per address, the deadline is timeout × (1 + retries) in total,
//     covering discovery and GET; the pending datagram is retransmitted
//     every timeout.

// MinInFlight is the least number of addresses PollAll polls concurrently,
// whatever the workers setting: waiting is cheap (a parked goroutine), and a
// cycle in which up to MinInFlight addresses are silent then costs one
// per-address deadline instead of a serial delay.
const MinInFlight = 2048

const (
	// engineTTL: an engine cache entry that has not been confirmed by an
	// authenticated reply for this long is discovered again.
	engineTTL = 10 * time.Minute
	// idleClose: the sockets of a client unused for this long are closed
	// (reopened on next use), so a Poller dropped without Close, e.g. the
	// one replaced by a reload, releases them.
	idleClose = time.Minute
	// socketBuffer is the SO_RCVBUF/SO_SNDBUF asked for (forced when
	// running as root): room for thousands of replies in flight.
	socketBuffer = 8 << 20
	// msgMaxSize is the msgMaxSize we announce (the largest UDP payload).
	msgMaxSize = 65507
	// smallBuf is the size of the pooled reply buffers; larger replies get
	// an exact allocation.
	smallBuf = 2048
)

// loadOIDBytes is LoadOID in BER content encoding.
var loadOIDBytes = func() []byte {
	b, err := snmpwire.EncodeOID(LoadOID)
	if err != nil {
		panic(err)
	}
	return b
}()

// clientConfig is the resolved [snmp] section.
type clientConfig struct {
	v3           bool
	community    string
	user         string
	auth         *snmpwire.AuthProtocol
	authPassword string
	priv         *snmpwire.PrivProtocol
	privPassword string
	port         uint16
	timeout      time.Duration
	retries      int
}

// clientEvent is what the test hook observes.
type clientEvent int

const (
	evSend      clientEvent = iota // a datagram was sent (first try or retransmission)
	evDiscovery                    // an engine discovery exchange starts
	evResync                       // a Report refreshed the cached engine; the GET is retried
	evDrop                         // a delivered reply failed a check and was dropped
	evGiveUp                       // the per-address deadline passed
)

// snmpClient is the engine; see the comment at the top of the file.
type snmpClient struct {
	cfg clientConfig
	now func() time.Time
	// hook, when set (tests, before first use), observes events.
	hook func(ev clientEvent, ap netip.AddrPort)

	ids  atomic.Uint32 // msgID / request-id counter
	salt atomic.Uint64 // AES salt counter (RFC 3826 §3.1.2.1)

	mu     sync.Mutex // guards socks, refs, closed, idle
	socks  [2]*net.UDPConn
	refs   int
	closed bool
	idle   *time.Timer

	pmu     sync.Mutex
	pending map[pendKey]*call

	emu       sync.Mutex
	engines   map[netip.AddrPort]*engine
	lastSweep time.Time
}

type pendKey struct {
	ap netip.AddrPort
	id uint32
}

// call is one outstanding exchange: the reader delivers matching datagrams
// to ch (never blocking; extra datagrams are dropped).
type call struct{ ch chan *rbuf }

var callPool = sync.Pool{New: func() any { return &call{ch: make(chan *rbuf, 16)} }}

// rbuf is a pooled reply buffer.
type rbuf struct{ b []byte }

var rbufPool = sync.Pool{New: func() any { return &rbuf{b: make([]byte, 0, smallBuf)} }}

func getRbuf(data []byte) *rbuf {
	r := rbufPool.Get().(*rbuf)
	if cap(r.b) < len(data) {
		r.b = make([]byte, len(data))
	}
	r.b = r.b[:len(data)]
	copy(r.b, data)
	return r
}

func putRbuf(r *rbuf) {
	if cap(r.b) > smallBuf {
		r.b = make([]byte, 0, smallBuf)
	}
	rbufPool.Put(r)
}

// engine is a cached authoritative SNMP engine (RFC 3414 §2.3) with keys
// localized to it.
type engine struct {
	id        []byte
	boots     uint32
	time      uint32    // engine time received ...
	at        time.Time // ... at this local time
	confirmed time.Time // last authenticated reply (or discovery)
	auth      *snmpwire.AuthKey
	priv      *snmpwire.PrivKey
}

// estTime is the engine's time now, extrapolated.
func (e *engine) estTime(now time.Time) uint32 {
	d := now.Sub(e.at) / time.Second
	if d < 0 {
		d = 0
	}
	t := int64(e.time) + int64(d)
	if t > 1<<31-1 {
		t = 1<<31 - 1
	}
	return uint32(t)
}

func newSNMPClient(cfg clientConfig) *snmpClient {
	c := &snmpClient{cfg: cfg, now: time.Now,
		pending: map[pendKey]*call{}, engines: map[netip.AddrPort]*engine{}}
	var b [12]byte
	_, _ = rand.Read(b[:])
	c.ids.Store(binary.BigEndian.Uint32(b[:4]) & 0x3fffffff)
	c.salt.Store(binary.BigEndian.Uint64(b[4:]))
	return c
}

func (c *snmpClient) event(ev clientEvent, ap netip.AddrPort) {
	if c.hook != nil {
		c.hook(ev, ap)
	}
}

// nextID returns a fresh msgID / request-id in 1..2^31-1.
func (c *snmpClient) nextID() uint32 {
	for {
		if id := c.ids.Add(1) & 0x7fffffff; id != 0 {
			return id
		}
	}
}

var errClosed = errors.New("poller closed")

// acquire marks the client in use (sockets stay open until release).
func (c *snmpClient) acquire() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errClosed
	}
	c.refs++
	if c.idle != nil {
		c.idle.Stop()
		c.idle = nil
	}
	return nil
}

func (c *snmpClient) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refs--
	if c.refs > 0 {
		return
	}
	if c.closed {
		c.closeSocketsLocked()
		return
	}
	if c.socks[0] != nil || c.socks[1] != nil {
		c.idle = time.AfterFunc(idleClose, func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.refs == 0 {
				c.closeSocketsLocked()
			}
		})
	}
}

// close stops new use; the sockets close now, or when the last exchange in
// progress ends.
func (c *snmpClient) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.idle != nil {
		c.idle.Stop()
		c.idle = nil
	}
	if c.refs == 0 {
		c.closeSocketsLocked()
	}
}

func (c *snmpClient) closeSocketsLocked() {
	for i, s := range c.socks {
		if s != nil {
			s.Close() // the reader sees net.ErrClosed and returns
			c.socks[i] = nil
		}
	}
}

// sock returns the socket for addr's family, opening it (and its reader)
// on first use. The caller holds a reference (acquire).
func (c *snmpClient) sock(addr netip.Addr) (*net.UDPConn, error) {
	fam, network, laddr := 0, "udp4", "0.0.0.0:0"
	if addr.Is6() {
		fam, network, laddr = 1, "udp6", "[::]:0"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.socks[fam]; s != nil {
		return s, nil
	}
	ua, err := net.ResolveUDPAddr(network, laddr)
	if err != nil {
		return nil, err
	}
	s, err := net.ListenUDP(network, ua)
	if err != nil {
		return nil, err
	}
	setSocketBuffers(s, socketBuffer)
	c.socks[fam] = s
	go c.read(s)
	return s, nil
}

// read is the demultiplexer for one socket.
func (c *snmpClient) read(s *net.UDPConn) {
	buf := make([]byte, 65536) // one per socket, reused for every datagram
	for {
		n, from, err := s.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(time.Millisecond) // a transient error; never spin
			continue
		}
		id, ok := demuxID(buf[:n])
		if !ok {
			continue
		}
		key := pendKey{netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), id}
		c.pmu.Lock()
		cl := c.pending[key]
		if cl != nil {
			r := getRbuf(buf[:n])
			select {
			case cl.ch <- r:
			default:
				putRbuf(r)
			}
		}
		c.pmu.Unlock()
	}
}

// demuxID extracts the msgID of an SNMPv3 message or the request-id of a
// v1/v2c one.
func demuxID(b []byte) (uint32, bool) {
	msg, _, ok := snmpwire.Expect(b, snmpwire.TagSequence)
	if !ok {
		return 0, false
	}
	ver, _, msg, ok := snmpwire.ExpectInt(msg, 0, 3)
	if !ok {
		return 0, false
	}
	if ver == snmpwire.Version3 {
		hdr, _, ok := snmpwire.Expect(msg, snmpwire.TagSequence)
		if !ok {
			return 0, false
		}
		id, _, _, ok := snmpwire.ExpectInt(hdr, 0, 1<<31-1)
		return uint32(id), ok
	}
	if _, msg, ok = snmpwire.Expect(msg, snmpwire.TagOctetString); !ok {
		return 0, false
	}
	tag, pdu, _, ok := snmpwire.ReadTLV(msg)
	if !ok || tag&0xe0 != 0xa0 {
		return 0, false
	}
	id, _, _, ok := snmpwire.ExpectInt(pdu, 0, 1<<31-1)
	return uint32(id), ok
}

// worker is the per-goroutine scratch state: a reusable timer and request
// buffer.
type worker struct {
	timer *time.Timer
	enc   snmpwire.Encoder
}

var workerPool = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &worker{timer: t, enc: snmpwire.Encoder{B: make([]byte, 0, 512)}}
}}

// getWorker returns a pooled worker; putWorker recycles it.
func getWorker() *worker { return workerPool.Get().(*worker) }

func putWorker(w *worker) {
	w.timer.Stop()
	if cap(w.enc.B) > 4096 {
		w.enc.B = make([]byte, 0, 512)
	}
	workerPool.Put(w)
}

// exchange is one request with its retransmissions.
type exchange struct {
	c        *snmpClient
	w        *worker
	sock     *net.UDPConn
	key      pendKey
	cl       *call
	req      []byte
	deadline time.Time
	sent     int
	dropped  string // why the last delivered reply was dropped
}

// start registers the exchange and sends req (which must stay unchanged
// until finish).
func (c *snmpClient) start(x *exchange, w *worker, sock *net.UDPConn, ap netip.AddrPort, id uint32, req []byte, deadline time.Time) error {
	*x = exchange{c: c, w: w, sock: sock, key: pendKey{ap, id}, req: req, deadline: deadline}
	x.cl = callPool.Get().(*call)
	c.pmu.Lock()
	c.pending[x.key] = x.cl
	c.pmu.Unlock()
	return x.send()
}

func (x *exchange) send() error {
	x.sent++
	x.c.event(evSend, x.key.ap)
	if _, err := x.sock.WriteToUDPAddrPort(x.req, x.key.ap); err != nil {
		return err
	}
	return nil
}

// finish unregisters the exchange and recycles its call.
func (x *exchange) finish() {
	x.c.pmu.Lock()
	delete(x.c.pending, x.key)
	x.c.pmu.Unlock()
	for {
		select {
		case r := <-x.cl.ch:
			putRbuf(r)
			continue
		default:
		}
		break
	}
	callPool.Put(x.cl)
	x.cl = nil
}

// drop records that a delivered reply failed a check.
func (x *exchange) drop(why string) {
	x.dropped = why
	x.c.event(evDrop, x.key.ap)
}

// timeoutError is the error of an address that gave no acceptable reply.
type timeoutError struct {
	attempts int
	total    time.Duration
	dropped  string
}

func (e *timeoutError) Error() string {
	s := fmt.Sprintf("no valid reply within %v (%d attempts)", e.total, e.attempts)
	if e.dropped != "" {
		s += "; last reply dropped: " + e.dropped
	}
	return s
}

// recv waits for the next datagram, retransmitting every timeout; it
// returns timeoutError at the deadline. The caller must putRbuf the result.
func (x *exchange) recv(ctx context.Context, total time.Duration) (*rbuf, error) {
	for {
		now := x.c.now()
		left := x.deadline.Sub(now)
		if left <= 0 {
			x.c.event(evGiveUp, x.key.ap)
			return nil, &timeoutError{attempts: x.sent, total: total, dropped: x.dropped}
		}
		x.w.timer.Reset(min(left, x.c.cfg.timeout))
		select {
		case r := <-x.cl.ch:
			x.w.timer.Stop()
			return r, nil
		case <-ctx.Done():
			x.w.timer.Stop()
			return nil, ctx.Err()
		case <-x.w.timer.C:
			if x.deadline.Sub(x.c.now()) > 0 {
				if err := x.send(); err != nil {
					return nil, err
				}
			}
		}
	}
}

// get polls one address: the whole exchange within timeout × (1+retries).
func (c *snmpClient) get(ctx context.Context, w *worker, addr netip.Addr) (Value, error) {
	ap := netip.AddrPortFrom(addr.Unmap(), c.cfg.port)
	sock, err := c.sock(ap.Addr())
	if err != nil {
		return Value{}, err
	}
	total := c.cfg.timeout * time.Duration(1+c.cfg.retries)
	deadline := c.now().Add(total)
	if !c.cfg.v3 {
		return c.getV2c(ctx, w, sock, ap, deadline, total)
	}
	return c.getV3(ctx, w, sock, ap, deadline, total)
}

func (c *snmpClient) getV2c(ctx context.Context, w *worker, sock *net.UDPConn, ap netip.AddrPort, deadline time.Time, total time.Duration) (Value, error) {
	id := c.nextID()
	e := &w.enc
	e.B = e.B[:0]
	m := e.Open(snmpwire.TagSequence)
	e.Int(snmpwire.TagInteger, snmpwire.Version2c)
	e.String(c.cfg.community)
	writeGetPDU(e, id, true)
	e.Close(m)
	var x exchange
	if err := c.start(&x, w, sock, ap, id, e.B, deadline); err != nil {
		x.finish()
		return Value{}, err
	}
	defer x.finish()
	for {
		r, err := x.recv(ctx, total)
		if err != nil {
			return Value{}, err
		}
		v, final, err := checkV2cReply(r.b, c.cfg.community, id)
		putRbuf(r)
		if final {
			return v, badAnswer(err)
		}
		x.drop(err.Error())
	}
}

// writeGetPDU writes a GetRequest for LoadOID (or, when !withVarbind, with
// an empty varbind list: the discovery request).
func writeGetPDU(e *snmpwire.Encoder, reqID uint32, withVarbind bool) {
	p := e.Open(snmpwire.PDUGetRequest)
	e.Int(snmpwire.TagInteger, int64(reqID))
	e.Int(snmpwire.TagInteger, 0)
	e.Int(snmpwire.TagInteger, 0)
	l := e.Open(snmpwire.TagSequence)
	if withVarbind {
		v := e.Open(snmpwire.TagSequence)
		e.Raw(snmpwire.TagOID, loadOIDBytes)
		e.Null()
		e.Close(v)
	}
	e.Close(l)
	e.Close(p)
}

// lookupEngine returns a copy of the cached, unexpired engine for ap.
func (c *snmpClient) lookupEngine(ap netip.AddrPort, now time.Time) (engine, bool) {
	c.emu.Lock()
	defer c.emu.Unlock()
	e := c.engines[ap]
	if e == nil || now.Sub(e.confirmed) > engineTTL {
		return engine{}, false
	}
	return *e, true
}

// storeEngine caches eng for ap.
func (c *snmpClient) storeEngine(ap netip.AddrPort, eng engine) {
	c.emu.Lock()
	if e := c.engines[ap]; e != nil {
		*e = eng
	} else {
		c.engines[ap] = &eng
	}
	c.emu.Unlock()
}

// confirmEngine records an authenticated reply's time.
func (c *snmpClient) confirmEngine(ap netip.AddrPort, boots, etime uint32, now time.Time) {
	c.emu.Lock()
	if e := c.engines[ap]; e != nil && e.boots == boots {
		e.time, e.at, e.confirmed = etime, now, now
	}
	c.emu.Unlock()
}

// sweepEngines drops expired entries (at most once per engineTTL).
func (c *snmpClient) sweepEngines(now time.Time) {
	c.emu.Lock()
	defer c.emu.Unlock()
	if now.Sub(c.lastSweep) < engineTTL {
		return
	}
	c.lastSweep = now
	for ap, e := range c.engines {
		if now.Sub(e.confirmed) > engineTTL {
			delete(c.engines, ap)
		}
	}
}

// withKeys fills eng's keys for its engine ID, reusing old's when the ID
// did not change.
func (c *snmpClient) withKeys(eng engine, old *engine) (engine, error) {
	if old != nil && old.auth != nil && string(old.id) == string(eng.id) {
		eng.auth, eng.priv = old.auth, old.priv
		return eng, nil
	}
	ak, err := snmpwire.LocalAuthKey(c.cfg.auth, c.cfg.authPassword, eng.id)
	if err != nil {
		return eng, err
	}
	eng.auth = ak
	if c.cfg.priv != nil {
		pk, err := snmpwire.NewPrivKey(c.cfg.auth, c.cfg.priv, c.cfg.privPassword, eng.id)
		if err != nil {
			return eng, err
		}
		eng.priv = pk
	}
	return eng, nil
}

func (c *snmpClient) getV3(ctx context.Context, w *worker, sock *net.UDPConn, ap netip.AddrPort, deadline time.Time, total time.Duration) (Value, error) {
	now := c.now()
	eng, ok := c.lookupEngine(ap, now)
	switch {
	case !ok:
		var err error
		if eng, err = c.discover(ctx, w, sock, ap, deadline, total); err != nil {
			return Value{}, fmt.Errorf("discovery: %w", err)
		}
		c.storeEngine(ap, eng)
	case eng.auth == nil: // given by AddEngines: keys not localized yet
		var err error
		if eng, err = c.withKeys(eng, nil); err != nil {
			return Value{}, err
		}
		c.storeEngine(ap, eng)
	}
	for retried := false; ; retried = true {
		res, err := c.getOnce(ctx, w, sock, ap, &eng, deadline, total)
		if err != nil {
			return Value{}, err
		}
		if res.resync == nil {
			return res.value, nil
		}
		if retried {
			return Value{}, fmt.Errorf("agent answered %s again after a resynchronisation", res.report)
		}
		c.event(evResync, ap)
		neng, err := c.withKeys(*res.resync, &eng)
		if err != nil {
			return Value{}, err
		}
		eng = neng
		c.storeEngine(ap, eng)
	}
}

// discover asks the agent for its engine ID, boots and time (RFC 3414
// §4): an unauthenticated, reportable GetRequest with an empty varbind
// list; the agent answers with a Report whose USM header carries them.
func (c *snmpClient) discover(ctx context.Context, w *worker, sock *net.UDPConn, ap netip.AddrPort, deadline time.Time, total time.Duration) (engine, error) {
	c.event(evDiscovery, ap)
	msgID, reqID := c.nextID(), c.nextID()
	e := &w.enc
	e.B = e.B[:0]
	writeDiscovery(e, msgID, reqID)

	var x exchange
	if err := c.start(&x, w, sock, ap, msgID, e.B, deadline); err != nil {
		x.finish()
		return engine{}, err
	}
	defer x.finish()
	for {
		r, err := x.recv(ctx, total)
		if err != nil {
			return engine{}, err
		}
		eng, err := checkDiscoveryReply(r.b, msgID)
		putRbuf(r)
		if err != nil {
			x.drop(err.Error())
			continue
		}
		now := c.now()
		eng.at, eng.confirmed = now, now
		return c.withKeys(eng, nil)
	}
}

// v3Result is the outcome of one authenticated GET exchange.
type v3Result struct {
	value  Value
	resync *engine // set when a Report asks for a retry with these values
	report string
}

// getOnce sends one authenticated GET with eng and waits for its answer.
func (c *snmpClient) getOnce(ctx context.Context, w *worker, sock *net.UDPConn, ap netip.AddrPort, eng *engine, deadline time.Time, total time.Duration) (v3Result, error) {
	msgID, reqID := c.nextID(), c.nextID()
	e := &w.enc
	e.B = e.B[:0]
	flags := writeGetV3(e, &c.cfg, eng, msgID, reqID, eng.estTime(c.now()), c.salt.Add(1))

	var x exchange
	if err := c.start(&x, w, sock, ap, msgID, e.B, deadline); err != nil {
		x.finish()
		return v3Result{}, err
	}
	defer x.finish()
	for {
		r, err := x.recv(ctx, total)
		if err != nil {
			return v3Result{}, err
		}
		now := c.now()
		out := checkV3Reply(r.b, &c.cfg, eng, msgID, reqID, flags, now)
		putRbuf(r)
		switch out.kind {
		case replyDrop:
			x.drop(out.err.Error())
		case replyFail:
			return v3Result{}, badAnswer(out.err)
		case replyValue:
			c.confirmEngine(ap, out.boots, out.time, now)
			return v3Result{value: out.value}, nil
		case replyResync:
			ne := *eng
			ne.id = out.engineID
			ne.boots, ne.time, ne.at, ne.confirmed = out.boots, out.time, now, now
			return v3Result{resync: &ne, report: out.report}, nil
		}
	}
}

// writeDiscovery writes an engine discovery request (RFC 3414 §4): msgFlags
// reportable only, empty USM parameters, a GetRequest with no varbind.
func writeDiscovery(e *snmpwire.Encoder, msgID, reqID uint32) {
	w := e.BeginV3(&snmpwire.V3Header{MsgID: int64(msgID), MaxSize: msgMaxSize, Flags: snmpwire.FlagReportable})
	e.Raw(snmpwire.TagOctetString, nil)
	e.Raw(snmpwire.TagOctetString, nil)
	writeGetPDU(e, reqID, false)
	e.EndV3(&w)
}

// writeGetV3 writes the authenticated (and, with a priv key, encrypted)
// GetRequest for LoadOID to eng at engine time etime, and returns its
// msgFlags. saltN is the AES salt (RFC 3826 §3.1.2.1).
func writeGetV3(e *snmpwire.Encoder, cfg *clientConfig, eng *engine, msgID, reqID, etime uint32, saltN uint64) byte {
	h := snmpwire.V3Header{MsgID: int64(msgID), MaxSize: msgMaxSize, Flags: snmpwire.FlagAuth | snmpwire.FlagReportable,
		EngineID: eng.id, Boots: eng.boots, Time: etime, UserName: []byte(cfg.user), Auth: eng.auth}
	if eng.priv != nil {
		h.Flags |= snmpwire.FlagPriv
		h.Priv, h.Salt = eng.priv, snmpwire.SaltFrom(saltN)
	}
	w := e.BeginV3(&h)
	e.Raw(snmpwire.TagOctetString, eng.id)
	e.Raw(snmpwire.TagOctetString, nil)
	writeGetPDU(e, reqID, true)
	e.EndV3(&w)
	return h.Flags
}
