package agent

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"
)

// On a wildcard socket the reply leaves from the address the request was
// sent to, not from the kernel's route choice (127.0.0.1 here).
func TestWildcardReplyFromRequestedAddress(t *testing.T) {
	r, err := New(Config{Community: "public", EngineID: EngineIDFor("t")}, func() Value { return Value{Int: 7} }, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := net.ListenPacket("udp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	port := srv.LocalAddr().(*net.UDPAddr).Port
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Serve(ctx, srv); close(done) }()
	defer func() { cancel(); srv.Close(); <-done }()

	cli, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	req := v2cGet(t, OID)
	for _, dst := range []string{"127.0.0.5", "127.0.0.9", "127.0.0.1"} {
		to := netip.AddrPortFrom(netip.MustParseAddr(dst), uint16(port))
		if _, err := cli.WriteToUDPAddrPort(req, to); err != nil {
			t.Fatal(err)
		}
		cli.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 2048)
		_, from, err := cli.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("no reply to %s: %v", dst, err)
		}
		if from != to {
			t.Fatalf("request to %s answered from %s", to, from)
		}
	}
}
