package lbclient

import (
	"context"
	"io"
	"log"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/sirupsen/logrus"

	"github.com/lbd-project/lbd/lbclient/agent"
)

// Push notifications (docs/design.md §1 "trap/inform on change"). See doc.go
// for the format.
const (
	// TrapOID is snmpTrapOID.0 of the "load changed" notification.
	TrapOID = ".1.3.6.1.4.1.96.255.2"
	// ChangedOID carries the aliases whose usability changed,
	// "alias=N,alias2=M" (same syntax as the composed answer).
	ChangedOID = ".1.3.6.1.4.1.96.255.3"

	sysUpTimeOID   = ".1.3.6.1.2.1.1.3.0"
	snmpTrapOIDOID = ".1.3.6.1.6.3.1.1.4.1.0"
	sysNameOID     = ".1.3.6.1.2.1.1.5.0"
)

// pushSettings is the push part of a Compiled, normalised.
type pushSettings struct {
	targets   []string
	community string
	inform    bool
	timeout   time.Duration
	retries   int
	// sources are the agent's specific listen addresses, by family: a
	// notification to an IPv4 (IPv6) target is sent from the IPv4 (IPv6)
	// one, so that lbd sees it come from the address it polls (lbd accepts
	// pushes only from its members' addresses unless told otherwise).
	source4, source6 string
}

func (c *Compiled) pushSettings() pushSettings {
	s := pushSettings{targets: c.Agent.Push, community: c.Agent.PushCommunity, inform: c.Agent.PushInform,
		timeout: c.Agent.PushTimeout.Duration, retries: DefaultPushRetries}
	if s.community == "" {
		s.community = c.Agent.Community
	}
	if s.community == "" {
		s.community = "public"
	}
	if s.timeout <= 0 {
		s.timeout = DefaultPushTimeout
	}
	if c.Agent.PushRetries != nil {
		s.retries = *c.Agent.PushRetries
	}
	for _, l := range c.Agent.Listen {
		host, _, err := net.SplitHostPort(l)
		a, perr := netip.ParseAddr(host)
		if err != nil || perr != nil || a.IsUnspecified() {
			continue
		}
		switch {
		case a.Unmap().Is4() && s.source4 == "":
			s.source4 = a.Unmap().String()
		case a.Is6() && !a.Is4In6() && s.source6 == "":
			s.source6 = a.String()
		}
	}
	return s
}

// pusher sends notifications to every target from one goroutine per
// target. notify never blocks: each target keeps only the newest pending
// notification (the changed aliases of superseded ones are merged in), so a
// slow or dead receiver delays nothing but its own notifications.
type pusher struct {
	set     pushSettings
	log     logrus.FieldLogger
	start   time.Time
	host    string
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	targets []*pushTarget
	once    sync.Once

	sent, failed atomic.Int64
}

type pushTarget struct {
	addr    string
	wake    chan struct{}
	mu      sync.Mutex
	pending *pushMsg
}

type pushMsg struct {
	value   agent.Value
	changed []AliasLoad
}

// newPusher starts the pusher of cfg, or returns nil if no push target is
// configured.
func newPusher(ctx context.Context, cfg *Compiled, lg logrus.FieldLogger) *pusher {
	set := cfg.pushSettings()
	if len(set.targets) == 0 {
		return nil
	}
	host, _ := os.Hostname()
	ctx, cancel := context.WithCancel(ctx)
	p := &pusher{set: set, log: lg, start: time.Now(), host: host, cancel: cancel}
	for _, addr := range set.targets {
		t := &pushTarget{addr: addr, wake: make(chan struct{}, 1)}
		p.targets = append(p.targets, t)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.run(ctx, t)
		}()
	}
	return p
}

// close stops the pusher's goroutines (an inform in flight is abandoned).
func (p *pusher) close() {
	p.once.Do(func() {
		p.cancel()
		p.wg.Wait()
	})
}

// notify queues a notification with st's answer and the changed aliases.
func (p *pusher) notify(st *State, changed []AliasLoad) {
	for _, t := range p.targets {
		t.mu.Lock()
		if t.pending == nil {
			t.pending = &pushMsg{value: st.Value, changed: append([]AliasLoad(nil), changed...)}
		} else {
			t.pending.value = st.Value
			t.pending.changed = mergeChanged(t.pending.changed, changed)
		}
		t.mu.Unlock()
		select {
		case t.wake <- struct{}{}:
		default:
		}
	}
}

// mergeChanged adds the entries of b to a, replacing an alias's older entry.
func mergeChanged(a, b []AliasLoad) []AliasLoad {
	for _, l := range b {
		replaced := false
		for i := range a {
			if a[i].Alias == l.Alias {
				a[i], replaced = l, true
			}
		}
		if !replaced {
			a = append(a, l)
		}
	}
	return a
}

func (p *pusher) run(ctx context.Context, t *pushTarget) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.wake:
		}
		t.mu.Lock()
		m := t.pending
		t.pending = nil
		t.mu.Unlock()
		if m == nil {
			continue
		}
		if err := p.send(ctx, t.addr, m); err != nil {
			p.failed.Add(1)
			if ctx.Err() == nil {
				p.log.WithFields(logrus.Fields{"push": t.addr, "changed": changedString(m.changed)}).WithError(err).Warn("push notification failed")
			}
			continue
		}
		p.sent.Add(1)
	}
}

// varbinds builds the notification's variable bindings.
func (p *pusher) varbinds(m *pushMsg) []gosnmp.SnmpPDU {
	up := time.Since(p.start) / (10 * time.Millisecond)
	vbs := []gosnmp.SnmpPDU{
		{Name: sysUpTimeOID, Type: gosnmp.TimeTicks, Value: uint32(up)},
		{Name: snmpTrapOIDOID, Type: gosnmp.ObjectIdentifier, Value: TrapOID},
	}
	if m.value.IsString {
		vbs = append(vbs, gosnmp.SnmpPDU{Name: agent.OID, Type: gosnmp.OctetString, Value: m.value.Str})
	} else {
		vbs = append(vbs, gosnmp.SnmpPDU{Name: agent.OID, Type: gosnmp.Integer, Value: int(m.value.Int)})
	}
	vbs = append(vbs,
		gosnmp.SnmpPDU{Name: ChangedOID, Type: gosnmp.OctetString, Value: changedString(m.changed)},
		gosnmp.SnmpPDU{Name: sysNameOID, Type: gosnmp.OctetString, Value: p.host})
	return vbs
}

func changedString(ls []AliasLoad) string { return joinLoads(ls) }

// send sends one SNMPv2c trap, or inform (waiting for the acknowledgement,
// at most 1+retries attempts of timeout each).
func (p *pusher) send(ctx context.Context, addr string, m *pushMsg) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return err
	}
	g := &gosnmp.GoSNMP{
		Target: host, Port: uint16(n), Transport: "udp", Community: p.set.community,
		Version: gosnmp.Version2c, Timeout: p.set.timeout, Retries: p.set.retries, Context: ctx,
		MaxOids: gosnmp.MaxOids, Logger: gosnmp.NewLogger(log.New(io.Discard, "", 0)),
	}
	if a, err := netip.ParseAddr(host); err == nil {
		src := p.set.source4
		if a.Is6() && !a.Is4In6() {
			src = p.set.source6
		}
		if src != "" {
			g.LocalAddr = net.JoinHostPort(src, "0")
		}
	}
	if err := g.Connect(); err != nil {
		return err
	}
	defer g.Conn.Close()
	_, err = g.SendTrap(gosnmp.SnmpTrap{Variables: p.varbinds(m), IsInform: p.set.inform})
	return err
}
