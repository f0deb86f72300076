package snmpwire

import "encoding/binary"

// V3Header is what an SNMPv3 message written with BeginV3 carries before
// its ScopedPDU: the header (RFC 3412 §6) and the USM security parameters
// (RFC 3414 §2.4).
type V3Header struct {
	MsgID int64
	// RawMsgID, when set, is written as the msgID content instead of MsgID
	// (to echo a request's encoding).
	RawMsgID []byte
	MaxSize  int64
	Flags    byte
	EngineID []byte
	Boots    uint32
	Time     uint32
	UserName []byte
	// Auth signs the message; required when Flags has FlagAuth.
	Auth *AuthKey
	// Priv encrypts the ScopedPDU with Salt as msgPrivacyParameters;
	// required when Flags has FlagPriv.
	Priv *PrivKey
	Salt [8]byte
}

// SaltFrom returns a counter value as an 8-byte RFC 3826 §3.1.2.1 salt.
func SaltFrom(n uint64) (s [8]byte) {
	binary.BigEndian.PutUint64(s[:], n)
	return s
}

// V3Writer is an SNMPv3 message being written; see BeginV3.
type V3Writer struct {
	start, msg int // offset of the message, of its content
	authOff    int // offset of the MAC content, -1 without auth
	enc        int // encryptedPDU content offset (with priv)
	scoped     int // ScopedPDU SEQUENCE content offset
	plain      int // offset of the ScopedPDU TLV, what is encrypted
	auth       *AuthKey
	priv       *PrivKey
	iv         [16]byte
}

var zeroMACField [48]byte

// BeginV3 writes the start of an SNMPv3 message with header h and opens
// its ScopedPDU; the caller then writes the ScopedPDU content
// (contextEngineID, contextName, the PDU) and calls EndV3.
func (e *Encoder) BeginV3(h *V3Header) V3Writer {
	w := V3Writer{start: len(e.B), authOff: -1}
	w.msg = e.Open(TagSequence)
	e.Int(TagInteger, Version3)
	g := e.Open(TagSequence)
	if h.RawMsgID != nil {
		e.Raw(TagInteger, h.RawMsgID)
	} else {
		e.Int(TagInteger, h.MsgID)
	}
	e.Int(TagInteger, h.MaxSize)
	e.B = append(e.B, TagOctetString, 1, h.Flags)
	e.Int(TagInteger, SecurityModelUSM)
	e.Close(g)
	sp := e.Open(TagOctetString)
	us := e.Open(TagSequence)
	e.Raw(TagOctetString, h.EngineID)
	e.Int(TagInteger, int64(h.Boots))
	e.Int(TagInteger, int64(h.Time))
	e.Raw(TagOctetString, h.UserName)
	if h.Flags&FlagAuth != 0 {
		w.auth = h.Auth
		ml := h.Auth.Protocol().MACLen
		e.B = append(e.B, TagOctetString, byte(ml))
		w.authOff = len(e.B)
		e.B = append(e.B, zeroMACField[:ml]...)
	} else {
		e.Raw(TagOctetString, nil)
	}
	if h.Flags&FlagPriv != 0 {
		w.priv = h.Priv
		w.iv = IV(h.Boots, h.Time, h.Salt[:])
		e.Raw(TagOctetString, h.Salt[:])
	} else {
		e.Raw(TagOctetString, nil)
	}
	w.authOff += e.Close(us)
	w.authOff += e.Close(sp)
	if w.priv != nil {
		w.enc = e.Open(TagOctetString)
	}
	w.plain = len(e.B)
	w.scoped = e.Open(TagSequence)
	return w
}

// EndV3 closes the message begun with BeginV3: it closes the ScopedPDU,
// encrypts it (RFC 3826 §3.1.3) and signs the message (RFC 3414 §6.3.1).
func (e *Encoder) EndV3(w *V3Writer) {
	e.Close(w.scoped)
	if w.priv != nil {
		w.priv.Encrypt(w.iv, e.B[w.plain:])
		e.Close(w.enc)
	}
	shift := e.Close(w.msg)
	if w.auth != nil {
		w.auth.Sign(e.B[w.start:], w.authOff+shift-w.start)
	}
}
