package snmp

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/gosnmp/gosnmp"
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

// PushedAliases extracts the alias names of a push notification; ok is false
// when the packet is not one.
func PushedAliases(p *gosnmp.SnmpPacket, community string) (aliases []string, ok bool) {
	if p == nil || p.Version != gosnmp.Version2c || p.Community != community {
		return nil, false
	}
	isPush := false
	var changed string
	for _, v := range p.Variables {
		switch strings.TrimPrefix(v.Name, ".") {
		case "1.3.6.1.6.3.1.1.4.1.0":
			if s, _ := v.Value.(string); strings.TrimPrefix(s, ".") == strings.TrimPrefix(PushTrapOID, ".") {
				isPush = true
			}
		case strings.TrimPrefix(PushChangedOID, "."):
			if b, ok := v.Value.([]byte); ok {
				changed = string(b)
			}
		}
	}
	if !isPush {
		return nil, false
	}
	for _, item := range strings.Split(changed, ",") {
		name, _, _ := strings.Cut(item, "=")
		if name = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), "."); name != "" {
			aliases = append(aliases, name)
		}
	}
	return aliases, true
}

// ListenPush receives push notifications on addr (UDP) until ctx ends,
// calling onPush with the aliases each valid notification names. It returns
// once the socket is closed, or at once when addr cannot be bound.
func ListenPush(ctx context.Context, addr, community string, onPush func(from *net.UDPAddr, aliases []string)) error {
	tl := gosnmp.NewTrapListener()
	tl.Params = &gosnmp.GoSNMP{Version: gosnmp.Version2c, Community: community}
	tl.OnNewTrap = func(p *gosnmp.SnmpPacket, from *net.UDPAddr) {
		aliases, ok := PushedAliases(p, community)
		if !ok {
			return
		}
		onPush(from, aliases)
	}
	errc := make(chan error, 1)
	go func() { errc <- tl.Listen(addr) }()
	// Wait for Listen to bind or fail, even when ctx is already done: a
	// Close before Listen has its socket leaves the socket open and the
	// Listen goroutine blocked for ever.
	select {
	case <-tl.Listening():
	case err := <-errc:
		return fmt.Errorf("push listen %s: %w", addr, err)
	}
	<-ctx.Done()
	tl.Close() // closes the socket; Listen then returns
	return nil
}
