//go:build !linux

package snmp

import "net"

// setSocketBuffers asks for n-byte receive and send buffers.
func setSocketBuffers(s *net.UDPConn, n int) {
	_ = s.SetReadBuffer(n)
	_ = s.SetWriteBuffer(n)
}
