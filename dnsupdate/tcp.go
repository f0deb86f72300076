package dnsupdate

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"time"
)

// TCP exchanges (large UPDATEs, truncated replies) reuse connections: a
// DNS server keeps a client's TCP connection open for further messages
// (RFC 7766 §6.2.1; BIND for tcp-idle-timeout, 30 s by default, Knot for
// tcp-idle-timeout, 10 s), so a cycle that sends several large messages to
// one server pays for one handshake. A connection is used for one exchange
// at a time and goes back to its server's idle list only after a clean
// one; idle connections older than maxIdleTCPAge are closed rather than
// used, so that a server's own idle timeout rarely closes one under us.
// When it does, the exchange is sent again on a new connection, once, if
// nothing came back on the old one.

const (
	// maxIdleTCP bounds the idle connections kept per server.
	maxIdleTCP = 8
	// maxIdleTCPAge is how long an idle connection is kept: below the
	// idle timeouts of the servers lbd writes to.
	maxIdleTCPAge = 5 * time.Second
)

type idleTCPConn struct {
	conn  net.Conn
	since time.Time
}

var idleTCP = struct {
	sync.Mutex
	m map[string][]idleTCPConn
}{m: map[string][]idleTCPConn{}}

// takeTCP returns an idle connection to server that is recent enough, or
// nil; older ones are closed.
func takeTCP(server string, now time.Time) net.Conn {
	idleTCP.Lock()
	defer idleTCP.Unlock()
	list := idleTCP.m[server]
	for len(list) > 0 {
		c := list[len(list)-1]
		list = list[:len(list)-1]
		if now.Sub(c.since) < maxIdleTCPAge {
			idleTCP.m[server] = list
			return c.conn
		}
		c.conn.Close()
	}
	delete(idleTCP.m, server)
	return nil
}

// putTCP keeps conn for reuse, or closes it when the server has enough
// idle connections.
func putTCP(server string, conn net.Conn, now time.Time) {
	idleTCP.Lock()
	defer idleTCP.Unlock()
	if len(idleTCP.m[server]) >= maxIdleTCP {
		conn.Close()
		return
	}
	idleTCP.m[server] = append(idleTCP.m[server], idleTCPConn{conn, now})
}

// tcpExchange sends buf over TCP to server and returns the reply with ID
// id, on an idle connection when there is one; reused reports that it was.
func tcpExchange(ctx context.Context, server string, buf []byte, id uint16, deadline time.Time) (raw []byte, reused bool, err error) {
	if conn := takeTCP(server, time.Now()); conn != nil {
		raw, replied, clean, err := tcpRoundTrip(ctx, conn, buf, id, deadline)
		if err == nil || replied || !closedByPeer(err) {
			finishTCP(server, conn, err == nil && clean)
			return raw, true, err
		}
		conn.Close() // the server had closed it: send again on a new one
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", server)
	if err != nil {
		return nil, false, err
	}
	raw, _, clean, err := tcpRoundTrip(ctx, conn, buf, id, deadline)
	finishTCP(server, conn, err == nil && clean)
	return raw, false, err
}

// finishTCP keeps conn for reuse after a clean exchange, else closes it.
func finishTCP(server string, conn net.Conn, clean bool) {
	if !clean || conn.SetDeadline(time.Time{}) != nil {
		conn.Close()
		return
	}
	putTCP(server, conn, time.Now())
}

// closedByPeer is the error of a connection the other end had closed.
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// tcpRoundTrip makes one exchange on conn (RFC 1035 §4.2.2 framing);
// replied is set once any byte of the reply was read, clean when ctx was
// not cancelled meanwhile (the cancellation could otherwise reset the
// deadline under the connection's next user).
func tcpRoundTrip(ctx context.Context, conn net.Conn, buf []byte, id uint16, deadline time.Time) (raw []byte, replied, clean bool, err error) {
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer func() { clean = stop() }()
	if err := conn.SetDeadline(deadline); err != nil {
		return nil, false, false, err
	}
	out := make([]byte, 2+len(buf))
	binary.BigEndian.PutUint16(out, uint16(len(buf)))
	copy(out[2:], buf)
	if _, err := conn.Write(out); err != nil {
		return nil, false, false, err
	}
	var l [2]byte
	if n, err := io.ReadFull(conn, l[:]); err != nil {
		return nil, n > 0, false, err
	}
	p := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(conn, p); err != nil {
		return nil, true, false, err
	}
	if len(p) < 12 || binary.BigEndian.Uint16(p) != id {
		return nil, true, false, errors.New("reply ID mismatch")
	}
	return p, true, true, nil
}
