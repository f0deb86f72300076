package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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

// Start opens every member's socket and serves until ctx ends. It returns
// once every member listens.
func (f *Farm) Start(ctx context.Context) error {
	for _, m := range f.Members {
		r, err := agent.New(agent.Config{Community: f.cfg.Community, Users: f.cfg.Users,
			EngineID: agent.EngineIDFor("lbsim/" + m.Addr.String()), Boots: 1}, m.value, nil)
		if err != nil {
			f.Close()
			return fmt.Errorf("sim: member %s: %w", m.Addr, err)
		}
		m.resp = r
		c, err := net.ListenPacket("udp4", netip.AddrPortFrom(m.Addr, uint16(f.cfg.Port)).String())
		if err != nil {
			f.Close()
			return fmt.Errorf("sim: member %s: %w", m.Addr, err)
		}
		m.conn = c
	}
	for _, m := range f.Members {
		f.wg.Add(1)
		go func(m *Member) {
			defer f.wg.Done()
			f.serve(ctx, m)
		}(m)
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

// Wait blocks until every goroutine of the farm has stopped.
func (f *Farm) Wait() { f.wg.Wait() }

// Close closes every socket.
func (f *Farm) Close() {
	for _, m := range f.Members {
		if m.conn != nil {
			m.conn.Close()
		}
	}
}

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
		switch m.Fault {
		case Silent:
			continue
		case Garbage:
			g := make([]byte, 8+rng.Intn(120))
			rng.Read(g)
			if rng.Intn(2) == 0 {
				// A plausible BER SEQUENCE header with a lying length.
				g[0], g[1] = 0x30, 0x82
			}
			m.conn.WriteTo(g, from)
		case Slow:
			reply, ok := m.resp.HandleAppend(out[:0], buf[:n])
			if !ok {
				continue
			}
			reply = append([]byte(nil), reply...)
			go func(reply []byte, from net.Addr) {
				t := time.NewTimer(f.cfg.SlowDelay)
				defer t.Stop()
				select {
				case <-ctx.Done():
				case <-t.C:
					m.conn.WriteTo(reply, from)
				}
			}(reply, from)
		}
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
