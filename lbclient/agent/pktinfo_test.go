package agent

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// On a wildcard socket the reply leaves from the address the request was
// sent to, not from the kernel's route choice (127.0.0.1 here).
func TestWildcardReplyFromRequestedAddress(t *testing.T) {
	r, err := New(Config{Community: "public", EngineID: EngineIDFor("t")}, func() Value { return Value{Int: 7} }, nil)
	require.NoError(t, err)
	srv, err := net.ListenPacket("udp4", "0.0.0.0:0")
	require.NoError(t, err)
	port := srv.LocalAddr().(*net.UDPAddr).Port
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Serve(ctx, srv); close(done) }()
	defer func() { cancel(); srv.Close(); <-done }()

	cli, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer cli.Close()
	req := v2cGet(t, OID)
	for _, dst := range []string{"127.0.0.5", "127.0.0.9", "127.0.0.1"} {
		to := netip.AddrPortFrom(netip.MustParseAddr(dst), uint16(port))
		_, err := cli.WriteToUDPAddrPort(req, to)
		require.NoError(t, err)
		cli.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 2048)
		_, from, err := cli.ReadFromUDPAddrPort(buf)
		require.NoError(t, err, "no reply to %s", dst)
		require.Equal(t, to, from, "request to %s answered from another address", to)
	}
}
