// Package agent is a native SNMP responder for the load-balancing OID
// .1.3.6.1.4.1.96.255.1 (docs/protocol.md §3.4): SNMPv2c with a community, and
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
	// Answered counts the requests answered with a Response (metrics).
	Answered atomic.Uint64
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
	// it polled (docs/protocol.md §3.4 item 1). So read each request's destination
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

// handle answers one datagram (RFC 3412 §7.2 dispatch on msgVersion).
func (r *Responder) handle(e *snmpwire.Encoder, req []byte) bool {
	ver, err := snmpwire.MessageVersion(req)
	if err != nil {
		return false
	}
	switch ver {
	case snmpwire.Version2c:
		return r.handleV2c(e, req)
	case snmpwire.Version3:
		return r.handleV3(e, req)
	}
	return false
}

// parseRequest parses a request PDU: a Get, GetNext, Set or GetBulk whose
// varbind list is validated up front, so that the reply cannot fail
// halfway.
func parseRequest(b []byte) (p snmpwire.PDU, ok bool) {
	p, err := snmpwire.ParsePDU(b)
	return p, err == nil && isRequest(&p)
}

// isRequest reports whether p is a request PDU with a valid varbind list.
func isRequest(p *snmpwire.PDU) bool {
	switch p.Type {
	case snmpwire.PDUGetRequest, snmpwire.PDUGetNextRequest, snmpwire.PDUSetRequest, snmpwire.PDUGetBulkRequest:
	default:
		return false
	}
	_, err := snmpwire.CheckVarBinds(p.VarBinds)
	return err == nil
}

// maxVarbinds bounds the work per request; more gets a tooBig answer.
const maxVarbinds = 128

// writeResponse writes the GetResponse PDU for p. When tooBig is set the
// PDU carries error-status tooBig and no varbinds (RFC 3416 §4.2).
func (r *Responder) writeResponse(e *snmpwire.Encoder, p *snmpwire.PDU, tooBig bool) {
	s := e.Open(snmpwire.PDUResponse)
	e.Raw(snmpwire.TagInteger, p.RawRequestID)
	nvb := 0 // the list was validated by parseRequest: count only
	for vbs := p.VarBinds; len(vbs) > 0; nvb++ {
		_, vbs, _ = snmpwire.NextVarBind(vbs)
	}
	switch {
	case tooBig || nvb > maxVarbinds:
		e.Int(snmpwire.TagInteger, 1) // tooBig
		e.Int(snmpwire.TagInteger, 0)
		e.Raw(snmpwire.TagSequence, nil)
	case p.Type == snmpwire.PDUSetRequest:
		e.Int(snmpwire.TagInteger, 17) // notWritable
		e.Int(snmpwire.TagInteger, 1)
		e.Raw(snmpwire.TagSequence, p.VarBinds)
	default:
		e.Int(snmpwire.TagInteger, 0)
		e.Int(snmpwire.TagInteger, 0)
		l := e.Open(snmpwire.TagSequence)
		i := int32(0)
		for vbs := p.VarBinds; len(vbs) > 0; i++ {
			var vb snmpwire.VarBind
			vb, vbs, _ = snmpwire.NextVarBind(vbs)
			next := p.Type == snmpwire.PDUGetNextRequest
			if p.Type == snmpwire.PDUGetBulkRequest {
				if i >= p.ErrorStatus && p.ErrorIndex <= 0 {
					continue // repeater with max-repetitions 0
				}
				next = true // one repetition is all there is
			}
			r.writeVarbind(e, vb.Name, next)
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

// handleV2c answers an SNMPv2c message.
func (r *Responder) handleV2c(e *snmpwire.Encoder, req []byte) bool {
	if len(r.community) == 0 {
		return false
	}
	m, err := snmpwire.ParseV2c(req)
	if err != nil || subtle.ConstantTimeCompare(m.Community, r.community) != 1 {
		return false
	}
	p, ok := parseRequest(m.PDU)
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
			r.stats.Answered.Add(1)
			return true
		}
	}
	return false
}

// v3req holds what the reply needs from an SNMPv3 request.
type v3req struct {
	m       snmpwire.V3Message
	u       *user
	ctxID   []byte
	ctxName []byte
	pdu     snmpwire.PDU
	plainOK bool // the plaintext ScopedPDU parsed
}

// usmReport is an RFC 3414 §3.2 failure answered with a Report carrying
// one usmStats counter.
type usmReport struct {
	oid     []byte
	counter func(*Stats) *atomic.Uint32
	// signed: the Report is authenticated (notInTimeWindows, RFC 3414
	// §3.2 step 7, so the manager can trust our boots and time).
	signed bool
}

var (
	// dropRequest: no Report, the request is dropped silently.
	dropRequest        = &usmReport{}
	reportUnknownEngID = &usmReport{oid: snmpwire.OIDUnknownEngineIDs, counter: func(s *Stats) *atomic.Uint32 { return &s.UnknownEngineIDs }}
	reportUnknownUser  = &usmReport{oid: snmpwire.OIDUnknownUserNames, counter: func(s *Stats) *atomic.Uint32 { return &s.UnknownUserNames }}
	reportSecLevel     = &usmReport{oid: snmpwire.OIDUnsupportedSecLevels, counter: func(s *Stats) *atomic.Uint32 { return &s.UnsupportedSecLevels }}
	reportWrongDigest  = &usmReport{oid: snmpwire.OIDWrongDigests, counter: func(s *Stats) *atomic.Uint32 { return &s.WrongDigests }}
	reportTimeWindow   = &usmReport{oid: snmpwire.OIDNotInTimeWindows, counter: func(s *Stats) *atomic.Uint32 { return &s.NotInTimeWindows }, signed: true}
	reportDecryption   = &usmReport{oid: snmpwire.OIDDecryptionErrors, counter: func(s *Stats) *atomic.Uint32 { return &s.DecryptionErrors }}
)

// handleV3 processes an SNMPv3 message per RFC 3412 §7.2 and RFC 3414
// §3.2: parse, the USM checks (which may end in a Report), the response.
func (r *Responder) handleV3(e *snmpwire.Encoder, req []byte) bool {
	var q v3req
	var err error
	if q.m, err = snmpwire.ParseV3(req); err != nil {
		return false
	}
	q.plainOK = !q.m.Encrypted() && r.parseScoped(&q, q.m.Data)
	if rep := r.checkUSM(&q, req); rep != nil {
		return r.report(e, &q, rep)
	}
	start := len(e.B)
	limit := int(min(int64(q.m.MaxSize), MaxMessage))
	for _, tooBig := range [2]bool{false, true} {
		e.B = e.B[:start]
		r.writeV3(e, &q, q.m.Flags&(snmpwire.FlagAuth|snmpwire.FlagPriv), nil, 0, tooBig)
		if len(e.B)-start <= limit {
			r.stats.Answered.Add(1)
			return true
		}
	}
	return false
}

// checkUSM runs the RFC 3414 §3.2 steps 3 to 8 on q (whole = the datagram)
// and returns the failure, or nil when q is to be answered (its ScopedPDU
// then parsed, decrypted if need be).
func (r *Responder) checkUSM(q *v3req, whole []byte) *usmReport {
	m := &q.m
	// step 3: engine ID (discovery)
	if len(m.EngineID) == 0 || string(m.EngineID) != string(r.engineID) {
		if !m.Encrypted() && !q.plainOK {
			return dropRequest
		}
		return reportUnknownEngID
	}
	// step 4: user
	if q.u = r.lookupUser(m.UserName); q.u == nil {
		return reportUnknownUser
	}
	// step 5: security level
	if !m.Authenticated() || m.Encrypted() && q.u.priv == nil {
		return reportSecLevel
	}
	// step 6: digest, over the whole message with the MAC field zeroed
	if !m.VerifyAuth(whole, q.u.auth) {
		return reportWrongDigest
	}
	// step 7: time window
	now, etime := int64(r.engineTime()), int64(m.Time)
	if m.Boots != r.boots || r.boots == 1<<31-1 || etime < now-TimeWindow || etime > now+TimeWindow {
		return reportTimeWindow
	}
	// step 8: decryption
	if m.Encrypted() {
		return r.decrypt(q)
	}
	if !q.plainOK {
		return dropRequest
	}
	return nil
}

// lookupUser returns the configured user named name, or nil.
func (r *Responder) lookupUser(name []byte) *user {
	for _, u := range r.users {
		if u.name == string(name) {
			return u
		}
	}
	return nil
}

// decrypt decrypts a copy of q's encryptedPDU (the request stays intact)
// and parses the ScopedPDU (RFC 3414 §3.2 step 8).
func (r *Responder) decrypt(q *v3req) *usmReport {
	q.m.Data = append([]byte(nil), q.m.Data...)
	scoped, err := q.m.DecryptScopedPDU(q.u.priv)
	if err != nil || !r.parseScoped(q, scoped) {
		return reportDecryption
	}
	return nil
}

// report counts rep and, when the request is reportable, writes its Report.
func (r *Responder) report(e *snmpwire.Encoder, q *v3req, rep *usmReport) bool {
	if rep == dropRequest {
		return false
	}
	n := rep.counter(&r.stats).Add(1)
	if !q.m.Reportable() {
		return false
	}
	if !q.plainOK {
		q.pdu.RawRequestID = []byte{0}
	}
	var fl byte
	if rep.signed {
		fl = snmpwire.FlagAuth
	}
	q.ctxID, q.ctxName = r.engineID, nil
	r.writeV3(e, q, fl, rep.oid, n, false)
	return true
}

// parseScoped parses ScopedPDU content into q.
func (r *Responder) parseScoped(q *v3req, b []byte) bool {
	s, err := snmpwire.ParseScopedPDU(b)
	if err != nil || len(s.ContextEngineID) > 32 || len(s.ContextName) > 32 {
		return false
	}
	q.ctxID, q.ctxName, q.pdu = s.ContextEngineID, s.ContextName, s.PDU
	return isRequest(&q.pdu)
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
	h := snmpwire.V3Header{RawMsgID: q.m.RawMsgID, MaxSize: 65507, Flags: flags,
		EngineID: r.engineID, Boots: r.boots, Time: r.engineTime(), UserName: q.m.UserName}
	if flags&snmpwire.FlagAuth != 0 {
		h.Auth = q.u.auth
	}
	if flags&snmpwire.FlagPriv != 0 {
		h.Priv, h.Salt = q.u.priv, snmpwire.SaltFrom(r.salt.Add(1))
	}
	w := e.BeginV3(&h)
	e.Raw(snmpwire.TagOctetString, q.ctxID)
	e.Raw(snmpwire.TagOctetString, q.ctxName)
	if reportOID != nil {
		writeReportPDU(e, q.pdu.RawRequestID, reportOID, n)
	} else {
		r.writeResponse(e, &q.pdu, tooBig)
	}
	e.EndV3(&w)
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
