package agent

import (
	"net"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// pktinfo answers from the address a request was sent to on a wildcard
// UDP socket, using IP_PKTINFO (IPv4) or IPV6_RECVPKTINFO (IPv6).
type pktinfo struct{ v6 bool }

// newPktinfo enables destination-address reporting on a wildcard socket; it
// returns nil for a socket bound to one address (its replies already leave
// from that address) or when the option cannot be set.
func newPktinfo(c *net.UDPConn) *pktinfo {
	la, ok := c.LocalAddr().(*net.UDPAddr)
	if !ok || !la.IP.IsUnspecified() {
		return nil
	}
	if la.IP.To4() != nil {
		if ipv4.NewPacketConn(c).SetControlMessage(ipv4.FlagDst, true) != nil {
			return nil
		}
		return &pktinfo{}
	}
	if ipv6.NewPacketConn(c).SetControlMessage(ipv6.FlagDst, true) != nil {
		return nil
	}
	return &pktinfo{v6: true}
}

// reply turns the control message received with a request into the one to
// send with its reply: source = the request's destination. Nil (kernel's
// choice) when the request carried none.
func (p *pktinfo) reply(oob []byte) []byte {
	if len(oob) == 0 {
		return nil
	}
	if p.v6 {
		var cm ipv6.ControlMessage
		if cm.Parse(oob) != nil || cm.Dst == nil {
			return nil
		}
		return (&ipv6.ControlMessage{Src: cm.Dst}).Marshal()
	}
	var cm ipv4.ControlMessage
	if cm.Parse(oob) != nil || cm.Dst == nil {
		return nil
	}
	return (&ipv4.ControlMessage{Src: cm.Dst}).Marshal()
}
