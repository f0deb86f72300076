package snmp

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/stretchr/testify/require"
)

func TestListenPushDeliversOnlyValidPushes(t *testing.T) {
	port := freeUDPPort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	got := make(chan []string, 100)
	go func() {
		done <- ListenPush(ctx, addr, "pushc", func(_ *net.UDPAddr, aliases []string) { got <- aliases })
	}()
	defer func() { cancel(); <-done }()

	send := func(community, trapOID, changed string) {
		g := &gosnmp.GoSNMP{Target: "127.0.0.1", Port: uint16(port), Community: community, Version: gosnmp.Version2c,
			Timeout: time.Second, Retries: 0}
		if err := g.Connect(); err != nil {
			t.Fatal(err)
		}
		defer g.Conn.Close()
		_, err := g.SendTrap(gosnmp.SnmpTrap{Variables: []gosnmp.SnmpPDU{
			{Name: ".1.3.6.1.2.1.1.3.0", Type: gosnmp.TimeTicks, Value: uint32(5)},
			{Name: ".1.3.6.1.6.3.1.1.4.1.0", Type: gosnmp.ObjectIdentifier, Value: trapOID},
			{Name: PushChangedOID, Type: gosnmp.OctetString, Value: changed},
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Wrong community and wrong trap OID are ignored; a push naming b is delivered.
	var pushed []string
	for i := 0; i < 50 && pushed == nil; i++ { // the listener may not be up yet: bounded resend
		send("wrong", PushTrapOID, "b.example.org=-1")
		send("pushc", ".1.3.6.1.4.1.96.255.99", "b.example.org=-1")
		send("pushc", PushTrapOID, "b.example.org=-1,unknown.example.org=5")
		select {
		case pushed = <-got:
		case <-time.After(100 * time.Millisecond):
		}
	}
	require.Equal(t, []string{"b.example.org", "unknown.example.org"}, pushed)
	select {
	case more := <-got:
		require.Equal(t, []string{"b.example.org", "unknown.example.org"}, more, "only the valid push is delivered")
	default:
	}
}

func TestPushedAliases(t *testing.T) {
	pkt := func(version gosnmp.SnmpVersion, community, trapOID string, changed any) *gosnmp.SnmpPacket {
		return &gosnmp.SnmpPacket{Version: version, Community: community, Variables: []gosnmp.SnmpPDU{
			{Name: ".1.3.6.1.6.3.1.1.4.1.0", Type: gosnmp.ObjectIdentifier, Value: trapOID},
			{Name: PushChangedOID, Type: gosnmp.OctetString, Value: changed},
		}}
	}
	got, ok := PushedAliases(pkt(gosnmp.Version2c, "c", "1.3.6.1.4.1.96.255.2", []byte("A.example.=1,b=-1,,=3")), "c")
	if !ok || len(got) != 2 || got[0] != "a.example" || got[1] != "b" {
		t.Fatalf("got %v %v", got, ok)
	}
	for name, p := range map[string]*gosnmp.SnmpPacket{
		"wrong community": pkt(gosnmp.Version2c, "x", PushTrapOID, []byte("a=1")),
		"wrong trap":      pkt(gosnmp.Version2c, "c", ".1.3.6.1.4.1.96.255.9", []byte("a=1")),
		"v1":              pkt(gosnmp.Version1, "c", PushTrapOID, []byte("a=1")),
		"nil":             nil,
	} {
		if _, ok := PushedAliases(p, "c"); ok {
			t.Errorf("%s accepted", name)
		}
	}
	if got, ok := PushedAliases(pkt(gosnmp.Version2c, "c", PushTrapOID, 42), "c"); !ok || len(got) != 0 {
		t.Errorf("non-string changed list: %v %v", got, ok)
	}
}

// listenPush must release its socket and goroutine when ctx ends, even when
// it ends before the listener is up.
func TestListenPushCancelledEarlyReleasesSocket(t *testing.T) {
	for i := 0; i < 20; i++ {
		addr := "127.0.0.1:" + strconv.Itoa(freeUDPPort(t))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := ListenPush(ctx, addr, "c", func(*net.UDPAddr, []string) {}); err != nil {
			t.Fatal(err)
		}
		c, err := net.ListenPacket("udp", addr)
		if err != nil {
			t.Fatalf("try %d: push socket still bound after listenPush returned: %v", i, err)
		}
		c.Close()
	}
}
