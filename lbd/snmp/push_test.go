package snmp

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/internal/snmpwire"
	"github.com/lbd-project/lbd/internal/testenv"
)

// startPush runs ListenPush on a free 127.0.0.1 port with community and
// returns the port and the channel of delivered alias lists.
func startPush(t *testing.T, community string) (int, <-chan []string) {
	t.Helper()
	port := freeUDPPort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	got := make(chan []string, 100)
	go func() {
		done <- ListenPush(ctx, addr, community, func(_ *net.UDPAddr, aliases []string) { got <- aliases })
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(5 * time.Second):
			t.Error("ListenPush did not return after cancel")
		}
	})
	return port, got
}

// pushVarbinds are the varbinds of a notification (lbclient's layout).
func pushVarbinds(trapOID, changed string) []gosnmp.SnmpPDU {
	return []gosnmp.SnmpPDU{
		{Name: ".1.3.6.1.2.1.1.3.0", Type: gosnmp.TimeTicks, Value: uint32(5)},
		{Name: snmpTrapOID, Type: gosnmp.ObjectIdentifier, Value: trapOID},
		{Name: PushChangedOID, Type: gosnmp.OctetString, Value: changed},
	}
}

// gosnmpSender returns a gosnmp v2c client for 127.0.0.1:port.
func gosnmpSender(t *testing.T, port int, community string) *gosnmp.GoSNMP {
	t.Helper()
	g := &gosnmp.GoSNMP{Target: "127.0.0.1", Port: uint16(port), Community: community, Version: gosnmp.Version2c,
		Timeout: time.Second, Retries: 0}
	require.NoError(t, g.Connect())
	t.Cleanup(func() { g.Conn.Close() })
	return g
}

// waitPushUp returns once the listener on port delivers a probe push
// (bounded resend), consuming it from got.
func waitPushUp(t *testing.T, port int, community string, got <-chan []string) {
	t.Helper()
	probe := gosnmpSender(t, port, community)
	for i := 0; i < 50; i++ {
		// (a send may fail with ECONNREFUSED while nothing listens)
		_, _ = probe.SendTrap(gosnmp.SnmpTrap{Variables: pushVarbinds(PushTrapOID, "probe=1")})
		select {
		case as := <-got:
			if len(as) == 1 && as[0] == "probe" {
				return
			}
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatal("push listener not delivering")
}

func TestListenPushDeliversOnlyValidPushes(t *testing.T) {
	port, got := startPush(t, "pushc")
	send := func(community, trapOID, changed string) {
		_, err := gosnmpSender(t, port, community).SendTrap(gosnmp.SnmpTrap{Variables: pushVarbinds(trapOID, changed)})
		require.NoError(t, err)
	}
	// Garbage, wrong community and wrong trap OID are ignored; a push
	// naming b is delivered.
	garbage, err := net.Dial("udp", "127.0.0.1:"+strconv.Itoa(port))
	require.NoError(t, err)
	defer garbage.Close()
	var pushed []string
	for i := 0; i < 50 && pushed == nil; i++ { // the listener may not be up yet: bounded resend
		for _, g := range [][]byte{{}, {0x30}, {0x30, 0x82, 0xff, 0xff}, []byte("hello")} {
			_, _ = garbage.Write(g)
		}
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

// An inform is acknowledged with a Response echoing its varbinds (what
// gosnmp's SendTrap, and so lbclient's pusher, waits for); an inform with
// another community is not.
func TestListenPushAcknowledgesInforms(t *testing.T) {
	port, got := startPush(t, "pushc")
	waitPushUp(t, port, "pushc", got)
	g := gosnmpSender(t, port, "pushc")
	res, err := g.SendTrap(gosnmp.SnmpTrap{Variables: pushVarbinds(PushTrapOID, "a.example=1"), IsInform: true})
	require.NoError(t, err)
	assert.Equal(t, gosnmp.GetResponse, res.PDUType)
	assert.Equal(t, gosnmp.NoError, res.Error)
	require.Len(t, res.Variables, 3)
	assert.Equal(t, []byte("a.example=1"), res.Variables[2].Value)
	assert.Equal(t, []string{"a.example"}, <-got)

	// not a push, still an inform: acknowledged, not delivered
	_, err = g.SendTrap(gosnmp.SnmpTrap{Variables: pushVarbinds(".1.3.6.1.4.1.96.255.99", "a.example=1"), IsInform: true})
	require.NoError(t, err)

	bad := gosnmpSender(t, port, "wrong")
	bad.Timeout = 200 * time.Millisecond
	_, err = bad.SendTrap(gosnmp.SnmpTrap{Variables: pushVarbinds(PushTrapOID, "a.example=1"), IsInform: true})
	require.Error(t, err, "inform with a wrong community acknowledged")
	select {
	case a := <-got:
		t.Fatalf("unexpected push %v", a)
	default:
	}
}

// notification encodes a v2c message with one PDU of typ carrying
// snmpTrapOID.0 = trapOID and, when changedTag is set, PushChangedOID.
func notification(version int64, community string, typ byte, trapOID string, changedTag byte, changed []byte) []byte {
	var e snmpwire.Encoder
	m := e.Open(snmpwire.TagSequence)
	e.Int(snmpwire.TagInteger, version)
	e.String(community)
	p := e.Open(typ)
	e.Int(snmpwire.TagInteger, 77)
	e.Int(snmpwire.TagInteger, 0)
	e.Int(snmpwire.TagInteger, 0)
	l := e.Open(snmpwire.TagSequence)
	v := e.Open(snmpwire.TagSequence)
	e.Raw(snmpwire.TagOID, snmpTrapOIDBytes)
	e.Raw(snmpwire.TagOID, mustEncodeOID(trapOID))
	e.Close(v)
	if changedTag != 0 {
		v = e.Open(snmpwire.TagSequence)
		e.Raw(snmpwire.TagOID, pushChangedOIDBytes)
		e.Raw(changedTag, changed)
		e.Close(v)
	}
	e.Close(l)
	e.Close(p)
	e.Close(m)
	return e.B
}

func TestPushedAliases(t *testing.T) {
	const os = snmpwire.TagOctetString
	for _, typ := range []byte{snmpwire.PDUTrapV2, snmpwire.PDUInformRequest} {
		got, ok := PushedAliases(notification(1, "c", typ, "1.3.6.1.4.1.96.255.2", os, []byte("A.example.=1,b=-1,,=3")), "c")
		require.True(t, ok)
		assert.Equal(t, []string{"a.example", "b"}, got, "lower-cased, trailing dot cut, empty names skipped")
	}
	// a trap as gosnmp marshals it
	pkt := &gosnmp.SnmpPacket{Version: gosnmp.Version2c, Community: "c", PDUType: gosnmp.SNMPv2Trap, RequestID: 9,
		Variables: pushVarbinds(PushTrapOID, "x.example=5")}
	b, err := pkt.MarshalMsg()
	require.NoError(t, err)
	got, ok := PushedAliases(b, "c")
	require.True(t, ok)
	assert.Equal(t, []string{"x.example"}, got)

	changed := notification(1, "c", snmpwire.PDUTrapV2, PushTrapOID, os, []byte("a=1"))
	for name, b := range map[string][]byte{
		"wrong community": notification(1, "x", snmpwire.PDUTrapV2, PushTrapOID, os, []byte("a=1")),
		"wrong trap":      notification(1, "c", snmpwire.PDUTrapV2, ".1.3.6.1.4.1.96.255.9", os, []byte("a=1")),
		"v1":              notification(0, "c", snmpwire.PDUTrapV2, PushTrapOID, os, []byte("a=1")),
		"v3":              notification(3, "c", snmpwire.PDUTrapV2, PushTrapOID, os, []byte("a=1")),
		"not a trap":      notification(1, "c", snmpwire.PDUGetRequest, PushTrapOID, os, []byte("a=1")),
		"truncated":       changed[:len(changed)-1],
		"nil":             nil,
	} {
		_, ok := PushedAliases(b, "c")
		assert.False(t, ok, "%s accepted", name)
	}
	for name, b := range map[string][]byte{
		"non-string changed list": notification(1, "c", snmpwire.PDUTrapV2, PushTrapOID, snmpwire.TagInteger, []byte{42}),
		"no changed list":         notification(1, "c", snmpwire.PDUTrapV2, PushTrapOID, 0, nil),
	} {
		got, ok := PushedAliases(b, "c")
		require.True(t, ok, name)
		assert.Empty(t, got, name)
	}
}

// ListenPush returns at once with an error when the address is taken.
func TestListenPushBindFails(t *testing.T) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer c.Close()
	errc := make(chan error, 1)
	go func() {
		errc <- ListenPush(context.Background(), c.LocalAddr().String(), "c", func(*net.UDPAddr, []string) {})
	}()
	select {
	case err := <-errc:
		require.ErrorContains(t, err, "push listen")
	case <-time.After(5 * time.Second):
		t.Fatal("ListenPush did not return on a bind failure")
	}
}

// listenPush must release its socket and goroutine when ctx ends, even when
// it ends before the listener is up.
func TestListenPushCancelledEarlyReleasesSocket(t *testing.T) {
	for i := 0; i < 20; i++ {
		// An address of its own: on 127.0.0.1 another test process may take
		// the port between the release and the check.
		addr := "127.0.0.77:" + strconv.Itoa(testenv.FreePort(t, "127.0.0.77"))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		require.NoError(t, ListenPush(ctx, addr, "c", func(*net.UDPAddr, []string) {}))
		c, err := net.ListenPacket("udp", addr)
		require.NoError(t, err, "try %d: push socket still bound after listenPush returned", i)
		c.Close()
	}
}

// FuzzPushTrap feeds arbitrary datagrams to the push listener's handler:
// no panic, and an acknowledgement only for an inform with our community,
// as a Response with its request-id and varbinds.
func FuzzPushTrap(f *testing.F) {
	for _, inform := range []bool{false, true} {
		typ := gosnmp.SNMPv2Trap
		if inform {
			typ = gosnmp.InformRequest
		}
		pkt := &gosnmp.SnmpPacket{Version: gosnmp.Version2c, Community: "c", PDUType: typ, RequestID: 1234,
			Variables: pushVarbinds(PushTrapOID, "a.example=1,b.example=-1")}
		b, err := pkt.MarshalMsg()
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add(notification(1, "c", snmpwire.PDUInformRequest, PushTrapOID, snmpwire.TagInteger, []byte{1}))
	f.Fuzz(func(t *testing.T, b []byte) {
		orig := string(b)
		aliases, isPush := PushedAliases(b, "c")
		var e snmpwire.Encoder
		delivered := false
		ack := handlePush(&e, b, "c", func(a []string) {
			delivered = true
			require.Equal(t, aliases, a)
		})
		require.Equal(t, orig, string(b), "the datagram was modified")
		require.Equal(t, isPush, delivered)
		if !ack {
			return
		}
		in, ok := parseNotification(b, "c")
		require.True(t, ok)
		require.Equal(t, snmpwire.PDUInformRequest, int(in.Type))
		m, err := snmpwire.ParseV2c(e.B)
		require.NoError(t, err)
		require.Equal(t, "c", string(m.Community))
		out, err := snmpwire.ParsePDU(m.PDU)
		require.NoError(t, err)
		require.Equal(t, snmpwire.PDUResponse, int(out.Type))
		require.Equal(t, in.RequestID, out.RequestID)
		require.Equal(t, in.VarBinds, out.VarBinds)
	})
}
