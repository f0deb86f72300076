package snmp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lbd-project/lbd/internal/snmpwire"
	"github.com/lbd-project/lbd/internal/testenv/snmpagent"
	"github.com/lbd-project/lbd/internal/tomlconf"
	"github.com/lbd-project/lbd/lbclient/agent"
	"github.com/lbd-project/lbd/lbclient/sim"
)

const testPassword = "test-password"

var md5User = []agent.User{{Name: "loadbalancing", AuthProtocol: "md5", AuthPassword: testPassword}}

func v3md5(port int, timeout time.Duration, retries int) Config {
	return Config{Version: "3", Port: port, User: "loadbalancing", AuthProtocol: "md5",
		AuthPassword: testPassword, Timeout: tomlconf.Duration{Duration: timeout}, Retries: retries}
}

// counter counts client events per kind.
type counter struct {
	mu sync.Mutex
	n  map[clientEvent]int
}

func countEvents(p *Poller) *counter {
	c := &counter{n: map[clientEvent]int{}}
	p.client.hook = func(ev clientEvent, _ netip.AddrPort) {
		c.mu.Lock()
		c.n[ev]++
		c.mu.Unlock()
	}
	return c
}

func (c *counter) get(ev clientEvent) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[ev]
}

func TestEngineCache(t *testing.T) {
	port := freeUDPPort(t)
	snmpagent.Start(t, "127.0.0.51", port, agent.Config{Users: md5User, EngineID: agent.EngineIDFor("e51"), Boots: 1}, agent.Value{Int: 5})
	p, _ := NewPoller(v3md5(port, time.Second, 1), 4)
	defer p.Close()
	ev := countEvents(p)
	var offset atomic.Int64
	p.client.now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	for i := 0; i < 3; i++ {
		if v, err := p.Get(context.Background(), ip("127.0.0.51")); err != nil || v.Int != 5 {
			t.Fatalf("poll %d: %v %v", i, v, err)
		}
	}
	if n := ev.get(evDiscovery); n != 1 {
		t.Fatalf("%d discoveries for 3 polls, want 1", n)
	}
	if n := ev.get(evSend); n != 4 {
		t.Fatalf("%d datagrams for 1 discovery + 3 GETs", n)
	}
	// An entry not confirmed for engineTTL is discovered again; the
	// agent's clock did not move, so only a fresh discovery can succeed.
	offset.Store(int64(engineTTL + time.Minute))
	if _, err := p.Get(context.Background(), ip("127.0.0.51")); err != nil {
		t.Fatal(err)
	}
	if n := ev.get(evDiscovery); n != 2 {
		t.Fatalf("%d discoveries after expiry, want 2", n)
	}
}

// An agent restarted with boots+1 answers the old boots with an
// authenticated notInTimeWindows report; one with a new engine ID with
// unknownEngineIDs. Both are recovered within the same Get, without a new
// discovery exchange.
func TestEngineReboot(t *testing.T) {
	port := freeUDPPort(t)
	const addr = "127.0.0.52"
	id := agent.EngineIDFor("e52")
	stop := snmpagent.Start(t, addr, port, agent.Config{Users: md5User, EngineID: id, Boots: 1}, agent.Value{Int: 1})
	p, _ := NewPoller(v3md5(port, time.Second, 0), 4)
	defer p.Close()
	ev := countEvents(p)
	if _, err := p.Get(context.Background(), ip(addr)); err != nil {
		t.Fatal(err)
	}
	stop()
	stop = snmpagent.Start(t, addr, port, agent.Config{Users: md5User, EngineID: id, Boots: 2}, agent.Value{Int: 2})
	if v, err := p.Get(context.Background(), ip(addr)); err != nil || v.Int != 2 {
		t.Fatalf("after reboot: %v %v", v, err)
	}
	if d, r := ev.get(evDiscovery), ev.get(evResync); d != 1 || r != 1 {
		t.Fatalf("discoveries %d resyncs %d, want 1 and 1", d, r)
	}
	if e, _ := p.client.lookupEngine(netip.AddrPortFrom(ip(addr), uint16(port)), time.Now()); e.boots != 2 {
		t.Fatalf("cached boots %d", e.boots)
	}
	stop()
	snmpagent.Start(t, addr, port, agent.Config{Users: md5User, EngineID: agent.EngineIDFor("other"), Boots: 1}, agent.Value{Int: 3})
	if v, err := p.Get(context.Background(), ip(addr)); err != nil || v.Int != 3 {
		t.Fatalf("after engine ID change: %v %v", v, err)
	}
	if d, r := ev.get(evDiscovery), ev.get(evResync); d != 1 || r != 2 {
		t.Fatalf("discoveries %d resyncs %d, want 1 and 2", d, r)
	}
}

// relay answers requests to listen with a real agent's reply, sent from
// the sockets in from (the wrong source when from excludes listen).
func relay(t *testing.T, listen string, r *agent.Responder, from ...string) {
	t.Helper()
	in, err := net.ListenPacket("udp4", listen)
	if err != nil {
		t.Fatal(err)
	}
	var outs []net.PacketConn
	for _, f := range from {
		if f == listen {
			outs = append(outs, in)
			continue
		}
		o, err := net.ListenPacket("udp4", f)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, o)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for i := 0; i < 1000; i++ {
			n, src, err := in.ReadFrom(buf)
			if err != nil {
				return
			}
			reply, ok := r.Handle(buf[:n])
			if !ok {
				continue
			}
			for _, o := range outs {
				o.WriteTo(reply, src)
			}
		}
	}()
	t.Cleanup(func() {
		in.Close()
		for _, o := range outs {
			o.Close()
		}
		<-done
	})
}

func TestReplyFromWrongSourceIgnored(t *testing.T) {
	port := freeUDPPort(t)
	other := freeUDPPort(t)
	hp := func(h string, p int) string { return net.JoinHostPort(h, itoa(p)) }
	for _, version := range []string{"2c", "3"} {
		t.Run("v"+version, func(t *testing.T) {
			r, err := agent.New(agent.Config{Community: "public", Users: md5User, EngineID: agent.EngineIDFor("relay"), Boots: 1},
				func() agent.Value { return agent.Value{Int: 9} }, nil)
			if err != nil {
				t.Fatal(err)
			}
			cfg := v3md5(port, 300*time.Millisecond, 0)
			if version == "2c" {
				cfg = Config{Version: "2c", Community: "public", Port: port, Timeout: tomlconf.Duration{Duration: 300 * time.Millisecond}}
			}
			// .61 answers only from another address and from another port.
			relay(t, hp("127.0.0.61", port), r, hp("127.0.0.62", port), hp("127.0.0.61", other))
			// .63 answers from a wrong source first, then correctly.
			relay(t, hp("127.0.0.63", port), r, hp("127.0.0.64", port), hp("127.0.0.63", port))
			p, _ := NewPoller(cfg, 4)
			defer p.Close()
			got := p.PollAll(context.Background(), []netip.Addr{ip("127.0.0.61"), ip("127.0.0.63")})
			var te *timeoutError
			if r := got[ip("127.0.0.61")]; !errors.As(r.Err, &te) {
				t.Errorf("reply from a wrong source accepted: %+v", r)
			}
			if r := got[ip("127.0.0.63")]; r.Err != nil || r.Value.Int != 9 {
				t.Errorf("good reply after a wrong-source one: %+v", r)
			}
		})
	}
}

// reply is an SNMPv3 reply crafted by a test responder.
type reply struct {
	msgID     uint32
	reqID     int64
	flags     byte
	engineID  []byte
	boots     uint32
	time      uint32
	user      string
	key       *snmpwire.AuthKey
	priv      *snmpwire.PrivKey
	pduType   byte
	errStatus int64
	oid       []byte
	valTag    byte
	val       []byte
	reportOID []byte
	badMAC    bool
}

func (r reply) encode() []byte {
	var e snmpwire.Encoder
	w := e.BeginV3(&snmpwire.V3Header{MsgID: int64(r.msgID), MaxSize: 65507, Flags: r.flags, EngineID: r.engineID,
		Boots: r.boots, Time: r.time, UserName: []byte(r.user), Auth: r.key, Priv: r.priv, Salt: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}})
	e.Raw(snmpwire.TagOctetString, r.engineID)
	e.Raw(snmpwire.TagOctetString, nil)
	pt := r.pduType
	if pt == 0 {
		pt = snmpwire.PDUResponse
	}
	pd := e.Open(pt)
	e.Int(snmpwire.TagInteger, r.reqID)
	e.Int(snmpwire.TagInteger, r.errStatus)
	e.Int(snmpwire.TagInteger, 0)
	l := e.Open(snmpwire.TagSequence)
	v := e.Open(snmpwire.TagSequence)
	if r.reportOID != nil {
		e.Raw(snmpwire.TagOID, r.reportOID)
		e.Uint(snmpwire.TagCounter32, 1)
	} else {
		oid := r.oid
		if oid == nil {
			oid = loadOIDBytes
		}
		e.Raw(snmpwire.TagOID, oid)
		e.Raw(r.valTag, r.val)
	}
	e.Close(v)
	e.Close(l)
	e.Close(pd)
	e.EndV3(&w)
	if r.badMAC && r.flags&snmpwire.FlagAuth != 0 {
		m, err := snmpwire.ParseV3(e.B)
		if err != nil {
			panic(err)
		}
		e.B[snmpwire.Offset(e.B, m.AuthParams)] ^= 1
	}
	return e.B
}

// crafted serves GETs on listen by answering each request with the
// datagrams replies(req) returns, where req is the good reply to it.
func crafted(t *testing.T, listen string, key *snmpwire.AuthKey, engineID []byte, replies func(good reply) []reply) {
	t.Helper()
	in, err := net.ListenPacket("udp4", listen)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for i := 0; i < 1000; i++ {
			n, src, err := in.ReadFrom(buf)
			if err != nil {
				return
			}
			m, err := snmpwire.ParseV3(buf[:n])
			if err != nil {
				continue
			}
			s, err := snmpwire.ParseScopedPDU(m.Data)
			if err != nil {
				continue
			}
			good := reply{msgID: uint32(m.MsgID), reqID: int64(s.PDU.RequestID), flags: snmpwire.FlagAuth, engineID: engineID,
				boots: m.Boots, time: m.Time, user: string(m.UserName), key: key,
				valTag: snmpwire.TagInteger, val: []byte{42}}
			for _, r := range replies(good) {
				in.WriteTo(r.encode(), src)
			}
		}
	}()
	t.Cleanup(func() { in.Close(); <-done })
}

// seedEngine puts an engine in p's cache as if discovered at boots 1, time
// 1000.
func seedEngine(t *testing.T, p *Poller, ap netip.AddrPort, engineID []byte) *snmpwire.AuthKey {
	t.Helper()
	now := time.Now()
	eng, err := p.client.withKeys(engine{id: engineID, boots: 1, time: 1000, at: now, confirmed: now}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.client.storeEngine(ap, eng)
	return eng.auth
}

// Replies that fail a D9 check are dropped and the request keeps waiting;
// authentic wrong answers are failures.
func TestV3ReplyChecks(t *testing.T) {
	port := freeUDPPort(t)
	engineID := agent.EngineIDFor("crafted")
	wrongKey, _ := snmpwire.LocalAuthKey(snmpwire.AuthMD5, "another-password", engineID)
	bad := func(g reply) []reply {
		wrongMsg, wrongReq, badMAC, oldBoots, lateTime, unauth, wrongKeyR, report, getReq := g, g, g, g, g, g, g, g, g
		wrongMsg.msgID++
		wrongReq.reqID++
		badMAC.badMAC = true
		oldBoots.boots--
		lateTime.time += 151
		unauth.flags = 0
		wrongKeyR.key = wrongKey
		report.pduType, report.reportOID = snmpwire.PDUReport, snmpwire.OIDUnsupportedSecLevels
		report.flags = snmpwire.FlagAuth
		report.engineID = []byte("elsewhere")
		getReq.pduType = snmpwire.PDUGetRequest
		return []reply{wrongMsg, wrongReq, badMAC, oldBoots, lateTime, unauth, wrongKeyR, report, getReq}
	}
	cases := []struct {
		name    string
		replies func(g reply) []reply
		want    Value
		drops   int
		errLike string
	}{
		{"bad replies then the good one", func(g reply) []reply { return append(bad(g), g) }, Value{Int: 42}, 8, ""},
		{"only bad replies", bad, Value{}, 8, "last reply dropped"},
		{"string", func(g reply) []reply {
			g.valTag, g.val = snmpwire.TagOctetString, []byte("a=1")
			return []reply{g}
		}, Value{IsString: true, Str: "a=1"}, 0, ""},
		{"gauge", func(g reply) []reply { g.valTag, g.val = snmpwire.TagGauge32, []byte{0, 0x80}; return []reply{g} }, Value{Int: 128}, 0, ""},
		{"counter too large", func(g reply) []reply {
			g.valTag, g.val = snmpwire.TagCounter32, []byte{0, 0x80, 0, 0, 0}
			return []reply{g}
		}, Value{}, 0, "out of range"},
		{"noSuchObject", func(g reply) []reply { g.valTag, g.val = snmpwire.TagNoSuchObject, nil; return []reply{g} }, Value{}, 0, "noSuchObject"},
		{"noSuchInstance", func(g reply) []reply { g.valTag, g.val = snmpwire.TagNoSuchInstance, nil; return []reply{g} }, Value{}, 0, "noSuchInstance"},
		{"other type", func(g reply) []reply { g.valTag, g.val = snmpwire.TagTimeTicks, []byte{1}; return []reply{g} }, Value{}, 0, "TimeTicks"},
		{"error-status", func(g reply) []reply { g.errStatus = 5; return []reply{g} }, Value{}, 0, "genErr"},
		{"wrong OID", func(g reply) []reply { g.oid = []byte{0x2b, 6, 1}; return []reply{g} }, Value{}, 0, "response for OID .1.3.6.1"},
		{"wrong digest report", func(g reply) []reply {
			g.flags, g.pduType, g.reportOID = 0, snmpwire.PDUReport, snmpwire.OIDWrongDigests
			return []reply{g}
		}, Value{}, 0, "usmStatsWrongDigests"},
		{"time window report then the good one", func(g reply) []reply {
			if g.boots == 7 {
				return []reply{g}
			}
			g.pduType, g.reportOID, g.boots, g.time = snmpwire.PDUReport, snmpwire.OIDNotInTimeWindows, 7, 5
			return []reply{g}
		}, Value{Int: 42}, 0, ""},
		{"time window reports only", func(g reply) []reply {
			g.pduType, g.reportOID, g.boots, g.time = snmpwire.PDUReport, snmpwire.OIDNotInTimeWindows, g.boots+1, 5
			return []reply{g}
		}, Value{}, 0, "again after a resynchronisation"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			addr := netip.AddrFrom4([4]byte{127, 0, 1, byte(10 + i)})
			ap := netip.AddrPortFrom(addr, uint16(port))
			p, _ := NewPoller(v3md5(port, 300*time.Millisecond, 0), 1)
			defer p.Close()
			key := seedEngine(t, p, ap, engineID)
			crafted(t, ap.String(), key, engineID, c.replies)
			ev := countEvents(p)
			v, err := p.Get(context.Background(), addr)
			if c.errLike == "" && (err != nil || v != c.want) {
				t.Fatalf("got %+v %v, want %+v", v, err, c.want)
			}
			if c.errLike != "" && (err == nil || !strings.Contains(err.Error(), c.errLike)) {
				t.Fatalf("got %+v %v, want an error like %q", v, err, c.errLike)
			}
			if n := ev.get(evDrop); n != c.drops {
				t.Fatalf("%d replies dropped, want %d", n, c.drops)
			}
			if ev.get(evDiscovery) != 0 {
				t.Fatal("discovery despite a cached engine")
			}
		})
	}
}

func TestV2cReplyChecks(t *testing.T) {
	enc := func(version int64, community string, typ byte, reqID, status int64, oid []byte, tag byte, val []byte, extra bool) []byte {
		var e snmpwire.Encoder
		m := e.Open(snmpwire.TagSequence)
		e.Int(snmpwire.TagInteger, version)
		e.String(community)
		p := e.Open(typ)
		e.Int(snmpwire.TagInteger, reqID)
		e.Int(snmpwire.TagInteger, status)
		e.Int(snmpwire.TagInteger, 0)
		l := e.Open(snmpwire.TagSequence)
		v := e.Open(snmpwire.TagSequence)
		e.Raw(snmpwire.TagOID, oid)
		e.Raw(tag, val)
		e.Close(v)
		if extra {
			e.B = append(e.B, e.B[v-2:]...)
		}
		e.Close(l)
		e.Close(p)
		e.Close(m)
		return e.B
	}
	o := loadOIDBytes
	for _, c := range []struct {
		name  string
		msg   []byte
		want  Value
		final bool
		err   string
	}{
		{"integer", enc(1, "public", 0xa2, 7, 0, o, 2, []byte{0xf3}, false), Value{Int: -13}, true, ""},
		{"string", enc(1, "public", 0xa2, 7, 0, o, 4, []byte("a=1"), false), Value{IsString: true, Str: "a=1"}, true, ""},
		{"int too large", enc(1, "public", 0xa2, 7, 0, o, 2, []byte{1, 0, 0, 0, 0}, false), Value{}, true, "32-bit"},
		{"two varbinds", enc(1, "public", 0xa2, 7, 0, o, 2, []byte{1}, true), Value{}, true, "more than one"},
		{"error-status", enc(1, "public", 0xa2, 7, 2, o, 5, nil, false), Value{}, true, "noSuchName"},
		{"wrong request-id", enc(1, "public", 0xa2, 8, 0, o, 2, []byte{1}, false), Value{}, false, "request-id"},
		{"wrong community", enc(1, "private", 0xa2, 7, 0, o, 2, []byte{1}, false), Value{}, false, "community"},
		{"v1", enc(0, "public", 0xa2, 7, 0, o, 2, []byte{1}, false), Value{}, false, "version"},
		{"not a response", enc(1, "public", 0xa0, 7, 0, o, 2, []byte{1}, false), Value{}, false, "PDU type"},
		{"truncated", enc(1, "public", 0xa2, 7, 0, o, 2, []byte{1}, false)[:20], Value{}, false, "malformed"},
	} {
		v, final, err := checkV2cReply(c.msg, "public", 7)
		if v != c.want || final != c.final || (c.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: %+v %v %v", c.name, v, final, err)
		}
	}
}

// With 10 % of the members silent, every silent address is in flight
// before the first per-address deadline passes, and each gets exactly
// 1+retries datagrams: the cycle costs about one deadline. Events are
// ordered by a sequence number, not by the clock.
func TestSilentMembersCostOneDeadline(t *testing.T) {
	port := freeUDPPort(t)
	farm, err := sim.New(sim.Config{Members: 60, Aliases: 6, Port: port, Seed: 3, Silent: 0.1,
		Base: netip.MustParseAddr("127.0.2.1"), Users: md5User})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); farm.Wait() }()
	if err := farm.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var addrs []netip.Addr
	silent := map[netip.AddrPort]bool{}
	for _, m := range farm.Members {
		addrs = append(addrs, m.Addr)
		if m.Fault == sim.Silent {
			silent[netip.AddrPortFrom(m.Addr, uint16(port))] = true
		}
	}
	if len(silent) != 6 {
		t.Fatalf("%d silent members", len(silent))
	}
	const retries = 1
	p, _ := NewPoller(v3md5(port, 150*time.Millisecond, retries), 2) // workers=2: in flight is still ≥ MinInFlight
	defer p.Close()
	var (
		mu        sync.Mutex
		seq       int
		lastFirst int       // sequence of the last first datagram to a silent address
		firstGive = 1 << 30 // sequence of the first give-up
		sends     = map[netip.AddrPort]int{}
	)
	p.client.hook = func(ev clientEvent, ap netip.AddrPort) {
		mu.Lock()
		defer mu.Unlock()
		seq++
		switch ev {
		case evSend:
			sends[ap]++
			if silent[ap] && sends[ap] == 1 {
				lastFirst = seq
			}
		case evGiveUp:
			firstGive = min(firstGive, seq)
		}
	}
	res := p.PollAll(ctx, addrs)
	for _, a := range addrs {
		ap := netip.AddrPortFrom(a, uint16(port))
		if (res[a].Err != nil) != silent[ap] {
			t.Errorf("%s silent=%v: %+v", a, silent[ap], res[a])
		}
		if silent[ap] && sends[ap] != 1+retries {
			t.Errorf("%s: %d datagrams, want %d", a, sends[ap], 1+retries)
		}
	}
	if lastFirst > firstGive {
		t.Fatalf("a silent address was first polled (event %d) after another gave up (event %d): serial delay", lastFirst, firstGive)
	}
	if p.inFlight() < MinInFlight {
		t.Fatal("in-flight bound below MinInFlight")
	}
}

func TestResolveCache(t *testing.T) {
	p, _ := NewPoller(Config{Version: "2c", Community: "public", Port: 161, Timeout: tomlconf.Duration{Duration: time.Second}}, 4)
	defer p.Close()
	var now atomic.Int64
	base := time.Now()
	p.now = func() time.Time { return base.Add(time.Duration(now.Load())) }
	var calls atomic.Int32
	p.Resolve = func(_ context.Context, host string) ([]netip.Addr, error) {
		calls.Add(1)
		if host == "bad.example" {
			return nil, errors.New("NXDOMAIN")
		}
		return []netip.Addr{ip("192.0.2.1"), netip.MustParseAddr("::ffff:192.0.2.1"), ip("2001:db8::1")}, nil
	}
	hosts := []string{"good.example", "bad.example", "good.example", "192.0.2.9"}
	resolveN := func(wantCalls int32) {
		t.Helper()
		calls.Store(0)
		addrs, errs := p.ResolveAll(context.Background(), hosts)
		if calls.Load() != wantCalls {
			t.Fatalf("%d resolver calls, want %d", calls.Load(), wantCalls)
		}
		if len(addrs["good.example"]) != 2 || errs["bad.example"] == nil || len(addrs["bad.example"]) != 0 ||
			addrs["192.0.2.9"][0] != ip("192.0.2.9") || len(errs) != 1 {
			t.Fatalf("%v %v", addrs, errs)
		}
	}
	resolveN(2)
	resolveN(0) // both cached
	now.Store(int64(ResolveNegativeTTL + time.Second))
	resolveN(1) // the failure expired
	now.Store(int64(ResolveTTL + time.Second))
	resolveN(2) // both expired
}

func TestCloseAndReopen(t *testing.T) {
	port := freeUDPPort(t)
	snmpagent.Start(t, "127.0.0.53", port, agent.Config{Community: "public", EngineID: agent.EngineIDFor("c"), Boots: 1}, agent.Value{Int: 1})
	p, _ := NewPoller(Config{Version: "2c", Community: "public", Port: port, Timeout: tomlconf.Duration{Duration: time.Second}}, 4)
	if _, err := p.Get(context.Background(), ip("127.0.0.53")); err != nil {
		t.Fatal(err)
	}
	// The idle close releases the sockets; the next poll reopens them.
	p.client.mu.Lock()
	p.client.closeSocketsLocked()
	p.client.mu.Unlock()
	if _, err := p.Get(context.Background(), ip("127.0.0.53")); err != nil {
		t.Fatal(err)
	}
	p.Close()
	p.Close()
	if r := p.PollAll(context.Background(), []netip.Addr{ip("127.0.0.53")})[ip("127.0.0.53")]; !errors.Is(r.Err, errClosed) {
		t.Fatalf("poll after Close: %+v", r)
	}
	if p.client.socks[0] != nil {
		t.Fatal("socket left open after Close")
	}
}

func TestCancelledContext(t *testing.T) {
	p, _ := NewPoller(v3md5(freeUDPPort(t), 5*time.Second, 2), 4)
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	if r := p.PollAll(ctx, []netip.Addr{ip("127.0.0.54")})[ip("127.0.0.54")]; !errors.Is(r.Err, context.Canceled) {
		t.Fatalf("%+v", r)
	}
}
func ip(s string) netip.Addr { return netip.MustParseAddr(s) }
