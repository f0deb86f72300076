package dnsupdate

import (
	"context"
	"encoding/binary"
	"net"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// UDP exchanges reuse connected sockets: a cycle sends thousands of
// queries to each server, and a socket per query costs more system calls
// than the query itself. A socket goes back to its server's idle list only
// after a clean exchange; one that timed out or failed is closed, so a late
// reply can only reach a socket that is gone (and replies are matched by
// ID anyway).

// maxIdleUDP bounds the idle sockets kept per server.
const maxIdleUDP = 64

var (
	idleUDP   sync.Map // server → chan net.Conn
	udpBuffer = sync.Pool{New: func() any { b := make([]byte, dns.MaxMsgSize); return &b }}
)

func idleFor(server string) chan net.Conn {
	if c, ok := idleUDP.Load(server); ok {
		return c.(chan net.Conn)
	}
	c, _ := idleUDP.LoadOrStore(server, make(chan net.Conn, maxIdleUDP))
	return c.(chan net.Conn)
}

// udpExchange sends buf to server and returns the reply with ID id.
func udpExchange(ctx context.Context, server string, buf []byte, id uint16, deadline time.Time) ([]byte, error) {
	idle := idleFor(server)
	var conn net.Conn
	select {
	case conn = <-idle:
	default:
		var d net.Dialer
		c, err := d.DialContext(ctx, "udp", server)
		if err != nil {
			return nil, err
		}
		conn = c
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	raw, err := udpRoundTrip(conn, buf, id, deadline)
	if stopped := stop(); err != nil || !stopped {
		// Failed, or cancelled meanwhile (the cancellation may yet reset
		// the deadline): not reused.
		conn.Close()
		return raw, err
	}
	select {
	case idle <- conn:
	default:
		conn.Close()
	}
	return raw, nil
}

func udpRoundTrip(conn net.Conn, buf []byte, id uint16, deadline time.Time) ([]byte, error) {
	if err := conn.SetDeadline(deadline); err != nil {
		return nil, err
	}
	if _, err := conn.Write(buf); err != nil {
		return nil, err
	}
	bp := udpBuffer.Get().(*[]byte)
	defer udpBuffer.Put(bp)
	p := *bp
	for {
		n, err := conn.Read(p)
		if err != nil {
			return nil, err
		}
		// Ignore anything that is not a reply to this request.
		if n >= 12 && binary.BigEndian.Uint16(p) == id && p[2]&0x80 != 0 {
			return append([]byte(nil), p[:n]...), nil
		}
	}
}
