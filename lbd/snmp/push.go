package snmp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/lbd-project/lbd/internal/snmpwire"
)

// Push notifications from agents (the format lbclient sends, see
// lbclient/doc.go): an SNMPv2c trap or inform whose snmpTrapOID.0 is
// PushTrapOID and whose PushChangedOID varbind lists the aliases whose
// usability changed, "alias=N,alias2=M". A notification is only a hint:
// lbd re-polls the members itself, so a forged trap can cause an early
// evaluation but cannot change a load.
const (
	PushTrapOID    = ".1.3.6.1.4.1.96.255.2"
	PushChangedOID = ".1.3.6.1.4.1.96.255.3"
)

// snmpTrapOID.0 (RFC 3416 §4.2.6: the second varbind of a notification).
const snmpTrapOID = ".1.3.6.1.6.3.1.1.4.1.0"

var (
	snmpTrapOIDBytes    = mustEncodeOID(snmpTrapOID)
	pushTrapOIDBytes    = mustEncodeOID(PushTrapOID)
	pushChangedOIDBytes = mustEncodeOID(PushChangedOID)
)

func mustEncodeOID(s string) []byte {
	b, err := snmpwire.EncodeOID(s)
	if err != nil {
		panic(err)
	}
	return b
}

// parseNotification parses an SNMPv2c SNMPv2-Trap-PDU or InformRequest-PDU
// (RFC 3416 §4.2.6, §4.2.7) carrying community; ok is false for anything
// else.
func parseNotification(b []byte, community string) (p snmpwire.PDU, ok bool) {
	m, err := snmpwire.ParseV2c(b)
	if err != nil || string(m.Community) != community {
		return p, false
	}
	if p, err = snmpwire.ParsePDU(m.PDU); err != nil {
		return p, false
	}
	return p, p.Type == snmpwire.PDUTrapV2 || p.Type == snmpwire.PDUInformRequest
}

// pushAliases extracts the alias names from a notification's varbinds; ok
// is false when it is not a push (no snmpTrapOID.0 varbind is PushTrapOID)
// or a varbind is malformed. The changed list is the last OCTET STRING
// value of a PushChangedOID varbind: "a=1,b=-1" names a and b, lower-cased,
// without a trailing dot; empty names are skipped.
func pushAliases(vbs []byte) (aliases []string, ok bool) {
	isPush := false
	var changed []byte
	for len(vbs) > 0 {
		vb, rest, err := snmpwire.NextVarBind(vbs)
		if err != nil {
			return nil, false
		}
		switch string(vb.Name) {
		case string(snmpTrapOIDBytes):
			if vb.Tag == snmpwire.TagOID && string(vb.Value) == string(pushTrapOIDBytes) {
				isPush = true
			}
		case string(pushChangedOIDBytes):
			if vb.Tag == snmpwire.TagOctetString {
				changed = vb.Value
			}
		}
		vbs = rest
	}
	if !isPush {
		return nil, false
	}
	for _, item := range strings.Split(string(changed), ",") {
		name, _, _ := strings.Cut(item, "=")
		if name = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), "."); name != "" {
			aliases = append(aliases, name)
		}
	}
	return aliases, true
}

// PushedAliases extracts the alias names of the push notification in the
// datagram b; ok is false when b is not one: not an SNMPv2c trap or inform
// with community, or snmpTrapOID.0 is not PushTrapOID.
func PushedAliases(b []byte, community string) (aliases []string, ok bool) {
	p, ok := parseNotification(b, community)
	if !ok {
		return nil, false
	}
	return pushAliases(p.VarBinds)
}

// writeInformAck writes the Response to the InformRequest p (RFC 3416
// §4.2.7): same request-id, noError, the varbinds echoed.
func writeInformAck(e *snmpwire.Encoder, community string, p *snmpwire.PDU) {
	m := e.Open(snmpwire.TagSequence)
	e.Int(snmpwire.TagInteger, snmpwire.Version2c)
	e.String(community)
	r := e.Open(snmpwire.PDUResponse)
	e.Raw(snmpwire.TagInteger, p.RawRequestID)
	e.Int(snmpwire.TagInteger, 0)
	e.Int(snmpwire.TagInteger, 0)
	e.Raw(snmpwire.TagSequence, p.VarBinds)
	e.Close(r)
	e.Close(m)
}

// handlePush processes one datagram: onPush for a push, and for an inform
// with our community (push or not) the acknowledgement, appended to e.B
// (ack is then true).
func handlePush(e *snmpwire.Encoder, b []byte, community string, onPush func(aliases []string)) (ack bool) {
	p, ok := parseNotification(b, community)
	if !ok {
		return false
	}
	if aliases, ok := pushAliases(p.VarBinds); ok {
		onPush(aliases)
	}
	if p.Type != snmpwire.PDUInformRequest {
		return false
	}
	writeInformAck(e, community, &p)
	return true
}

// ListenPush receives push notifications on addr (UDP) until ctx ends,
// calling onPush with the aliases each valid notification names and
// acknowledging informs. It returns once the socket is closed, or at once
// when addr cannot be bound.
func ListenPush(ctx context.Context, addr, community string, onPush func(from *net.UDPAddr, aliases []string)) error {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return fmt.Errorf("push listen %s: %w", addr, err)
	}
	conn, err := net.ListenUDP("udp", ua)
	if err != nil {
		return fmt.Errorf("push listen %s: %w", addr, err)
	}
	// ctx's end wakes the read loop (also when ctx is already done), and the
	// socket is closed here, once that wake-up is over: the port is free
	// when ListenPush returns (a Close from the AfterFunc goroutine could
	// still be releasing it).
	woken := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(woken)
		conn.SetReadDeadline(time.Now())
	})
	defer func() {
		if !stop() {
			<-woken
		}
		conn.Close()
	}()
	buf := make([]byte, 65536)
	var e snmpwire.Encoder
	for {
		n, from, err := conn.ReadFromUDP(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			time.Sleep(time.Millisecond) // a transient error; never spin
			continue
		}
		e.B = e.B[:0]
		if handlePush(&e, buf[:n], community, func(aliases []string) { onPush(from, aliases) }) {
			_, _ = conn.WriteToUDP(e.B, from)
		}
	}
}
