package snmpwire

import (
	"errors"
	"math"
)

// SNMP message parsing, shared by the lbd poller, its push listener and the
// lbclient agent. Every parser takes exactly one value (trailing bytes are
// malformed unless said otherwise), never panics, and returns one of the
// static errors below, so that rejecting a datagram allocates nothing.
// Byte slices in the results alias the input.

// Parse errors.
var (
	// ErrMalformed: the input is not the expected BER structure.
	ErrMalformed = errors.New("snmpwire: malformed message")
	// ErrVersion: a well-formed message of another msgVersion.
	ErrVersion = errors.New("snmpwire: unexpected SNMP version")
	// ErrVarBind: a varbind without an OBJECT IDENTIFIER name.
	ErrVarBind = errors.New("snmpwire: malformed varbind")
	// ErrVarBindValue: a varbind whose value is not exactly one TLV.
	ErrVarBindValue = errors.New("snmpwire: malformed varbind value")
	// ErrDecrypt: an encryptedPDU that does not decrypt to a ScopedPDU.
	ErrDecrypt = errors.New("snmpwire: cannot decrypt the scopedPDU")
)

// splitMessage reads the outer SEQUENCE (which must fill b) and msgVersion,
// and returns the version and the content after it.
func splitMessage(b []byte) (version int64, body []byte, err error) {
	msg, rest, ok := Expect(b, TagSequence)
	if !ok || len(rest) != 0 {
		return 0, nil, ErrMalformed
	}
	version, _, body, ok = ExpectInt(msg, 0, math.MaxInt32)
	if !ok {
		return 0, nil, ErrMalformed
	}
	return version, body, nil
}

// MessageVersion returns the msgVersion of the SNMP message b (RFC 3416 §3,
// RFC 3412 §6: SEQUENCE { version INTEGER, ... } filling b).
func MessageVersion(b []byte) (int64, error) {
	v, _, err := splitMessage(b)
	return v, err
}

// CommunityMessage is an SNMPv2c message (RFC 1901, RFC 3416 §3):
// SEQUENCE { version 1, community OCTET STRING, PDU }.
type CommunityMessage struct {
	Community []byte
	// PDU is the PDU's whole encoding (tag, length, content); see ParsePDU.
	PDU []byte
}

// ParseV2c parses an SNMPv2c message. It returns ErrVersion for a
// well-formed message of another version, before looking at the community.
func ParseV2c(b []byte) (CommunityMessage, error) {
	ver, body, err := splitMessage(b)
	if err != nil {
		return CommunityMessage{}, err
	}
	if ver != Version2c {
		return CommunityMessage{}, ErrVersion
	}
	comm, pdu, ok := Expect(body, TagOctetString)
	if !ok {
		return CommunityMessage{}, ErrMalformed
	}
	return CommunityMessage{Community: comm, PDU: pdu}, nil
}

// PDU is a parsed PDU (RFC 3416 §3): any context-specific constructed tag
// (0xa0..0xbf) with request-id, two INTEGER fields and the variable
// bindings. The integers are in the signed 32-bit range; ranges narrower
// than that (error-status >= 0, ...) are the caller's to check.
type PDU struct {
	Type      byte
	RequestID int32
	// RawRequestID is the request-id content as sent, to echo it byte for
	// byte.
	RawRequestID []byte
	// ErrorStatus is non-repeaters in a GetBulkRequest (RFC 3416 §4.2.3).
	ErrorStatus int32
	// ErrorIndex is max-repetitions in a GetBulkRequest.
	ErrorIndex int32
	// VarBinds is the content of the variable-bindings SEQUENCE; walk it
	// with NextVarBind.
	VarBinds []byte
}

// ParsePDU parses b, which must be exactly one PDU.
func ParsePDU(b []byte) (PDU, error) {
	var p PDU
	t, body, rest, ok := ReadTLV(b)
	if !ok || len(rest) != 0 || t&0xe0 != 0xa0 {
		return PDU{}, ErrMalformed
	}
	p.Type = t
	id, raw, body, ok := ExpectInt(body, math.MinInt32, math.MaxInt32)
	if !ok {
		return PDU{}, ErrMalformed
	}
	p.RequestID, p.RawRequestID = int32(id), raw
	f1, _, body, ok := ExpectInt(body, math.MinInt32, math.MaxInt32)
	if !ok {
		return PDU{}, ErrMalformed
	}
	f2, _, body, ok := ExpectInt(body, math.MinInt32, math.MaxInt32)
	if !ok {
		return PDU{}, ErrMalformed
	}
	p.ErrorStatus, p.ErrorIndex = int32(f1), int32(f2)
	if p.VarBinds, rest, ok = Expect(body, TagSequence); !ok || len(rest) != 0 {
		return PDU{}, ErrMalformed
	}
	return p, nil
}

// VarBind is one variable binding (RFC 3416 §3: SEQUENCE { name OBJECT
// IDENTIFIER, value }). Value is the content of the value TLV, Tag its tag
// (a type, or an exception such as TagNoSuchObject).
type VarBind struct {
	Name  []byte // OID content; not checked with ValidOID
	Tag   byte
	Value []byte
}

// NextVarBind splits the first varbind off the varbind list content list.
// err is ErrMalformed when list does not start with a SEQUENCE (rest is then
// nil), ErrVarBind when the SEQUENCE holds no OBJECT IDENTIFIER, and
// ErrVarBindValue when the value is not exactly one TLV (vb.Name is then
// set). With ErrVarBind and ErrVarBindValue rest is still the list after
// this varbind, so a caller can tell "several varbinds" from "a bad one".
func NextVarBind(list []byte) (vb VarBind, rest []byte, err error) {
	one, rest, ok := Expect(list, TagSequence)
	if !ok {
		return VarBind{}, nil, ErrMalformed
	}
	name, val, ok := Expect(one, TagOID)
	if !ok {
		return VarBind{}, rest, ErrVarBind
	}
	tag, v, tail, ok := ReadTLV(val)
	if !ok || len(tail) != 0 {
		return VarBind{Name: name}, rest, ErrVarBindValue
	}
	return VarBind{Name: name, Tag: tag, Value: v}, rest, nil
}

// CheckVarBinds validates a whole varbind list content: every element a
// varbind whose name is a valid OID and whose value is one TLV. It returns
// the number of varbinds.
func CheckVarBinds(list []byte) (n int, err error) {
	for len(list) > 0 {
		var vb VarBind
		if vb, list, err = NextVarBind(list); err != nil {
			return n, err
		}
		if !ValidOID(vb.Name) {
			return n, ErrVarBind
		}
		n++
	}
	return n, nil
}

// V3Message is an SNMPv3 message (RFC 3412 §6) with User-based Security
// Model parameters (RFC 3414 §2.4). Only msgSecurityModel USM is accepted.
type V3Message struct {
	MsgID int32 // 0..2^31-1
	// RawMsgID is the msgID content as sent, to echo it byte for byte.
	RawMsgID []byte
	MaxSize  int32 // msgMaxSize, 484..2^31-1
	Flags    byte  // msgFlags; never priv without auth
	// USM security parameters: msgAuthoritativeEngineID (at most 32
	// bytes), ...Boots and ...Time (0..2^31-1), msgUserName (at most 32
	// bytes), msgAuthenticationParameters, msgPrivacyParameters.
	EngineID    []byte
	Boots, Time uint32
	UserName    []byte
	AuthParams  []byte
	PrivParams  []byte
	// Data is msgData: with FlagPriv the encryptedPDU octets (see
	// DecryptScopedPDU), else the content of the plaintext ScopedPDU
	// SEQUENCE (see ParseScopedPDU).
	Data []byte
}

// Authenticated reports whether msgFlags has the auth bit.
func (m *V3Message) Authenticated() bool { return m.Flags&FlagAuth != 0 }

// Encrypted reports whether msgFlags has the priv bit.
func (m *V3Message) Encrypted() bool { return m.Flags&FlagPriv != 0 }

// Reportable reports whether msgFlags has the reportable bit.
func (m *V3Message) Reportable() bool { return m.Flags&FlagReportable != 0 }

// ParseV3 parses an SNMPv3 message: the header (RFC 3412 §6), the USM
// security parameters (RFC 3414 §2.4) and the msgData framing. It returns
// ErrVersion for a well-formed message of another version.
func ParseV3(b []byte) (V3Message, error) {
	var m V3Message
	ver, body, err := splitMessage(b)
	if err != nil {
		return m, err
	}
	if ver != Version3 {
		return m, ErrVersion
	}
	hdr, body, ok := Expect(body, TagSequence)
	if !ok || !m.parseHeader(hdr) {
		return V3Message{}, ErrMalformed
	}
	sp, msgData, ok := Expect(body, TagOctetString)
	if !ok || !m.parseUSM(sp) {
		return V3Message{}, ErrMalformed
	}
	// msgData: a plaintext ScopedPDU (SEQUENCE) or an encryptedPDU (OCTET STRING)
	tag, data, rest, ok := ReadTLV(msgData)
	if !ok || len(rest) != 0 {
		return V3Message{}, ErrMalformed
	}
	if m.Encrypted() && tag != TagOctetString || !m.Encrypted() && tag != TagSequence {
		return V3Message{}, ErrMalformed
	}
	m.Data = data
	return m, nil
}

// parseHeader parses HeaderData content (RFC 3412 §6): msgID, msgMaxSize,
// msgFlags, msgSecurityModel.
func (m *V3Message) parseHeader(hdr []byte) bool {
	id, raw, hdr, ok := ExpectInt(hdr, 0, math.MaxInt32)
	if !ok {
		return false
	}
	m.MsgID, m.RawMsgID = int32(id), raw
	size, _, hdr, ok := ExpectInt(hdr, 484, math.MaxInt32)
	if !ok {
		return false
	}
	m.MaxSize = int32(size)
	fl, hdr, ok := Expect(hdr, TagOctetString)
	if !ok || len(fl) != 1 {
		return false
	}
	m.Flags = fl[0]
	if m.Flags&(FlagAuth|FlagPriv) == FlagPriv {
		return false // RFC 3412 §7.2 step 5: snmpInvalidMsgs
	}
	sm, _, hdr, ok := ExpectInt(hdr, 0, math.MaxInt32)
	return ok && len(hdr) == 0 && sm == SecurityModelUSM
}

// parseUSM parses msgSecurityParameters content: an OCTET STRING wrapping
// UsmSecurityParameters (RFC 3414 §2.4).
func (m *V3Message) parseUSM(sp []byte) bool {
	usm, rest, ok := Expect(sp, TagSequence)
	if !ok || len(rest) != 0 {
		return false
	}
	if m.EngineID, usm, ok = Expect(usm, TagOctetString); !ok || len(m.EngineID) > 32 {
		return false
	}
	boots, _, usm, ok := ExpectInt(usm, 0, math.MaxInt32)
	if !ok {
		return false
	}
	etime, _, usm, ok := ExpectInt(usm, 0, math.MaxInt32)
	if !ok {
		return false
	}
	m.Boots, m.Time = uint32(boots), uint32(etime)
	if m.UserName, usm, ok = Expect(usm, TagOctetString); !ok || len(m.UserName) > 32 {
		return false
	}
	if m.AuthParams, usm, ok = Expect(usm, TagOctetString); !ok {
		return false
	}
	m.PrivParams, usm, ok = Expect(usm, TagOctetString)
	return ok && len(usm) == 0
}

// VerifyAuth reports whether m's msgAuthenticationParameters are k's HMAC
// of the whole message (RFC 3414 §6.3.2 / §7.3.2). whole must be the very
// slice m was parsed from (the field is found by its offset in it).
func (m *V3Message) VerifyAuth(whole []byte, k *AuthKey) bool {
	return len(m.AuthParams) == k.Protocol().MACLen && k.Verify(whole, Offset(whole, m.AuthParams))
}

// DecryptScopedPDU decrypts the encryptedPDU m.Data in place with k (RFC
// 3826 §3.1.4: the IV is msgAuthoritativeEngineBoots, ...Time and the salt
// in msgPrivacyParameters) and returns the ScopedPDU SEQUENCE content;
// trailing bytes (padding) are ignored. Copy m.Data first to keep the
// datagram intact.
func (m *V3Message) DecryptScopedPDU(k *PrivKey) ([]byte, error) {
	if len(m.PrivParams) != 8 {
		return nil, ErrDecrypt
	}
	k.Decrypt(IV(m.Boots, m.Time, m.PrivParams), m.Data)
	scoped, _, ok := Expect(m.Data, TagSequence)
	if !ok {
		return nil, ErrDecrypt
	}
	return scoped, nil
}

// ScopedPDU is a parsed ScopedPDU (RFC 3412 §6.8).
type ScopedPDU struct {
	ContextEngineID []byte
	ContextName     []byte
	PDU             PDU
}

// ParseScopedPDU parses ScopedPDU SEQUENCE content: contextEngineID,
// contextName, then exactly one PDU.
func ParseScopedPDU(b []byte) (ScopedPDU, error) {
	var s ScopedPDU
	var ok bool
	if s.ContextEngineID, b, ok = Expect(b, TagOctetString); !ok {
		return ScopedPDU{}, ErrMalformed
	}
	if s.ContextName, b, ok = Expect(b, TagOctetString); !ok {
		return ScopedPDU{}, ErrMalformed
	}
	p, err := ParsePDU(b)
	if err != nil {
		return ScopedPDU{}, err
	}
	s.PDU = p
	return s, nil
}
