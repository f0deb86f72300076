// Package agent is a native SNMP responder for the load-balancing OID
// .1.3.6.1.4.1.96.255.1 (COMPAT.md §3.4): SNMPv2c with a community, and
// SNMPv3 with the User-based Security Model (RFC 3414) including engine
// discovery, HMAC-MD5-96 / HMAC-SHA-96 / HMAC-SHA-2 (RFC 7860)
// authentication and AES-128/256 privacy (RFC 3826).
//
// The responder owns no goroutines and little state (its users' localized
// keys, a few counters), so one process can run thousands of them. Handle
// turns one datagram into at most one reply; Serve runs the read loop on a
// socket. Keys are localized once, in New; the request path does not
// allocate beyond the reply buffer (see HandleAppend).
//
// Anything the responder cannot parse, or that is not addressed to it, is
// dropped silently; SNMPv1 is not supported. Per RFC 3414 a Report is sent
// (if the request is reportable) for an unknown engine ID (discovery), an
// unknown user, an unsupported security level, a wrong digest, a message
// outside the 150 s time window, and an undecryptable PDU. A user with a
// priv protocol may also use authNoPriv, like a net-snmp "rouser NAME auth".
package agent

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"
)

// OID is the one object served, .1.3.6.1.4.1.96.255.1, without a ".0"
// instance suffix (as the existing CERN lbd requests it).
const OID = ".1.3.6.1.4.1.96.255.1"

// oidBytes is OID in BER content encoding.
var oidBytes = []byte{0x2b, 6, 1, 4, 1, 0x60, 0x81, 0x7f, 1}

// MaxMessage is the largest reply sent (the existing CERN lbd reads 16 KiB).
const MaxMessage = 16384

// TimeWindow is the RFC 3414 time window.
const TimeWindow = 150

// Value is the answer to a GET: an INTEGER (signed 32-bit) or an OCTET STRING.
type Value struct {
	IsString bool
	Int      int32
	Str      string
}

func (v Value) String() string {
	if v.IsString {
		return fmt.Sprintf("STRING %q", v.Str)
	}
	return fmt.Sprintf("INTEGER %d", v.Int)
}

// User is an SNMPv3 USM user. AuthProtocol is md5, sha, sha256 or sha512;
// PrivProtocol is "" (none), aes or aes256. Passwords have at least 8
// characters.
type User struct {
	Name, AuthProtocol, AuthPassword, PrivProtocol, PrivPassword string
}

// Config configures a Responder.
type Config struct {
	// Community enables SNMPv2c when non-empty.
	Community string
	// Users are the SNMPv3 users; none means SNMPv3 is answered only with
	// discovery and unknown-user reports.
	Users []User
	// EngineID is the authoritative engine ID (RFC 3411 SnmpEngineID,
	// 5..32 bytes); see EngineIDFor.
	EngineID []byte
	// Boots is snmpEngineBoots (RFC 3414); the caller should persist and
	// increment it across restarts. 0 is treated as 1.
	Boots uint32
}

// Stats counts the USM errors reported (RFC 3414 usmStats*) and other drops.
type Stats struct {
	UnsupportedSecLevels, NotInTimeWindows, UnknownUserNames,
	UnknownEngineIDs, WrongDigests, DecryptionErrors, Dropped atomic.Uint32
}

// Responder answers SNMP requests for OID. It is safe for concurrent use.
type Responder struct {
	community []byte
	users     []*user
	engineID  []byte
	boots     uint32
	start     time.Time
	now       func() time.Time
	value     func() Value
	salt      atomic.Uint64
	stats     Stats
}

// New validates cfg, localizes every user's keys (the expensive part, done
// once) and returns a Responder. value is called for every answered GET and
// must be fast (read a cached value); now defaults to time.Now.
func New(cfg Config, value func() Value, now func() time.Time) (*Responder, error) {
	if value == nil {
		return nil, errors.New("agent: value function is nil")
	}
	if now == nil {
		now = time.Now
	}
	if cfg.Community == "" && len(cfg.Users) == 0 {
		return nil, errors.New("agent: neither a community (SNMPv2c) nor an SNMPv3 user is configured")
	}
	if len(cfg.EngineID) < 5 || len(cfg.EngineID) > 32 {
		return nil, fmt.Errorf("agent: engine ID must have 5..32 bytes, got %d", len(cfg.EngineID))
	}
	if cfg.Boots > 0x7fffffff {
		return nil, fmt.Errorf("agent: engine boots %d out of range", cfg.Boots)
	}
	r := &Responder{
		community: []byte(cfg.Community),
		engineID:  append([]byte(nil), cfg.EngineID...),
		boots:     max(cfg.Boots, 1),
		now:       now,
		value:     value,
	}
	r.start = now()
	seen := map[string]bool{}
	for _, u := range cfg.Users {
		if seen[u.Name] {
			return nil, fmt.Errorf("agent: duplicate user %q", u.Name)
		}
		seen[u.Name] = true
		nu, err := newUser(u, r.engineID)
		if err != nil {
			return nil, fmt.Errorf("agent: %w", err)
		}
		r.users = append(r.users, nu)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	r.salt.Store(binary.BigEndian.Uint64(b[:]))
	return r, nil
}

// EngineIDFor derives a stable RFC 3411 engine ID from seed (e.g. the host
// name): enterprise 96 with the high bit set, format 5 (administratively
// assigned octets), then 8 bytes of SHA-256(seed). 13 bytes.
func EngineIDFor(seed string) []byte {
	sum := sha256.Sum256([]byte(seed))
	id := []byte{0x80, 0x00, 0x00, 0x60, 0x05}
	return append(id, sum[:8]...)
}

// EngineID returns the responder's engine ID.
func (r *Responder) EngineID() []byte { return r.engineID }

// Boots returns the engine boots.
func (r *Responder) Boots() uint32 { return r.boots }

// Stats returns the responder's counters.
func (r *Responder) Stats() *Stats { return &r.stats }

// engineTime is snmpEngineTime: seconds since New.
func (r *Responder) engineTime() uint32 {
	d := r.now().Sub(r.start) / time.Second
	if d < 0 {
		return 0
	}
	if d > 0x7fffffff {
		return 0x7fffffff
	}
	return uint32(d)
}

// Handle answers one request datagram. ok is false when nothing is to be
// sent (the request was invalid, not for us, or not reportable).
func (r *Responder) Handle(req []byte) (reply []byte, ok bool) {
	return r.HandleAppend(nil, req)
}

// HandleAppend is Handle appending the reply to dst, so a caller reusing
// dst answers without allocating. req is not modified.
func (r *Responder) HandleAppend(dst, req []byte) (reply []byte, ok bool) {
	defer func() {
		if p := recover(); p != nil { // last resort: validation should prevent this
			reply, ok = dst, false
			r.stats.Dropped.Add(1)
		}
	}()
	e := enc{b: dst}
	if !r.handle(&e, req) {
		r.stats.Dropped.Add(1)
		return dst, false
	}
	return e.b, true
}

// Serve answers requests arriving on conn until ctx is done or conn is
// closed, replying from conn (bind it to the address clients poll so that
// replies come from that address). Several Serve calls may share one conn.
// It returns nil on ctx cancellation or close, else the read error.
func (r *Responder) Serve(ctx context.Context, conn net.PacketConn) error {
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	buf := make([]byte, 65536)
	out := make([]byte, 0, MaxMessage+256)
	uc, _ := conn.(*net.UDPConn)
	for {
		var (
			n    int
			err  error
			addr net.Addr
			ap   netip.AddrPort
		)
		if uc != nil {
			n, ap, err = uc.ReadFromUDPAddrPort(buf)
		} else {
			n, addr, err = conn.ReadFrom(buf)
		}
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		reply, ok := r.HandleAppend(out[:0], buf[:n])
		if !ok {
			continue
		}
		if uc != nil {
			_, _ = uc.WriteToUDPAddrPort(reply, ap)
		} else {
			_, _ = conn.WriteTo(reply, addr)
		}
	}
}

func (r *Responder) handle(e *enc, req []byte) bool {
	msg, rest, ok := expect(req, tagSequence)
	if !ok || len(rest) != 0 {
		return false
	}
	ver, _, msg, ok := expectInt(msg, 0, 3)
	if !ok {
		return false
	}
	switch ver {
	case 1:
		return r.handleV2c(e, msg)
	case 3:
		return r.handleV3(e, req, msg)
	}
	return false
}

// pdu is a parsed request PDU.
type pdu struct {
	typ   byte
	reqID []byte // INTEGER content, echoed
	f1    int64  // error-status, or non-repeaters for GetBulk
	f2    int64  // error-index, or max-repetitions
	vbs   []byte // content of the varbind list
}

func parsePDU(b []byte) (p pdu, ok bool) {
	t, v, rest, ok := readTLV(b)
	if !ok || len(rest) != 0 {
		return p, false
	}
	switch t {
	case pduGet, pduGetNext, pduSet, pduGetBulk:
	default:
		return p, false
	}
	p.typ = t
	_, p.reqID, v, ok = expectInt(v, -1<<31, 1<<31-1)
	if !ok {
		return p, false
	}
	if p.f1, _, v, ok = expectInt(v, -1<<31, 1<<31-1); !ok {
		return p, false
	}
	if p.f2, _, v, ok = expectInt(v, -1<<31, 1<<31-1); !ok {
		return p, false
	}
	if p.vbs, rest, ok = expect(v, tagSequence); !ok || len(rest) != 0 {
		return p, false
	}
	// validate the varbind list up front so the reply cannot fail halfway
	for vb := p.vbs; len(vb) > 0; {
		var one []byte
		if one, vb, ok = expect(vb, tagSequence); !ok {
			return p, false
		}
		oid, val, ok := expect(one, tagOID)
		if !ok || !validOID(oid) {
			return p, false
		}
		if _, _, rest, ok := readTLV(val); !ok || len(rest) != 0 {
			return p, false
		}
	}
	return p, true
}

// maxVarbinds bounds the work per request; more gets a tooBig answer.
const maxVarbinds = 128

// writeResponse writes the GetResponse PDU for p. When tooBig is set the
// PDU carries error-status tooBig and no varbinds (RFC 3416 §4.2).
func (r *Responder) writeResponse(e *enc, p *pdu, tooBig bool) {
	s := e.open(pduResponse)
	e.raw(tagInteger, p.reqID)
	nvb := 0
	for vb := p.vbs; len(vb) > 0; nvb++ {
		_, vb, _ = expect(vb, tagSequence)
	}
	switch {
	case tooBig || nvb > maxVarbinds:
		e.int(tagInteger, 1) // tooBig
		e.int(tagInteger, 0)
		e.raw(tagSequence, nil)
	case p.typ == pduSet:
		e.int(tagInteger, 17) // notWritable
		e.int(tagInteger, 1)
		e.raw(tagSequence, p.vbs)
	default:
		e.int(tagInteger, 0)
		e.int(tagInteger, 0)
		l := e.open(tagSequence)
		i := int64(0)
		for vb := p.vbs; len(vb) > 0; i++ {
			var one []byte
			one, vb, _ = expect(vb, tagSequence)
			oid, _, _ := expect(one, tagOID)
			next := p.typ == pduGetNext
			if p.typ == pduGetBulk {
				if i >= p.f1 && p.f2 <= 0 {
					continue // repeater with max-repetitions 0
				}
				next = true // one repetition is all there is
			}
			r.writeVarbind(e, oid, next)
		}
		e.close(l)
	}
	e.close(s)
}

func (r *Responder) writeVarbind(e *enc, oid []byte, next bool) {
	v := e.open(tagSequence)
	c := compareOID(oid, oidBytes)
	switch {
	case next && c < 0, !next && c == 0:
		e.raw(tagOID, oidBytes)
		val := r.value()
		if val.IsString {
			e.str(val.Str)
		} else {
			e.int(tagInteger, int64(val.Int))
		}
	case next:
		e.raw(tagOID, oid)
		e.raw(tagEndOfMibView, nil)
	case len(oid) > len(oidBytes) && string(oid[:len(oidBytes)]) == string(oidBytes):
		e.raw(tagOID, oid)
		e.raw(tagNoSuchInstance, nil)
	default:
		e.raw(tagOID, oid)
		e.raw(tagNoSuchObject, nil)
	}
	e.close(v)
}

// handleV2c answers an SNMPv2c message (msg = content after the version).
func (r *Responder) handleV2c(e *enc, msg []byte) bool {
	if len(r.community) == 0 {
		return false
	}
	comm, rest, ok := expect(msg, tagOctetString)
	if !ok || subtle.ConstantTimeCompare(comm, r.community) != 1 {
		return false
	}
	p, ok := parsePDU(rest)
	if !ok {
		return false
	}
	start := len(e.b)
	for _, tooBig := range [2]bool{false, true} {
		e.b = e.b[:start]
		m := e.open(tagSequence)
		e.int(tagInteger, 1)
		e.raw(tagOctetString, r.community)
		r.writeResponse(e, &p, tooBig)
		e.close(m)
		if len(e.b)-start <= MaxMessage {
			return true
		}
	}
	return false
}

// usm statistics OIDs (.1.3.6.1.6.3.15.1.1.N.0), BER content.
var (
	oidUnsupportedSecLevels = []byte{0x2b, 6, 1, 6, 3, 15, 1, 1, 1, 0}
	oidNotInTimeWindows     = []byte{0x2b, 6, 1, 6, 3, 15, 1, 1, 2, 0}
	oidUnknownUserNames     = []byte{0x2b, 6, 1, 6, 3, 15, 1, 1, 3, 0}
	oidUnknownEngineIDs     = []byte{0x2b, 6, 1, 6, 3, 15, 1, 1, 4, 0}
	oidWrongDigests         = []byte{0x2b, 6, 1, 6, 3, 15, 1, 1, 5, 0}
	oidDecryptionErrors     = []byte{0x2b, 6, 1, 6, 3, 15, 1, 1, 6, 0}
)

// zeroMAC stands for the zeroed msgAuthenticationParameters (read-only).
var zeroMAC [48]byte

const (
	flagAuth       = 0x01
	flagPriv       = 0x02
	flagReportable = 0x04
)

// v3req holds what the reply needs from an SNMPv3 request.
type v3req struct {
	msgID    []byte
	maxSize  int64
	flags    byte
	userName []byte
	u        *user
	ctxID    []byte
	ctxName  []byte
	pdu      pdu
}

// handleV3 processes an SNMPv3 message (whole = the full datagram, msg =
// content after the version) per RFC 3412 §7.2 and RFC 3414 §3.2.
func (r *Responder) handleV3(e *enc, whole, msg []byte) bool {
	var q v3req
	hdr, msg, ok := expect(msg, tagSequence)
	if !ok {
		return false
	}
	if _, q.msgID, hdr, ok = expectInt(hdr, 0, 1<<31-1); !ok {
		return false
	}
	if q.maxSize, _, hdr, ok = expectInt(hdr, 484, 1<<31-1); !ok {
		return false
	}
	fl, hdr, ok := expect(hdr, tagOctetString)
	if !ok || len(fl) != 1 {
		return false
	}
	q.flags = fl[0]
	secModel, _, hdr, ok := expectInt(hdr, 0, 1<<31-1)
	if !ok || len(hdr) != 0 || secModel != 3 {
		return false // only USM
	}
	if q.flags&(flagAuth|flagPriv) == flagPriv {
		return false // snmpInvalidMsgs
	}
	sp, msgData, ok := expect(msg, tagOctetString)
	if !ok {
		return false
	}
	usm, rest, ok := expect(sp, tagSequence)
	if !ok || len(rest) != 0 {
		return false
	}
	engineID, usm, ok := expect(usm, tagOctetString)
	if !ok || len(engineID) > 32 {
		return false
	}
	boots, _, usm, ok := expectInt(usm, 0, 1<<31-1)
	if !ok {
		return false
	}
	etime, _, usm, ok := expectInt(usm, 0, 1<<31-1)
	if !ok {
		return false
	}
	if q.userName, usm, ok = expect(usm, tagOctetString); !ok || len(q.userName) > 32 {
		return false
	}
	authParams, usm, ok := expect(usm, tagOctetString)
	if !ok {
		return false
	}
	privParams, usm, ok := expect(usm, tagOctetString)
	if !ok || len(usm) != 0 {
		return false
	}
	// msgData: a plaintext ScopedPDU (SEQUENCE) or an encrypted one (OCTET STRING)
	dt, dv, rest, ok := readTLV(msgData)
	if !ok || len(rest) != 0 {
		return false
	}
	encrypted := q.flags&flagPriv != 0
	if encrypted != (dt == tagOctetString) || !encrypted && dt != tagSequence {
		return false
	}
	plainOK := !encrypted && r.parseScoped(&q, dv)
	report := func(oid []byte, c *atomic.Uint32, signed bool) bool {
		n := c.Add(1)
		if q.flags&flagReportable == 0 {
			return false
		}
		if !plainOK {
			q.pdu.reqID = []byte{0}
		}
		r.writeReport(e, &q, oid, n, signed)
		return true
	}
	// RFC 3414 §3.2 step 3: engine ID (discovery) ...
	if len(engineID) == 0 || string(engineID) != string(r.engineID) {
		if !encrypted && !plainOK {
			return false
		}
		return report(oidUnknownEngineIDs, &r.stats.UnknownEngineIDs, false)
	}
	// ... step 4: user ...
	for _, u := range r.users {
		if u.name == string(q.userName) {
			q.u = u
			break
		}
	}
	if q.u == nil {
		return report(oidUnknownUserNames, &r.stats.UnknownUserNames, false)
	}
	// ... step 5: security level ...
	if q.flags&flagAuth == 0 || encrypted && q.u.priv == nil {
		return report(oidUnsupportedSecLevels, &r.stats.UnsupportedSecLevels, false)
	}
	// ... step 6: digest, over the whole message with the MAC field zeroed ...
	ml := q.u.auth.macLen
	if len(authParams) != ml {
		return report(oidWrongDigests, &r.stats.WrongDigests, false)
	}
	off := cap(whole) - cap(authParams)
	var got [48]byte
	q.u.mac(got[:ml], whole[:off], zeroMAC[:ml], whole[off+ml:])
	if subtle.ConstantTimeCompare(got[:ml], authParams) != 1 {
		return report(oidWrongDigests, &r.stats.WrongDigests, false)
	}
	// ... step 7: time window (the report is authenticated) ...
	now := int64(r.engineTime())
	if uint32(boots) != r.boots || r.boots == 1<<31-1 || etime < now-TimeWindow || etime > now+TimeWindow {
		return report(oidNotInTimeWindows, &r.stats.NotInTimeWindows, true)
	}
	// ... step 8: decryption.
	if encrypted {
		if len(privParams) != 8 {
			return report(oidDecryptionErrors, &r.stats.DecryptionErrors, false)
		}
		var iv [16]byte
		binary.BigEndian.PutUint32(iv[0:], uint32(boots))
		binary.BigEndian.PutUint32(iv[4:], uint32(etime))
		copy(iv[8:], privParams)
		plain := make([]byte, len(dv))
		copy(plain, dv)
		cfb128(q.u.priv, &iv, plain, true)
		scoped, _, ok := expect(plain, tagSequence) // trailing bytes may be padding
		if !ok || !r.parseScoped(&q, scoped) {
			return report(oidDecryptionErrors, &r.stats.DecryptionErrors, false)
		}
	} else if !plainOK {
		return false
	}
	start := len(e.b)
	limit := int(min(q.maxSize, MaxMessage))
	for _, tooBig := range [2]bool{false, true} {
		e.b = e.b[:start]
		r.writeV3(e, &q, q.flags&(flagAuth|flagPriv), nil, 0, tooBig)
		if len(e.b)-start <= limit {
			return true
		}
	}
	return false
}

// parseScoped parses ScopedPDU content into q.
func (r *Responder) parseScoped(q *v3req, b []byte) bool {
	var ok bool
	if q.ctxID, b, ok = expect(b, tagOctetString); !ok || len(q.ctxID) > 32 {
		return false
	}
	if q.ctxName, b, ok = expect(b, tagOctetString); !ok || len(q.ctxName) > 32 {
		return false
	}
	q.pdu, ok = parsePDU(b)
	return ok
}

// writeReport writes a Report carrying one usmStats counter. Reports are
// unauthenticated, except notInTimeWindows which is signed (RFC 3414 §3.2
// step 7) so the manager can trust our boots and time.
func (r *Responder) writeReport(e *enc, q *v3req, oid []byte, n uint32, signed bool) {
	var fl byte
	if signed {
		fl = flagAuth
	}
	q.ctxID, q.ctxName = r.engineID, nil
	r.writeV3(e, q, fl, oid, n, false)
}

// writeReportPDU writes a Report PDU with one counter varbind.
func writeReportPDU(e *enc, reqID, oid []byte, n uint32) {
	s := e.open(pduReport)
	e.raw(tagInteger, reqID)
	e.int(tagInteger, 0)
	e.int(tagInteger, 0)
	l := e.open(tagSequence)
	v := e.open(tagSequence)
	e.raw(tagOID, oid)
	e.uint(tagCounter32, n)
	e.close(v)
	e.close(l)
	e.close(s)
}

// writeV3 writes a whole SNMPv3 message with security level flags (auth,
// priv) for q's user, signing and encrypting it. The PDU is a Report of the
// counter reportOID = n when reportOID is set, else the GetResponse to q.
func (r *Responder) writeV3(e *enc, q *v3req, flags byte, reportOID []byte, n uint32, tooBig bool) {
	start := len(e.b)
	m := e.open(tagSequence)
	e.int(tagInteger, 3)
	g := e.open(tagSequence)
	e.raw(tagInteger, q.msgID)
	e.int(tagInteger, 65507)
	e.b = append(e.b, tagOctetString, 1, flags)
	e.int(tagInteger, 3)
	e.close(g)
	sp := e.open(tagOctetString)
	us := e.open(tagSequence)
	e.raw(tagOctetString, r.engineID)
	etime := r.engineTime()
	e.int(tagInteger, int64(r.boots))
	e.int(tagInteger, int64(etime))
	e.raw(tagOctetString, q.userName)
	authOff := -1
	if flags&flagAuth != 0 {
		e.b = append(e.b, tagOctetString, byte(q.u.auth.macLen))
		authOff = len(e.b)
		e.b = append(e.b, make([]byte, q.u.auth.macLen)...)
	} else {
		e.raw(tagOctetString, nil)
	}
	var salt [8]byte
	if flags&flagPriv != 0 {
		binary.BigEndian.PutUint64(salt[:], r.salt.Add(1))
		e.raw(tagOctetString, salt[:])
	} else {
		e.raw(tagOctetString, nil)
	}
	authOff += e.close(us)
	authOff += e.close(sp)
	var enc0, scoped int
	if flags&flagPriv != 0 {
		enc0 = e.open(tagOctetString)
	}
	scoped = len(e.b)
	s := e.open(tagSequence)
	e.raw(tagOctetString, q.ctxID)
	e.raw(tagOctetString, q.ctxName)
	if reportOID != nil {
		writeReportPDU(e, q.pdu.reqID, reportOID, n)
	} else {
		r.writeResponse(e, &q.pdu, tooBig)
	}
	e.close(s)
	if flags&flagPriv != 0 {
		var iv [16]byte
		binary.BigEndian.PutUint32(iv[0:], r.boots)
		binary.BigEndian.PutUint32(iv[4:], etime)
		copy(iv[8:], salt[:])
		cfb128(q.u.priv, &iv, e.b[scoped:], false)
		e.close(enc0)
	}
	authOff += e.close(m)
	if flags&flagAuth != 0 {
		q.u.mac(e.b[authOff:authOff+q.u.auth.macLen], e.b[start:])
	}
}

// String describes the responder for logs (no secrets).
func (r *Responder) String() string {
	names := make([]string, len(r.users))
	for i, u := range r.users {
		names[i] = u.name + "/" + u.auth.name
		if u.priv != nil {
			names[i] += "/" + u.privID
		}
	}
	return fmt.Sprintf("engine %x boots %d v2c %t users [%s]", r.engineID, r.boots, len(r.community) > 0, strings.Join(names, " "))
}
