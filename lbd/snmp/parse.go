package snmp

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/lbd-project/lbd/internal/snmpwire"
)

// Reply parsing and checking (docs/protocol.md §3.2, §3.5, D5, D9). Everything
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

// dropReason maps an snmpwire parse error to the reason a reply is dropped.
func dropReason(err error) error {
	if err == snmpwire.ErrVersion {
		return errWrongVersion
	}
	return errMalformed
}

// replyPDU parses a reply PDU: the integers of a Response or Report are
// non-negative (error-status, error-index).
func replyPDU(p snmpwire.PDU, err error) (snmpwire.PDU, bool) {
	return p, err == nil && p.ErrorStatus >= 0 && p.ErrorIndex >= 0
}

// errorStatusNames are RFC 3416 error-status values.
var errorStatusNames = [...]string{"noError", "tooBig", "noSuchName", "badValue", "readOnly", "genErr",
	"noAccess", "wrongType", "wrongLength", "wrongEncoding", "wrongValue", "noCreation",
	"inconsistentValue", "resourceUnavailable", "commitFailed", "undoFailed", "authorizationError",
	"notWritable", "inconsistentName"}

func errorStatus(p *snmpwire.PDU) error {
	name := fmt.Sprint(p.ErrorStatus)
	if p.ErrorStatus >= 0 && int(p.ErrorStatus) < len(errorStatusNames) {
		name = errorStatusNames[p.ErrorStatus]
	}
	return fmt.Errorf("agent error-status %s (index %d)", name, p.ErrorIndex)
}

// loadVarbind checks that the varbind list is exactly LoadOID with a value
// and decodes the value.
func loadVarbind(vbs []byte) (Value, error) {
	vb, rest, err := snmpwire.NextVarBind(vbs)
	switch {
	case err == snmpwire.ErrMalformed:
		return Value{}, errors.New("no varbind in response")
	case len(rest) != 0:
		return Value{}, errors.New("more than one varbind in response")
	case err == snmpwire.ErrVarBind:
		return Value{}, errors.New("malformed varbind")
	case string(vb.Name) != string(loadOIDBytes):
		return Value{}, fmt.Errorf("response for OID %s, asked %s", snmpwire.FormatOID(vb.Name), LoadOID)
	case err != nil:
		return Value{}, errors.New("malformed varbind value")
	}
	return decodeValue(vb.Tag, vb.Value)
}

// decodeValue turns a varbind value into a Value (docs/protocol.md §3.2/§3.5):
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
	m, err := snmpwire.ParseV2c(b)
	if err != nil {
		return Value{}, false, dropReason(err)
	}
	if string(m.Community) != community {
		return Value{}, false, errWrongCommunity
	}
	p, ok := replyPDU(snmpwire.ParsePDU(m.PDU))
	if !ok {
		return Value{}, false, errMalformed
	}
	if p.Type != snmpwire.PDUResponse {
		return Value{}, false, errPDUType
	}
	if int64(p.RequestID) != int64(reqID) {
		return Value{}, false, errWrongReqID
	}
	if p.ErrorStatus != 0 {
		return Value{}, true, errorStatus(&p)
	}
	v, err = loadVarbind(p.VarBinds)
	return v, true, err
}

// checkDiscoveryReply takes the engine ID, boots and time from the USM
// header of the reply to discovery msgID (the PDU, normally a Report
// usmStatsUnknownEngineIDs, is not needed). The engine ID is copied.
func checkDiscoveryReply(b []byte, msgID uint32) (engine, error) {
	m, err := snmpwire.ParseV3(b)
	if err != nil {
		return engine{}, dropReason(err)
	}
	if uint32(m.MsgID) != msgID {
		return engine{}, errWrongMsgID
	}
	if len(m.EngineID) == 0 {
		return engine{}, errNoEngineID
	}
	return engine{id: append([]byte(nil), m.EngineID...), boots: m.Boots, time: m.Time}, nil
}

// checkV3Reply checks the reply to the authenticated GET (msgID, reqID,
// sent with flags) made with eng, at local time now. It may decrypt b in
// place.
func checkV3Reply(b []byte, cfg *clientConfig, eng *engine, msgID, reqID uint32, flags byte, now time.Time) replyOutcome {
	m, err := snmpwire.ParseV3(b)
	if err != nil {
		return dropped(dropReason(err))
	}
	if uint32(m.MsgID) != msgID {
		return dropped(errWrongMsgID)
	}
	if m.Authenticated() {
		if err := checkAuthentic(&m, b, cfg, eng); err != nil {
			return dropped(err)
		}
	}
	scoped := m.Data
	if m.Encrypted() {
		if eng.priv == nil {
			return dropped(errDecrypt)
		}
		if scoped, err = m.DecryptScopedPDU(eng.priv); err != nil {
			return dropped(errDecrypt)
		}
	}
	s, err := snmpwire.ParseScopedPDU(scoped)
	p, ok := replyPDU(s.PDU, err)
	if !ok {
		return dropped(errMalformed)
	}
	switch p.Type {
	case snmpwire.PDUReport:
		return reportOutcome(&m, &p)
	case snmpwire.PDUResponse:
		return responseOutcome(&m, &p, eng, reqID, flags, now)
	}
	return dropped(errPDUType)
}

// checkAuthentic checks an authenticated reply's engine ID, user name and
// HMAC (RFC 3414 §3.2 steps 3, 4, 6 on the manager's side).
func checkAuthentic(m *snmpwire.V3Message, whole []byte, cfg *clientConfig, eng *engine) error {
	if string(m.EngineID) != string(eng.id) {
		return errWrongEngine
	}
	if string(m.UserName) != cfg.user {
		return errWrongUser
	}
	if !m.VerifyAuth(whole, eng.auth) {
		return errBadHMAC
	}
	return nil
}

// reportOutcome interprets a Report: unknownEngineIDs and notInTimeWindows
// refresh the engine (RFC 3414 §4), any other counter is a failure.
func reportOutcome(m *snmpwire.V3Message, p *snmpwire.PDU) replyOutcome {
	vb, _, err := snmpwire.NextVarBind(p.VarBinds)
	if err != nil && err != snmpwire.ErrVarBindValue { // only the counter's name matters
		return dropped(errMalformed)
	}
	name := snmpwire.ReportName(vb.Name)
	switch string(vb.Name) {
	case string(snmpwire.OIDUnknownEngineIDs), string(snmpwire.OIDNotInTimeWindows):
		if len(m.EngineID) == 0 {
			return dropped(errNoEngineID)
		}
		return replyOutcome{kind: replyResync, engineID: append([]byte(nil), m.EngineID...),
			boots: m.Boots, time: m.Time, report: name}
	}
	return replyOutcome{kind: replyFail, err: &reportError{name}, report: name}
}

// responseOutcome checks a Response (security level as requested,
// request-id, boots and the 150 s time window of RFC 3414 §3.2 step 7)
// and decodes its load.
func responseOutcome(m *snmpwire.V3Message, p *snmpwire.PDU, eng *engine, reqID uint32, flags byte, now time.Time) replyOutcome {
	if !m.Authenticated() || flags&snmpwire.FlagPriv != 0 && !m.Encrypted() {
		return dropped(errUnauthResponse)
	}
	if int64(p.RequestID) != int64(reqID) {
		return dropped(errWrongReqID)
	}
	if m.Boots != eng.boots {
		return dropped(errBoots)
	}
	if d := int64(m.Time) - int64(eng.estTime(now)); d > snmpwire.TimeWindow || d < -snmpwire.TimeWindow {
		return dropped(errTimeWindow)
	}
	if p.ErrorStatus != 0 {
		return replyOutcome{kind: replyFail, err: errorStatus(p)}
	}
	v, err := loadVarbind(p.VarBinds)
	if err != nil {
		return replyOutcome{kind: replyFail, err: err}
	}
	return replyOutcome{kind: replyValue, value: v, boots: m.Boots, time: m.Time}
}
