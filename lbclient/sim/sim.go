package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/lbd-project/lbd/lbclient/agent"
)

// Fault is how a simulated member misbehaves.
type Fault int

// Faults.
const (
	Healthy Fault = iota
	Silent        // never answers
	Slow          // answers after Config.SlowDelay
	Garbage       // answers with bytes that are not SNMP
)

func (f Fault) String() string {
	return [...]string{"healthy", "silent", "slow", "garbage"}[f]
}

// Config describes a farm.
type Config struct {
	Members int
	Aliases int
	// Base is the first member address (default 127.1.0.1); members get
	// consecutive addresses, skipping .0 and .255 last octets.
	Base netip.Addr
	Port int
	// Community enables v2c (always on when set); Users enable v3.
	Community string
	Users     []agent.User
	// Fractions of members with each fault, chosen deterministically from Seed.
	Silent, Garbage, Slow float64
	SlowDelay             time.Duration
	// Zone the alias names are generated under: alias0001.<Zone>.
	Zone string
	// Walk is the period of the load random walk (0 = loads never change).
	Walk time.Duration
	Seed int64
	// PerAddress opens one socket per member bound to its address instead
	// of the one wildcard socket (each member costs a file descriptor).
	PerAddress bool
	// Readers is the number of goroutines reading the wildcard socket
	// (0 = GOMAXPROCS, between 2 and 8).
	Readers int
}

// Member is one simulated agent.
type Member struct {
	Addr    netip.Addr
	Aliases []string // the aliases it reports (one entry per alias)
	Fault   Fault
	load    atomic.Int32
	resp    *agent.Responder
	conn    net.PacketConn
}

// Load is the member's current load.
func (m *Member) Load() int { return int(m.load.Load()) }

// SetLoad changes the member's load (tests, scripts).
func (m *Member) SetLoad(n int) { m.load.Store(int32(n)) }

func (m *Member) value() agent.Value {
	n := m.load.Load()
	if len(m.Aliases) == 1 {
		return agent.Value{IsString: true, Str: m.Aliases[0] + "=" + strconv.Itoa(int(n))}
	}
	var b strings.Builder
	for i, a := range m.Aliases {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(a)
		b.WriteByte('=')
		b.WriteString(strconv.Itoa(int(n)))
	}
	return agent.Value{IsString: true, Str: b.String()}
}

// Farm is a running set of members.
type Farm struct {
	cfg     Config
	Members []*Member
	// AliasMembers maps each alias to its members' addresses.
	AliasMembers map[string][]netip.Addr
	AliasNames   []string
	wg           sync.WaitGroup
	shared       *net.UDPConn // the wildcard socket, nil with one socket per member
	port         int
	closeOnce    sync.Once
}

// AliasName is the name of alias i (0-based) under zone.
func AliasName(i int, zone string) string {
	return fmt.Sprintf("alias%04d.%s", i+1, strings.TrimSuffix(zone, "."))
}

// Addr returns the address of member i.
func Addr(base netip.Addr, i int) netip.Addr {
	b := base.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	// Skip .0 and .255: 254 usable last octets per /24.
	off := uint32(i)
	first := v & 0xff
	if first == 0 {
		first = 1
	}
	idx := (first - 1) + off
	v = v&^0xff + (idx/254)<<8 + idx%254 + 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// New lays out the farm (addresses, aliases, faults, initial loads) without
// opening sockets. Member i serves alias i mod Aliases.
func New(cfg Config) (*Farm, error) {
	if cfg.Members < 1 {
		return nil, errors.New("sim: at least one member")
	}
	if cfg.Aliases < 1 || cfg.Aliases > cfg.Members {
		return nil, fmt.Errorf("sim: aliases must be 1..members (%d), not %d", cfg.Members, cfg.Aliases)
	}
	if !cfg.Base.IsValid() {
		cfg.Base = netip.MustParseAddr("127.1.0.1")
	}
	if !cfg.Base.Is4() || !cfg.Base.IsLoopback() {
		return nil, fmt.Errorf("sim: base %s must be an IPv4 loopback address", cfg.Base)
	}
	last := Addr(cfg.Base, cfg.Members-1)
	if !last.IsLoopback() {
		return nil, fmt.Errorf("sim: %d members do not fit in 127/8 from %s", cfg.Members, cfg.Base)
	}
	if cfg.Silent+cfg.Garbage+cfg.Slow > 1 || cfg.Silent < 0 || cfg.Garbage < 0 || cfg.Slow < 0 {
		return nil, errors.New("sim: fault fractions must be ≥ 0 and sum to ≤ 1")
	}
	if cfg.Zone == "" {
		cfg.Zone = "lb.sim"
	}
	if cfg.SlowDelay == 0 {
		cfg.SlowDelay = 1500 * time.Millisecond
	}
	f := &Farm{cfg: cfg, AliasMembers: map[string][]netip.Addr{}}
	for i := 0; i < cfg.Aliases; i++ {
		f.AliasNames = append(f.AliasNames, AliasName(i, cfg.Zone))
	}
	rng := rand.New(rand.NewSource(cfg.Seed))
	faults := make([]Fault, cfg.Members)
	nSilent := int(cfg.Silent * float64(cfg.Members))
	nGarbage := int(cfg.Garbage * float64(cfg.Members))
	nSlow := int(cfg.Slow * float64(cfg.Members))
	perm := rng.Perm(cfg.Members)
	for k, i := range perm {
		switch {
		case k < nSilent:
			faults[i] = Silent
		case k < nSilent+nGarbage:
			faults[i] = Garbage
		case k < nSilent+nGarbage+nSlow:
			faults[i] = Slow
		}
	}
	for i := 0; i < cfg.Members; i++ {
		alias := f.AliasNames[i%cfg.Aliases]
		m := &Member{Addr: Addr(cfg.Base, i), Aliases: []string{alias}, Fault: faults[i]}
		m.load.Store(int32(1 + rng.Intn(1000)))
		f.Members = append(f.Members, m)
		f.AliasMembers[alias] = append(f.AliasMembers[alias], m.Addr)
	}
	return f, nil
}

// Start opens the farm's socket(s) and serves until ctx ends. It returns
// once every member listens.
//
// By default every member is served by one wildcard UDP socket bound to
// 0.0.0.0:Port: each request is dispatched by its destination address
// (IP_PKTINFO) to that member's agent state, and answered from that
// address, so a farm of any size costs one file descriptor (100,000
// members would not fit in RLIMIT_NOFILE with one socket each). When the
// wildcard port cannot be bound (another socket holds Port on some
// address) or Config.PerAddress is set, each member gets its own socket
// bound to its address, the layout before issue 13.
func (f *Farm) Start(ctx context.Context) error {
	for _, m := range f.Members {
		r, err := agent.New(agent.Config{Community: f.cfg.Community, Users: f.cfg.Users,
			EngineID: agent.EngineIDFor("lbsim/" + m.Addr.String()), Boots: 1}, m.value, nil)
		if err != nil {
			return fmt.Errorf("sim: member %s: %w", m.Addr, err)
		}
		m.resp = r
	}
	if f.cfg.PerAddress {
		if err := f.listenPerAddress(); err != nil {
			return err
		}
	} else if err := f.listenShared(); err != nil {
		if !errors.Is(err, syscall.EADDRINUSE) {
			return err
		}
		if perr := f.listenPerAddress(); perr != nil {
			return fmt.Errorf("%w (and one socket per member: %w)", err, perr)
		}
	}
	if f.shared != nil {
		readers := f.cfg.Readers
		if readers <= 0 {
			readers = min(max(runtime.GOMAXPROCS(0), 2), 8)
		}
		for i := 0; i < readers; i++ {
			f.wg.Add(1)
			go func(i int) {
				defer f.wg.Done()
				f.serveShared(ctx, i)
			}(i)
		}
	} else {
		for _, m := range f.Members {
			f.wg.Add(1)
			go func(m *Member) {
				defer f.wg.Done()
				f.serve(ctx, m)
			}(m)
		}
	}
	if f.cfg.Walk > 0 {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.walk(ctx)
		}()
	}
	go func() {
		<-ctx.Done()
		f.Close()
	}()
	return nil
}

// listenShared binds the wildcard socket and asks for each datagram's
// destination address (IP_PKTINFO, see lbclient/agent/pktinfo.go and
// docs/protocol.md §3.4 item 1: a poller on a connected socket drops a
// reply that does not come from the address it polled). Only members'
// addresses are answered, all in 127/8, which Linux accepts only on the
// loopback interface (RFC 1122 §3.2.1.3).
func (f *Farm) listenShared() error {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero, Port: f.cfg.Port})
	if err != nil {
		return fmt.Errorf("sim: wildcard socket: %w", err)
	}
	if err := ipv4.NewPacketConn(c).SetControlMessage(ipv4.FlagDst, true); err != nil {
		c.Close()
		return fmt.Errorf("sim: wildcard socket: IP_PKTINFO: %w", err)
	}
	// One receive queue for the whole farm: make it as deep as allowed
	// (net.core.rmem_max) so that a poll burst is not dropped.
	_ = c.SetReadBuffer(8 << 20)
	_ = c.SetWriteBuffer(4 << 20)
	f.shared = c
	f.port = c.LocalAddr().(*net.UDPAddr).Port
	return nil
}

// listenPerAddress opens one socket per member, bound to its address.
func (f *Farm) listenPerAddress() error {
	for _, m := range f.Members {
		c, err := net.ListenPacket("udp4", netip.AddrPortFrom(m.Addr, uint16(f.cfg.Port)).String())
		if err != nil {
			f.Close()
			return fmt.Errorf("sim: member %s: %w", m.Addr, err)
		}
		m.conn = c
	}
	f.port = f.cfg.Port
	if f.port == 0 && len(f.Members) == 1 {
		f.port = f.Members[0].conn.LocalAddr().(*net.UDPAddr).Port
	}
	return nil
}

// Port is the UDP port the members answer on (the chosen one when
// Config.Port is 0 and the farm shares one socket).
func (f *Farm) Port() int { return f.port }

// Sockets is the number of sockets the farm holds open.
func (f *Farm) Sockets() int {
	if f.shared != nil {
		return 1
	}
	n := 0
	for _, m := range f.Members {
		if m.conn != nil {
			n++
		}
	}
	return n
}

// Wait blocks until every goroutine of the farm has stopped.
func (f *Farm) Wait() { f.wg.Wait() }

// Close closes every socket.
func (f *Farm) Close() {
	f.closeOnce.Do(func() {
		if f.shared != nil {
			f.shared.Close()
		}
		for _, m := range f.Members {
			if m.conn != nil {
				m.conn.Close()
			}
		}
	})
}

// member is the member at address a, nil when a is none of the farm's.
func (f *Farm) member(a netip.Addr) *Member {
	i, ok := Index(f.cfg.Base, a)
	if !ok || i >= len(f.Members) {
		return nil
	}
	return f.Members[i]
}

// Index is the inverse of Addr: the i with Addr(base, i) == a.
func Index(base, a netip.Addr) (int, bool) {
	if !base.Is4() || !a.Is4() {
		return 0, false
	}
	b, x := base.As4(), a.As4()
	bv := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8
	v := uint32(x[0])<<24 | uint32(x[1])<<16 | uint32(x[2])<<8 | uint32(x[3])
	first := uint32(b[3])
	if first == 0 {
		first = 1
	}
	if v < bv {
		return 0, false
	}
	d := v - bv
	lo := d & 0xff
	if lo == 0 || lo == 255 {
		return 0, false
	}
	idx := uint64(d>>8)*254 + uint64(lo-1)
	if idx < uint64(first-1) || idx-uint64(first-1) > math.MaxInt32 {
		return 0, false
	}
	return int(idx - uint64(first-1)), true
}

// reaction is what a member does with one request: nothing (silent, or an
// invalid request), a reply now, or a reply after SlowDelay.
func (f *Farm) react(m *Member, req []byte, out []byte, rng *rand.Rand) (reply []byte, late, ok bool) {
	switch m.Fault {
	case Silent:
		return nil, false, false
	case Garbage:
		g := make([]byte, 8+rng.Intn(120))
		rng.Read(g)
		if rng.Intn(2) == 0 {
			// A plausible BER SEQUENCE header with a lying length.
			g[0], g[1] = 0x30, 0x82
		}
		return g, false, true
	}
	reply, ok = m.resp.HandleAppend(out[:0], req)
	return reply, ok && m.Fault == Slow, ok
}

// later sends reply after SlowDelay unless ctx ends first.
func (f *Farm) later(ctx context.Context, reply []byte, send func([]byte)) {
	reply = append([]byte(nil), reply...)
	go func() {
		t := time.NewTimer(f.cfg.SlowDelay)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
			send(reply)
		}
	}()
}

// serveShared is one reader of the wildcard socket.
func (f *Farm) serveShared(ctx context.Context, shard int) {
	c := f.shared
	buf := make([]byte, 65536)
	oob := make([]byte, 128)
	out := make([]byte, 0, agent.MaxMessage+256)
	rng := rand.New(rand.NewSource(f.cfg.Seed + int64(shard)))
	for {
		n, oobn, _, from, err := c.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			continue // e.g. a truncated datagram: keep serving
		}
		var cm ipv4.ControlMessage
		if cm.Parse(oob[:oobn]) != nil || cm.Dst == nil {
			continue
		}
		dst, ok := netip.AddrFromSlice(cm.Dst.To4())
		if !ok {
			continue
		}
		m := f.member(dst)
		if m == nil {
			continue // not a member: as if nothing listened there
		}
		reply, late, ok := f.react(m, buf[:n], out, rng)
		if !ok {
			continue
		}
		src := (&ipv4.ControlMessage{Src: cm.Dst}).Marshal()
		if late {
			f.later(ctx, reply, func(b []byte) { _, _, _ = c.WriteMsgUDPAddrPort(b, src, from) })
			continue
		}
		_, _, _ = c.WriteMsgUDPAddrPort(reply, src, from)
	}
}

// serve is a member's own socket (Config.PerAddress).
func (f *Farm) serve(ctx context.Context, m *Member) {
	if m.Fault == Healthy {
		m.resp.Serve(ctx, m.conn)
		return
	}
	buf := make([]byte, 65536)
	var out []byte
	rng := rand.New(rand.NewSource(int64(m.Addr.As4()[3]) + f.cfg.Seed))
	for {
		n, from, err := m.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		reply, late, ok := f.react(m, buf[:n], out, rng)
		if !ok {
			continue
		}
		if late {
			f.later(ctx, reply, func(b []byte) { m.conn.WriteTo(b, from) })
			continue
		}
		m.conn.WriteTo(reply, from)
	}
}

// walk moves every load by -5..+5 (bounded to 1..1000) each period.
func (f *Farm) walk(ctx context.Context) {
	rng := rand.New(rand.NewSource(f.cfg.Seed + 1))
	t := time.NewTicker(f.cfg.Walk)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, m := range f.Members {
			n := int(m.load.Load()) + rng.Intn(11) - 5
			m.load.Store(int32(min(max(n, 1), 1000)))
		}
	}
}

// EmitConfig writes one [[alias]] table per alias (members as IP
// literals, zone = Zone), ready to append to an lbd.toml.
func (f *Farm) EmitConfig(w io.Writer) error {
	for _, a := range f.AliasNames {
		var b strings.Builder
		fmt.Fprintf(&b, "[[alias]]\nname = %q\nzone = %q\nmembers = [", a, strings.TrimSuffix(f.cfg.Zone, "."))
		for i, m := range f.AliasMembers[a] {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q", m.String())
		}
		b.WriteString("]\n\n")
		if _, err := io.WriteString(w, b.String()); err != nil {
			return err
		}
	}
	return nil
}
