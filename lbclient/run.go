package lbclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/lbd-project/lbd/lbclient/agent"
)

// State is one completed evaluation (or the initial not-ready state).
type State struct {
	Ready bool
	At    time.Time
	Loads []AliasLoad // in configuration order
	Value agent.Value // Compose(Loads)
}

// Evaluator evaluates the configuration's mappings and caches the result.
// Value never blocks on a check.
type Evaluator struct {
	cfg  *Config
	log  logrus.FieldLogger
	cur  atomic.Pointer[State]
	mu   sync.Mutex // serializes Round
	last map[string]AliasLoad
}

// NewEvaluator returns an evaluator whose state is NotReady for every alias.
func NewEvaluator(cfg *Config, log logrus.FieldLogger) *Evaluator {
	if log == nil {
		l := logrus.New()
		l.SetOutput(os.Stderr)
		log = l
	}
	e := &Evaluator{cfg: cfg, log: log}
	st := &State{}
	for _, a := range cfg.Aliases() {
		st.Loads = append(st.Loads, AliasLoad{Alias: a, Metric: NotReady, Reason: "not evaluated yet"})
	}
	st.Value = Compose(st.Loads)
	e.cur.Store(st)
	return e
}

// State returns the latest state.
func (e *Evaluator) State() *State { return e.cur.Load() }

// Value returns the cached SNMP answer.
func (e *Evaluator) Value() agent.Value { return e.cur.Load().Value }

// Round evaluates every mapping once, stores and returns the new state, and
// logs alias state changes.
func (e *Evaluator) Round(ctx context.Context) *State {
	e.mu.Lock()
	defer e.mu.Unlock()
	byAlias := map[string]AliasLoad{}
	for _, m := range e.cfg.Mappings() {
		o := m.Evaluate(ctx, e.cfg.Agent.Root, e.cfg.DefaultLoad)
		for _, a := range m.Aliases {
			byAlias[a] = AliasLoad{Alias: a, Metric: o.Metric, Reason: o.Reason, Step: o.Step, Hard: o.Hard, Mapping: m.Name}
		}
	}
	st := &State{Ready: true, At: time.Now()}
	for _, a := range e.cfg.Aliases() {
		st.Loads = append(st.Loads, byAlias[a])
	}
	st.Value = Compose(st.Loads)
	if ctx.Err() != nil { // interrupted: results are not trustworthy, keep the last state
		return st
	}
	e.cur.Store(st)
	e.logChanges(st)
	return st
}

// logChanges logs an alias when it becomes usable or unusable, or when its
// failure changes; load changes of a usable alias are logged at debug.
func (e *Evaluator) logChanges(st *State) {
	if e.last == nil {
		e.last = map[string]AliasLoad{}
	}
	for _, l := range st.Loads {
		prev, seen := e.last[l.Alias]
		e.last[l.Alias] = l
		usable := Outcome{Metric: l.Metric}.Usable()
		f := e.log.WithFields(logrus.Fields{"alias": l.Alias, "load": l.Metric})
		if l.Step != "" {
			f = f.WithField("check", l.Step)
		}
		switch {
		case seen && usable && (Outcome{Metric: prev.Metric}).Usable():
			if prev.Metric != l.Metric {
				f.Debug(l.Reason)
			}
		case seen && prev.Metric == l.Metric && prev.Step == l.Step:
		case l.Hard:
			f.Warn("error: " + l.Reason)
		case usable:
			f.Info("usable: " + l.Reason)
		default:
			f.Info("unusable: " + l.Reason)
		}
	}
}

// Loop runs Round now and then every interval until ctx is done.
func (e *Evaluator) Loop(ctx context.Context) {
	t := time.NewTicker(e.cfg.Interval())
	defer t.Stop()
	for {
		e.Round(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Agent is a running lbclient: evaluator plus one SNMP socket per listen
// address.
type Agent struct {
	Evaluator *Evaluator
	Responder *agent.Responder
	conns     []net.PacketConn
	wg        sync.WaitGroup
	errc      chan error
	cancel    context.CancelFunc
}

// Start binds every listen address, starts the evaluator and the SNMP
// responders, and returns; Wait blocks until ctx is done. An error binding
// any address closes the others and is returned.
func Start(ctx context.Context, cfg *Config, log logrus.FieldLogger) (*Agent, error) {
	if log == nil {
		log = logrus.StandardLogger()
	}
	boots, err := nextBoots(cfg.Agent.BootsFile)
	if err != nil {
		return nil, err
	}
	ev := NewEvaluator(cfg, log)
	r, err := agent.New(agent.Config{Community: cfg.Agent.Community, Users: cfg.agentUsers(),
		EngineID: cfg.EngineID(), Boots: boots}, ev.Value, nil)
	if err != nil {
		return nil, err
	}
	a := &Agent{Evaluator: ev, Responder: r, errc: make(chan error, len(cfg.Agent.Listen))}
	for _, l := range cfg.Agent.Listen {
		network := "udp4"
		if ap, err := netip.ParseAddrPort(l); err == nil && ap.Addr().Is6() && !ap.Addr().Is4In6() {
			network = "udp6"
		}
		c, err := net.ListenPacket(network, l)
		if err != nil {
			for _, c := range a.conns {
				c.Close()
			}
			return nil, fmt.Errorf("listen %s: %w", l, err)
		}
		a.conns = append(a.conns, c)
	}
	ctx, a.cancel = context.WithCancel(ctx)
	log.WithField("listen", strings.Join(cfg.Agent.Listen, " ")).Info("lbclient agent started: " + r.String())
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		ev.Loop(ctx)
	}()
	for _, c := range a.conns {
		a.wg.Add(1)
		go func(c net.PacketConn) {
			defer a.wg.Done()
			if err := r.Serve(ctx, c); err != nil {
				log.WithField("listen", c.LocalAddr().String()).WithError(err).Error("SNMP socket failed")
				a.errc <- fmt.Errorf("serve %s: %w", c.LocalAddr(), err)
				a.cancel()
			}
		}(c)
	}
	go func() {
		<-ctx.Done()
		for _, c := range a.conns {
			c.Close()
		}
	}()
	return a, nil
}

// Addrs returns the bound socket addresses.
func (a *Agent) Addrs() []net.Addr {
	out := make([]net.Addr, len(a.conns))
	for i, c := range a.conns {
		out[i] = c.LocalAddr()
	}
	return out
}

// Stop cancels the agent; Wait then returns.
func (a *Agent) Stop() { a.cancel() }

// Wait blocks until the agent has stopped (its context was cancelled or a
// socket failed) and returns the first socket error, if any. An evaluation
// round in progress is abandoned at its checks' timeouts.
func (a *Agent) Wait() error {
	a.wg.Wait()
	a.cancel()
	select {
	case err := <-a.errc:
		return err
	default:
		return nil
	}
}

// Run is Start then Wait.
func Run(ctx context.Context, cfg *Config, log logrus.FieldLogger) error {
	a, err := Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	return a.Wait()
}

// nextBoots reads snmpEngineBoots from file, increments it and writes it
// back (RFC 3414 §2.2.2: boots grows on every restart). No file → 1.
func nextBoots(file string) (uint32, error) {
	if file == "" {
		return 1, nil
	}
	var boots uint64
	data, err := os.ReadFile(file)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return 0, fmt.Errorf("boots file: %w", err)
	default:
		boots, err = strconv.ParseUint(strings.TrimSpace(string(data)), 10, 32)
		if err != nil {
			return 0, fmt.Errorf("boots file %s: %w", file, err)
		}
	}
	boots++
	if boots >= 1<<31-1 { // RFC 3414: stays at 2^31-1 and needs new keys; restart from 1 instead
		boots = 1
	}
	tmp := filepath.Join(filepath.Dir(file), "."+filepath.Base(file)+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.FormatUint(boots, 10)+"\n"), 0o644); err != nil {
		return 0, fmt.Errorf("boots file: %w", err)
	}
	if err := os.Rename(tmp, file); err != nil {
		return 0, fmt.Errorf("boots file: %w", err)
	}
	return uint32(boots), nil
}
