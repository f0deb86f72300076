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

	"github.com/lbd-project/lbd/internal/snmpwire"
)

// OID is the one object served, .1.3.6.1.4.1.96.255.1, without a ".0"
// instance suffix (as the existing CERN lbd requests it).
const OID = ".1.3.6.1.4.1.96.255.1"

// oidBytes is OID in BER content encoding.
var oidBytes = []byte{0x2b, 6, 1, 4, 1, 0x60, 0x81, 0x7f, 1}

// MaxMessage is the largest reply sent (the existing CERN lbd reads 16 KiB).
const MaxMessage = 16384

// TimeWindow is the RFC 3414 time window.
const TimeWindow = snmpwire.TimeWindow

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
	e := snmpwire.Encoder{B: dst}
	if !r.handle(&e, req) {
		r.stats.Dropped.Add(1)
		return dst, false
	}
	return e.B, true
}

// Serve answers requests arriving on conn until ctx is done or conn is
// closed, replying from conn (bind it to the address clients poll so that
// replies come from that address). Several Serve calls may share one conn.
// It returns nil on ctx cancellation or close, else the read error.
func (r *Responder) Serve(ctx context.Context, conn net.PacketConn) error {
	return ServeWith(ctx, conn, func() *Responder { return r })
}

// ServeWith is Serve with the responder looked up for every request, so
// that a caller may replace it (a configuration reload) while serving.
func ServeWith(ctx context.Context, conn net.PacketConn, current func() *Responder) error {
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	buf := make([]byte, 65536)
	out := make([]byte, 0, MaxMessage+256)
	uc, _ := conn.(*net.UDPConn)
	// On a wildcard socket (0.0.0.0, ::) the kernel would pick the reply's
	// source address by route; a poller using a connected socket (the
	// existing CERN lbd) drops a reply that does not come from the address
	// it polled (COMPAT.md §3.4 item 1). So read each request's destination
	// (IP_PKTINFO / IPV6_RECVPKTINFO) and send the reply from it.
	var pkt *pktinfo
	if uc != nil {
		pkt = newPktinfo(uc)
	}
	var oob []byte
	if pkt != nil {
		oob = make([]byte, 128)
	}
	for {
		var (
			n, oobn int
			err     error
			addr    net.Addr
			ap      netip.AddrPort
		)
		switch {
		case pkt != nil:
			n, oobn, _, ap, err = uc.ReadMsgUDPAddrPort(buf, oob)
		case uc != nil:
			n, ap, err = uc.ReadFromUDPAddrPort(buf)
		default:
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
		reply, ok := current().HandleAppend(out[:0], buf[:n])
		if !ok {
			continue
		}
		switch {
		case pkt != nil:
			_, _, _ = uc.WriteMsgUDPAddrPort(reply, pkt.reply(oob[:oobn]), ap)
		case uc != nil:
			_, _ = uc.WriteToUDPAddrPort(reply, ap)
		default:
			_, _ = conn.WriteTo(reply, addr)
		}
	}
}

func (r *Responder) handle(e *snmpwire.Encoder, req []byte) bool {
	msg, rest, ok := snmpwire.Expect(req, snmpwire.TagSequence)
	if !ok || len(rest) != 0 {
		return false
	}
	ver, _, msg, ok := snmpwire.ExpectInt(msg, 0, 3)
	if !ok {
		return false
	}
	switch ver {
	case snmpwire.Version2c:
		return r.handleV2c(e, msg)
	case snmpwire.Version3:
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
	t, v, rest, ok := snmpwire.ReadTLV(b)
	if !ok || len(rest) != 0 {
		return p, false
	}
	switch t {
	case snmpwire.PDUGetRequest, snmpwire.PDUGetNextRequest, snmpwire.PDUSetRequest, snmpwire.PDUGetBulkRequest:
	default:
		return p, false
	}
	p.typ = t
	_, p.reqID, v, ok = snmpwire.ExpectInt(v, -1<<31, 1<<31-1)
	if !ok {
		return p, false
	}
	if p.f1, _, v, ok = snmpwire.ExpectInt(v, -1<<31, 1<<31-1); !ok {
		return p, false
	}
	if p.f2, _, v, ok = snmpwire.ExpectInt(v, -1<<31, 1<<31-1); !ok {
		return p, false
	}
	if p.vbs, rest, ok = snmpwire.Expect(v, snmpwire.TagSequence); !ok || len(rest) != 0 {
		return p, false
	}
	// validate the varbind list up front so the reply cannot fail halfway
	for vb := p.vbs; len(vb) > 0; {
		var one []byte
		if one, vb, ok = snmpwire.Expect(vb, snmpwire.TagSequence); !ok {
			return p, false
		}
		oid, val, ok := snmpwire.Expect(one, snmpwire.TagOID)
		if !ok || !snmpwire.ValidOID(oid) {
			return p, false
		}
		if _, _, rest, ok := snmpwire.ReadTLV(val); !ok || len(rest) != 0 {
			return p, false
		}
	}
	return p, true
}

// maxVarbinds bounds the work per request; more gets a tooBig answer.
const maxVarbinds = 128

// writeResponse writes the GetResponse PDU for p. When tooBig is set the
// PDU carries error-status tooBig and no varbinds (RFC 3416 §4.2).
func (r *Responder) writeResponse(e *snmpwire.Encoder, p *pdu, tooBig bool) {
	s := e.Open(snmpwire.PDUResponse)
	e.Raw(snmpwire.TagInteger, p.reqID)
	nvb := 0
	for vb := p.vbs; len(vb) > 0; nvb++ {
		_, vb, _ = snmpwire.Expect(vb, snmpwire.TagSequence)
	}
	switch {
	case tooBig || nvb > maxVarbinds:
		e.Int(snmpwire.TagInteger, 1) // tooBig
		e.Int(snmpwire.TagInteger, 0)
		e.Raw(snmpwire.TagSequence, nil)
	case p.typ == snmpwire.PDUSetRequest:
		e.Int(snmpwire.TagInteger, 17) // notWritable
		e.Int(snmpwire.TagInteger, 1)
		e.Raw(snmpwire.TagSequence, p.vbs)
	default:
		e.Int(snmpwire.TagInteger, 0)
		e.Int(snmpwire.TagInteger, 0)
		l := e.Open(snmpwire.TagSequence)
		i := int64(0)
		for vb := p.vbs; len(vb) > 0; i++ {
			var one []byte
			one, vb, _ = snmpwire.Expect(vb, snmpwire.TagSequence)
			oid, _, _ := snmpwire.Expect(one, snmpwire.TagOID)
			next := p.typ == snmpwire.PDUGetNextRequest
			if p.typ == snmpwire.PDUGetBulkRequest {
				if i >= p.f1 && p.f2 <= 0 {
					continue // repeater with max-repetitions 0
				}
				next = true // one repetition is all there is
			}
			r.writeVarbind(e, oid, next)
		}
		e.Close(l)
	}
	e.Close(s)
}

func (r *Responder) writeVarbind(e *snmpwire.Encoder, oid []byte, next bool) {
	v := e.Open(snmpwire.TagSequence)
	c := snmpwire.CompareOID(oid, oidBytes)
	switch {
	case next && c < 0, !next && c == 0:
		e.Raw(snmpwire.TagOID, oidBytes)
		val := r.value()
		if val.IsString {
			e.String(val.Str)
		} else {
			e.Int(snmpwire.TagInteger, int64(val.Int))
		}
	case next:
		e.Raw(snmpwire.TagOID, oid)
		e.Raw(snmpwire.TagEndOfMibView, nil)
	case len(oid) > len(oidBytes) && string(oid[:len(oidBytes)]) == string(oidBytes):
		e.Raw(snmpwire.TagOID, oid)
		e.Raw(snmpwire.TagNoSuchInstance, nil)
	default:
		e.Raw(snmpwire.TagOID, oid)
		e.Raw(snmpwire.TagNoSuchObject, nil)
	}
	e.Close(v)
}

// handleV2c answers an SNMPv2c message (msg = content after the version).
func (r *Responder) handleV2c(e *snmpwire.Encoder, msg []byte) bool {
	if len(r.community) == 0 {
		return false
	}
	comm, rest, ok := snmpwire.Expect(msg, snmpwire.TagOctetString)
	if !ok || subtle.ConstantTimeCompare(comm, r.community) != 1 {
		return false
	}
	p, ok := parsePDU(rest)
	if !ok {
		return false
	}
	start := len(e.B)
	for _, tooBig := range [2]bool{false, true} {
		e.B = e.B[:start]
		m := e.Open(snmpwire.TagSequence)
		e.Int(snmpwire.TagInteger, snmpwire.Version2c)
		e.Raw(snmpwire.TagOctetString, r.community)
		r.writeResponse(e, &p, tooBig)
		e.Close(m)
		if len(e.B)-start <= MaxMessage {
			return true
		}
	}
	return false
}

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
func (r *Responder) handleV3(e *snmpwire.Encoder, whole, msg []byte) bool {
	var q v3req
	hdr, msg, ok := snmpwire.Expect(msg, snmpwire.TagSequence)
	if !ok {
		return false
	}
	if _, q.msgID, hdr, ok = snmpwire.ExpectInt(hdr, 0, 1<<31-1); !ok {
		return false
	}
	if q.maxSize, _, hdr, ok = snmpwire.ExpectInt(hdr, 484, 1<<31-1); !ok {
		return false
	}
	fl, hdr, ok := snmpwire.Expect(hdr, snmpwire.TagOctetString)
	if !ok || len(fl) != 1 {
		return false
	}
	q.flags = fl[0]
	secModel, _, hdr, ok := snmpwire.ExpectInt(hdr, 0, 1<<31-1)
	if !ok || len(hdr) != 0 || secModel != snmpwire.SecurityModelUSM {
		return false // only USM
	}
	if q.flags&(snmpwire.FlagAuth|snmpwire.FlagPriv) == snmpwire.FlagPriv {
		return false // snmpInvalidMsgs
	}
	sp, msgData, ok := snmpwire.Expect(msg, snmpwire.TagOctetString)
	if !ok {
		return false
	}
	usm, rest, ok := snmpwire.Expect(sp, snmpwire.TagSequence)
	if !ok || len(rest) != 0 {
		return false
	}
	engineID, usm, ok := snmpwire.Expect(usm, snmpwire.TagOctetString)
	if !ok || len(engineID) > 32 {
		return false
	}
	boots, _, usm, ok := snmpwire.ExpectInt(usm, 0, 1<<31-1)
	if !ok {
		return false
	}
	etime, _, usm, ok := snmpwire.ExpectInt(usm, 0, 1<<31-1)
	if !ok {
		return false
	}
	if q.userName, usm, ok = snmpwire.Expect(usm, snmpwire.TagOctetString); !ok || len(q.userName) > 32 {
		return false
	}
	authParams, usm, ok := snmpwire.Expect(usm, snmpwire.TagOctetString)
	if !ok {
		return false
	}
	privParams, usm, ok := snmpwire.Expect(usm, snmpwire.TagOctetString)
	if !ok || len(usm) != 0 {
		return false
	}
	// msgData: a plaintext ScopedPDU (SEQUENCE) or an encrypted one (OCTET STRING)
	dt, dv, rest, ok := snmpwire.ReadTLV(msgData)
	if !ok || len(rest) != 0 {
		return false
	}
	encrypted := q.flags&snmpwire.FlagPriv != 0
	if encrypted != (dt == snmpwire.TagOctetString) || !encrypted && dt != snmpwire.TagSequence {
		return false
	}
	plainOK := !encrypted && r.parseScoped(&q, dv)
	report := func(oid []byte, c *atomic.Uint32, signed bool) bool {
		n := c.Add(1)
		if q.flags&snmpwire.FlagReportable == 0 {
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
		return report(snmpwire.OIDUnknownEngineIDs, &r.stats.UnknownEngineIDs, false)
	}
	// ... step 4: user ...
	for _, u := range r.users {
		if u.name == string(q.userName) {
			q.u = u
			break
		}
	}
	if q.u == nil {
		return report(snmpwire.OIDUnknownUserNames, &r.stats.UnknownUserNames, false)
	}
	// ... step 5: security level ...
	if q.flags&snmpwire.FlagAuth == 0 || encrypted && q.u.priv == nil {
		return report(snmpwire.OIDUnsupportedSecLevels, &r.stats.UnsupportedSecLevels, false)
	}
	// ... step 6: digest, over the whole message with the MAC field zeroed ...
	if len(authParams) != q.u.auth.Protocol().MACLen || !q.u.auth.Verify(whole, snmpwire.Offset(whole, authParams)) {
		return report(snmpwire.OIDWrongDigests, &r.stats.WrongDigests, false)
	}
	// ... step 7: time window (the report is authenticated) ...
	now := int64(r.engineTime())
	if uint32(boots) != r.boots || r.boots == 1<<31-1 || etime < now-TimeWindow || etime > now+TimeWindow {
		return report(snmpwire.OIDNotInTimeWindows, &r.stats.NotInTimeWindows, true)
	}
	// ... step 8: decryption.
	if encrypted {
		if len(privParams) != 8 {
			return report(snmpwire.OIDDecryptionErrors, &r.stats.DecryptionErrors, false)
		}
		plain := make([]byte, len(dv))
		copy(plain, dv)
		q.u.priv.Decrypt(snmpwire.IV(uint32(boots), uint32(etime), privParams), plain)
		scoped, _, ok := snmpwire.Expect(plain, snmpwire.TagSequence) // trailing bytes may be padding
		if !ok || !r.parseScoped(&q, scoped) {
			return report(snmpwire.OIDDecryptionErrors, &r.stats.DecryptionErrors, false)
		}
	} else if !plainOK {
		return false
	}
	start := len(e.B)
	limit := int(min(q.maxSize, MaxMessage))
	for _, tooBig := range [2]bool{false, true} {
		e.B = e.B[:start]
		r.writeV3(e, &q, q.flags&(snmpwire.FlagAuth|snmpwire.FlagPriv), nil, 0, tooBig)
		if len(e.B)-start <= limit {
			return true
		}
	}
	return false
}

// parseScoped parses ScopedPDU content into q.
func (r *Responder) parseScoped(q *v3req, b []byte) bool {
	var ok bool
	if q.ctxID, b, ok = snmpwire.Expect(b, snmpwire.TagOctetString); !ok || len(q.ctxID) > 32 {
		return false
	}
	if q.ctxName, b, ok = snmpwire.Expect(b, snmpwire.TagOctetString); !ok || len(q.ctxName) > 32 {
		return false
	}
	q.pdu, ok = parsePDU(b)
	return ok
}

// writeReport writes a Report carrying one usmStats counter. Reports are
// unauthenticated, except notInTimeWindows which is signed (RFC 3414 §3.2
// step 7) so the manager can trust our boots and time.
func (r *Responder) writeReport(e *snmpwire.Encoder, q *v3req, oid []byte, n uint32, signed bool) {
	var fl byte
	if signed {
		fl = snmpwire.FlagAuth
	}
	q.ctxID, q.ctxName = r.engineID, nil
	r.writeV3(e, q, fl, oid, n, false)
}

// writeReportPDU writes a Report PDU with one counter varbind.
func writeReportPDU(e *snmpwire.Encoder, reqID, oid []byte, n uint32) {
	s := e.Open(snmpwire.PDUReport)
	e.Raw(snmpwire.TagInteger, reqID)
	e.Int(snmpwire.TagInteger, 0)
	e.Int(snmpwire.TagInteger, 0)
	l := e.Open(snmpwire.TagSequence)
	v := e.Open(snmpwire.TagSequence)
	e.Raw(snmpwire.TagOID, oid)
	e.Uint(snmpwire.TagCounter32, n)
	e.Close(v)
	e.Close(l)
	e.Close(s)
}

// writeV3 writes a whole SNMPv3 message with security level flags (auth,
// priv) for q's user, signing and encrypting it. The PDU is a Report of the
// counter reportOID = n when reportOID is set, else the GetResponse to q.
func (r *Responder) writeV3(e *snmpwire.Encoder, q *v3req, flags byte, reportOID []byte, n uint32, tooBig bool) {
	start := len(e.B)
	m := e.Open(snmpwire.TagSequence)
	e.Int(snmpwire.TagInteger, snmpwire.Version3)
	g := e.Open(snmpwire.TagSequence)
	e.Raw(snmpwire.TagInteger, q.msgID)
	e.Int(snmpwire.TagInteger, 65507)
	e.B = append(e.B, snmpwire.TagOctetString, 1, flags)
	e.Int(snmpwire.TagInteger, snmpwire.SecurityModelUSM)
	e.Close(g)
	sp := e.Open(snmpwire.TagOctetString)
	us := e.Open(snmpwire.TagSequence)
	e.Raw(snmpwire.TagOctetString, r.engineID)
	etime := r.engineTime()
	e.Int(snmpwire.TagInteger, int64(r.boots))
	e.Int(snmpwire.TagInteger, int64(etime))
	e.Raw(snmpwire.TagOctetString, q.userName)
	authOff := -1
	if flags&snmpwire.FlagAuth != 0 {
		ml := q.u.auth.Protocol().MACLen
		e.B = append(e.B, snmpwire.TagOctetString, byte(ml))
		authOff = len(e.B)
		e.B = append(e.B, make([]byte, ml)...)
	} else {
		e.Raw(snmpwire.TagOctetString, nil)
	}
	var salt [8]byte
	if flags&snmpwire.FlagPriv != 0 {
		binary.BigEndian.PutUint64(salt[:], r.salt.Add(1))
		e.Raw(snmpwire.TagOctetString, salt[:])
	} else {
		e.Raw(snmpwire.TagOctetString, nil)
	}
	authOff += e.Close(us)
	authOff += e.Close(sp)
	var enc0, scoped int
	if flags&snmpwire.FlagPriv != 0 {
		enc0 = e.Open(snmpwire.TagOctetString)
	}
	scoped = len(e.B)
	s := e.Open(snmpwire.TagSequence)
	e.Raw(snmpwire.TagOctetString, q.ctxID)
	e.Raw(snmpwire.TagOctetString, q.ctxName)
	if reportOID != nil {
		writeReportPDU(e, q.pdu.reqID, reportOID, n)
	} else {
		r.writeResponse(e, &q.pdu, tooBig)
	}
	e.Close(s)
	if flags&snmpwire.FlagPriv != 0 {
		q.u.priv.Encrypt(snmpwire.IV(r.boots, etime, salt[:]), e.B[scoped:])
		e.Close(enc0)
	}
	authOff += e.Close(m)
	if flags&snmpwire.FlagAuth != 0 {
		q.u.auth.Sign(e.B[start:], authOff-start)
	}
}

// String describes the responder for logs (no secrets).
func (r *Responder) String() string {
	names := make([]string, len(r.users))
	for i, u := range r.users {
		names[i] = u.name + "/" + u.auth.Protocol().Name
		if u.priv != nil {
			names[i] += "/" + u.priv.Protocol().Name
		}
	}
	return fmt.Sprintf("engine %x boots %d v2c %t users [%s]", r.engineID, r.boots, len(r.community) > 0, strings.Join(names, " "))
}
