package snmp

import (
	"net"
	"syscall"
)

// setSocketBuffers asks for n-byte receive and send buffers: forced past
// net.core.rmem_max/wmem_max when running as root (SO_RCVBUFFORCE), else
// as much as the limits allow.
func setSocketBuffers(s *net.UDPConn, n int) {
	rc, err := s.SyscallConn()
	if err == nil {
		var forced bool
		_ = rc.Control(func(fd uintptr) {
			forced = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, n) == nil
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUFFORCE, n)
		})
		if forced {
			return
		}
	}
	_ = s.SetReadBuffer(n)
	_ = s.SetWriteBuffer(n)
}
