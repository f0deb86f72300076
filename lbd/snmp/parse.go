package snmp

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/lbd-project/lbd/internal/snmpwire"
)

// Reply parsing and checking (COMPAT.md §3.2, §3.5, D5, D9). Everything
// here is pure and never panics on any input (FuzzDecodeResponse).

// replyKind is what the poller does with a delivered datagram.
type replyKind int

const (
	replyDrop   replyKind = iota // not acceptable: keep waiting
	replyFail                    // an authentic answer that is a failure
	replyValue                   // the load
	replyResync                  // a Report: refresh the engine, retry once
)

type replyOutcome struct {
	kind     replyKind
	err      error
	value    Value
	engineID []byte // replyResync: a copy, safe to keep
	boots    uint32
	time     uint32
	report   string
}

func dropped(err error) replyOutcome { return replyOutcome{kind: replyDrop, err: err} }

// Reasons for dropping a reply (static, so dropping allocates nothing).
var (
	errMalformed      = errors.New("malformed message")
	errWrongVersion   = errors.New("wrong SNMP version")
	errWrongMsgID     = errors.New("msgID mismatch")
	errWrongReqID     = errors.New("request-id mismatch")
	errWrongCommunity = errors.New("community mismatch")
	errWrongEngine    = errors.New("engine ID mismatch")
	errWrongUser      = errors.New("user name mismatch")
	errBadHMAC        = errors.New("bad HMAC")
	errDecrypt        = errors.New("cannot decrypt")
	errUnauthResponse = errors.New("response below the requested security level")
	errBoots          = errors.New("engine boots mismatch")
	errTimeWindow     = errors.New("engine time outside the 150 s window")
	errPDUType        = errors.New("unexpected PDU type")
	errNoEngineID     = errors.New("no engine ID")
)

// v3msg is a parsed SNMPv3 message; byte slices alias the datagram.
type v3msg struct {
	msgID       uint32
	flags       byte
	engineID    []byte
	boots, time uint32
	user        []byte
	authParams  []byte
	privParams  []byte
	dataTag     byte
	data        []byte // ScopedPDU content (plaintext) or the encrypted octets
}

// parseV3 parses the RFC 3412 message header and the RFC 3414 USM
// security parameters.
func parseV3(b []byte) (m v3msg, err error) {
	msg, rest, ok := snmpwire.Expect(b, snmpwire.TagSequence)
	if !ok || len(rest) != 0 {
		return m, errMalformed
	}
	ver, _, msg, ok := snmpwire.ExpectInt(msg, 0, math.MaxInt32)
	if !ok {
		return m, errMalformed
	}
	if ver != snmpwire.Version3 {
		return m, errWrongVersion
	}
	hdr, msg, ok := snmpwire.Expect(msg, snmpwire.TagSequence)
	if !ok {
		return m, errMalformed
	}
	id, _, hdr, ok := snmpwire.ExpectInt(hdr, 0, math.MaxInt32)
	if !ok {
		return m, errMalformed
	}
	m.msgID = uint32(id)
	if _, _, hdr, ok = snmpwire.ExpectInt(hdr, 484, math.MaxInt32); !ok {
		return m, errMalformed
	}
	fl, hdr, ok := snmpwire.Expect(hdr, snmpwire.TagOctetString)
	if !ok || len(fl) != 1 {
		return m, errMalformed
	}
	m.flags = fl[0]
	if m.flags&(snmpwire.FlagAuth|snmpwire.FlagPriv) == snmpwire.FlagPriv {
		return m, errMalformed
	}
	sm, _, hdr, ok := snmpwire.ExpectInt(hdr, 0, math.MaxInt32)
	if !ok || len(hdr) != 0 || sm != snmpwire.SecurityModelUSM {
		return m, errMalformed
	}
	sp, msgData, ok := snmpwire.Expect(msg, snmpwire.TagOctetString)
	if !ok {
		return m, errMalformed
	}
	usm, rest, ok := snmpwire.Expect(sp, snmpwire.TagSequence)
	if !ok || len(rest) != 0 {
		return m, errMalformed
	}
	if m.engineID, usm, ok = snmpwire.Expect(usm, snmpwire.TagOctetString); !ok || len(m.engineID) > 32 {
		return m, errMalformed
	}
	boots, _, usm, ok := snmpwire.ExpectInt(usm, 0, math.MaxInt32)
	if !ok {
		return m, errMalformed
	}
	etime, _, usm, ok := snmpwire.ExpectInt(usm, 0, math.MaxInt32)
	if !ok {
		return m, errMalformed
	}
	m.boots, m.time = uint32(boots), uint32(etime)
	if m.user, usm, ok = snmpwire.Expect(usm, snmpwire.TagOctetString); !ok || len(m.user) > 32 {
		return m, errMalformed
	}
	if m.authParams, usm, ok = snmpwire.Expect(usm, snmpwire.TagOctetString); !ok {
		return m, errMalformed
	}
	if m.privParams, usm, ok = snmpwire.Expect(usm, snmpwire.TagOctetString); !ok || len(usm) != 0 {
		return m, errMalformed
	}
	m.dataTag, m.data, rest, ok = snmpwire.ReadTLV(msgData)
	if !ok || len(rest) != 0 {
		return m, errMalformed
	}
	encrypted := m.flags&snmpwire.FlagPriv != 0
	if encrypted && m.dataTag != snmpwire.TagOctetString || !encrypted && m.dataTag != snmpwire.TagSequence {
		return m, errMalformed
	}
	return m, nil
}

// pdu is a parsed PDU; vbs is the varbind list content.
type pdu struct {
	typ       byte
	reqID     int64
	errStatus int64
	errIndex  int64
	vbs       []byte
}

// parsePDU parses b, which must be exactly one PDU.
func parsePDU(b []byte) (p pdu, ok bool) {
	var body, rest []byte
	p.typ, body, rest, ok = snmpwire.ReadTLV(b)
	if !ok || len(rest) != 0 || p.typ&0xe0 != 0xa0 {
		return p, false
	}
	if p.reqID, _, body, ok = snmpwire.ExpectInt(body, math.MinInt32, math.MaxInt32); !ok {
		return p, false
	}
	if p.errStatus, _, body, ok = snmpwire.ExpectInt(body, 0, math.MaxInt32); !ok {
		return p, false
	}
	if p.errIndex, _, body, ok = snmpwire.ExpectInt(body, 0, math.MaxInt32); !ok {
		return p, false
	}
	if p.vbs, rest, ok = snmpwire.Expect(body, snmpwire.TagSequence); !ok || len(rest) != 0 {
		return p, false
	}
	return p, true
}

// parseScopedPDU parses ScopedPDU content: contextEngineID, contextName,
// then the PDU.
func parseScopedPDU(b []byte) (pdu, bool) {
	var ok bool
	if _, b, ok = snmpwire.Expect(b, snmpwire.TagOctetString); !ok {
		return pdu{}, false
	}
	if _, b, ok = snmpwire.Expect(b, snmpwire.TagOctetString); !ok {
		return pdu{}, false
	}
	return parsePDU(b)
}

// errorStatusNames are RFC 3416 error-status values.
var errorStatusNames = [...]string{"noError", "tooBig", "noSuchName", "badValue", "readOnly", "genErr",
	"noAccess", "wrongType", "wrongLength", "wrongEncoding", "wrongValue", "noCreation",
	"inconsistentValue", "resourceUnavailable", "commitFailed", "undoFailed", "authorizationError",
	"notWritable", "inconsistentName"}

func errorStatus(p *pdu) error {
	name := fmt.Sprint(p.errStatus)
	if p.errStatus < int64(len(errorStatusNames)) {
		name = errorStatusNames[p.errStatus]
	}
	return fmt.Errorf("agent error-status %s (index %d)", name, p.errIndex)
}

// loadVarbind checks that the varbind list is exactly LoadOID with a value
// and decodes the value.
func loadVarbind(vbs []byte) (Value, error) {
	vb, rest, ok := snmpwire.Expect(vbs, snmpwire.TagSequence)
	if !ok {
		return Value{}, errors.New("no varbind in response")
	}
	if len(rest) != 0 {
		return Value{}, errors.New("more than one varbind in response")
	}
	oid, vb, ok := snmpwire.Expect(vb, snmpwire.TagOID)
	if !ok {
		return Value{}, errors.New("malformed varbind")
	}
	if string(oid) != string(loadOIDBytes) {
		return Value{}, fmt.Errorf("response for OID %s, asked %s", snmpwire.FormatOID(oid), LoadOID)
	}
	tag, val, rest, ok := snmpwire.ReadTLV(vb)
	if !ok || len(rest) != 0 {
		return Value{}, errors.New("malformed varbind value")
	}
	return decodeValue(tag, val)
}

// decodeValue turns a varbind value into a Value (COMPAT.md §3.2/§3.5):
// INTEGER (signed 32-bit) and OCTET STRING are values, Gauge32/Counter32
// integers; noSuchObject, noSuchInstance and anything else are failures.
func decodeValue(tag byte, val []byte) (Value, error) {
	switch tag {
	case snmpwire.TagInteger:
		n, ok := snmpwire.ParseInt(val)
		if !ok || n < math.MinInt32 || n > math.MaxInt32 {
			return Value{}, errors.New("INTEGER out of the signed 32-bit range")
		}
		return Value{Int: int(n)}, nil
	case snmpwire.TagOctetString:
		return Value{IsString: true, Str: string(val)}, nil
	case snmpwire.TagGauge32, snmpwire.TagCounter32:
		n, ok := snmpwire.ParseUint32(val)
		if !ok || n > math.MaxInt32 {
			return Value{}, fmt.Errorf("%s value out of range", typeName(tag))
		}
		return Value{Int: int(n)}, nil
	case snmpwire.TagNoSuchObject, snmpwire.TagNoSuchInstance, snmpwire.TagEndOfMibView:
		return Value{}, fmt.Errorf("agent answered %s (lbclient failed?)", typeName(tag))
	}
	return Value{}, fmt.Errorf("unexpected value type %s", typeName(tag))
}

func typeName(tag byte) string {
	switch tag {
	case snmpwire.TagGauge32:
		return "Gauge32"
	case snmpwire.TagCounter32:
		return "Counter32"
	case snmpwire.TagNoSuchObject:
		return "noSuchObject"
	case snmpwire.TagNoSuchInstance:
		return "noSuchInstance"
	case snmpwire.TagEndOfMibView:
		return "endOfMibView"
	case snmpwire.TagNull:
		return "NULL"
	case snmpwire.TagOID:
		return "OBJECT IDENTIFIER"
	case snmpwire.TagIPAddress:
		return "IpAddress"
	case snmpwire.TagTimeTicks:
		return "TimeTicks"
	case snmpwire.TagCounter64:
		return "Counter64"
	}
	return fmt.Sprintf("tag 0x%02x", tag)
}

// checkV2cReply checks a v2c reply to request reqID. final=false means
// drop (err says why) and keep waiting.
func checkV2cReply(b []byte, community string, reqID uint32) (v Value, final bool, err error) {
	msg, rest, ok := snmpwire.Expect(b, snmpwire.TagSequence)
	if !ok || len(rest) != 0 {
		return Value{}, false, errMalformed
	}
	ver, _, msg, ok := snmpwire.ExpectInt(msg, 0, math.MaxInt32)
	if !ok {
		return Value{}, false, errMalformed
	}
	if ver != snmpwire.Version2c {
		return Value{}, false, errWrongVersion
	}
	comm, msg, ok := snmpwire.Expect(msg, snmpwire.TagOctetString)
	if !ok {
		return Value{}, false, errMalformed
	}
	if string(comm) != community {
		return Value{}, false, errWrongCommunity
	}
	p, ok := parsePDU(msg)
	if !ok {
		return Value{}, false, errMalformed
	}
	if p.typ != snmpwire.PDUResponse {
		return Value{}, false, errPDUType
	}
	if p.reqID != int64(reqID) {
		return Value{}, false, errWrongReqID
	}
	if p.errStatus != 0 {
		return Value{}, true, errorStatus(&p)
	}
	v, err = loadVarbind(p.vbs)
	return v, true, err
}

// checkDiscoveryReply takes the engine ID, boots and time from the USM
// header of the reply to discovery msgID (the PDU, normally a Report
// usmStatsUnknownEngineIDs, is not needed). The engine ID is copied.
func checkDiscoveryReply(b []byte, msgID uint32) (engine, error) {
	m, err := parseV3(b)
	if err != nil {
		return engine{}, err
	}
	if m.msgID != msgID {
		return engine{}, errWrongMsgID
	}
	if len(m.engineID) == 0 {
		return engine{}, errNoEngineID
	}
	return engine{id: append([]byte(nil), m.engineID...), boots: m.boots, time: m.time}, nil
}

// checkV3Reply checks the reply to the authenticated GET (msgID, reqID,
// sent with flags) made with eng, at local time now. It may decrypt b in
// place.
func checkV3Reply(b []byte, cfg *clientConfig, eng *engine, msgID, reqID uint32, flags byte, now time.Time) replyOutcome {
	m, err := parseV3(b)
	if err != nil {
		return dropped(err)
	}
	if m.msgID != msgID {
		return dropped(errWrongMsgID)
	}
	authed := m.flags&snmpwire.FlagAuth != 0
	encrypted := m.flags&snmpwire.FlagPriv != 0
	if authed {
		if string(m.engineID) != string(eng.id) {
			return dropped(errWrongEngine)
		}
		if string(m.user) != cfg.user {
			return dropped(errWrongUser)
		}
		if len(m.authParams) != eng.auth.Protocol().MACLen || !eng.auth.Verify(b, snmpwire.Offset(b, m.authParams)) {
			return dropped(errBadHMAC)
		}
	}
	scoped := m.data
	if encrypted {
		if eng.priv == nil || len(m.privParams) != 8 {
			return dropped(errDecrypt)
		}
		eng.priv.Decrypt(snmpwire.IV(m.boots, m.time, m.privParams), m.data)
		s, _, ok := snmpwire.Expect(m.data, snmpwire.TagSequence) // trailing bytes may be padding
		if !ok {
			return dropped(errDecrypt)
		}
		scoped = s
	}
	p, ok := parseScopedPDU(scoped)
	if !ok {
		return dropped(errMalformed)
	}
	switch p.typ {
	case snmpwire.PDUReport:
		vb, _, ok := snmpwire.Expect(p.vbs, snmpwire.TagSequence)
		var oid []byte
		if ok {
			oid, _, ok = snmpwire.Expect(vb, snmpwire.TagOID)
		}
		if !ok {
			return dropped(errMalformed)
		}
		name := snmpwire.ReportName(oid)
		switch string(oid) {
		case string(snmpwire.OIDUnknownEngineIDs), string(snmpwire.OIDNotInTimeWindows):
			if len(m.engineID) == 0 {
				return dropped(errNoEngineID)
			}
			return replyOutcome{kind: replyResync, engineID: append([]byte(nil), m.engineID...),
				boots: m.boots, time: m.time, report: name}
		}
		return replyOutcome{kind: replyFail, err: fmt.Errorf("agent reported %s", name), report: name}
	case snmpwire.PDUResponse:
		if !authed || flags&snmpwire.FlagPriv != 0 && !encrypted {
			return dropped(errUnauthResponse)
		}
		if p.reqID != int64(reqID) {
			return dropped(errWrongReqID)
		}
		if m.boots != eng.boots {
			return dropped(errBoots)
		}
		if d := int64(m.time) - int64(eng.estTime(now)); d > snmpwire.TimeWindow || d < -snmpwire.TimeWindow {
			return dropped(errTimeWindow)
		}
		if p.errStatus != 0 {
			return replyOutcome{kind: replyFail, err: errorStatus(&p)}
		}
		v, err := loadVarbind(p.vbs)
		if err != nil {
			return replyOutcome{kind: replyFail, err: err}
		}
		return replyOutcome{kind: replyValue, value: v, boots: m.boots, time: m.time}
	}
	return dropped(errPDUType)
}
