package lbd

import (
	"context"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/sirupsen/logrus"
)

func TestPushTrapPokesAlias(t *testing.T) {
	cfg, err := Parse("push.toml", []byte(minimal+"[[alias]]\nname = \"b.example.org\"\nmembers = [\"127.0.0.3\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	d, err := New(cfg, "h", log)
	if err != nil {
		t.Fatal(err)
	}
	// Both aliases evaluated: not due for a polling interval.
	for _, st := range d.aliases {
		st.nextDue = time.Now().Add(time.Hour)
	}
	port := freeUDPPort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.listenPush(ctx, addr, "pushc") }()
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
	due := func(name string) bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.aliases[name].nextDue.IsZero()
	}
	// Wrong community and wrong trap OID are ignored; a push naming b wakes it.
	var woke bool
	for i := 0; i < 50 && !woke; i++ { // the listener may not be up yet: bounded resend
		send("wrong", PushTrapOID, "b.example.org=-1")
		send("pushc", ".1.3.6.1.4.1.96.255.99", "b.example.org=-1")
		send("pushc", PushTrapOID, "b.example.org=-1,unknown.example.org=5")
		select {
		case <-d.wake:
			woke = true
		case <-time.After(100 * time.Millisecond):
		}
	}
	if !woke || !due("b.example.org") || due("a.example.org") {
		t.Fatalf("woke %v, b due %v, a due %v", woke, due("b.example.org"), due("a.example.org"))
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
	d := testDaemon(t, quickConfig(t))
	for i := 0; i < 20; i++ {
		addr := "127.0.0.1:" + strconv.Itoa(freeUDPPort(t))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := d.listenPush(ctx, addr, "c"); err != nil {
			t.Fatal(err)
		}
		c, err := net.ListenPacket("udp", addr)
		if err != nil {
			t.Fatalf("try %d: push socket still bound after listenPush returned: %v", i, err)
		}
		c.Close()
	}
}
