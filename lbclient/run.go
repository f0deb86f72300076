package lbclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/lbd-project/lbd/internal/atomicfile"
	"github.com/lbd-project/lbd/lbclient/agent"
)

// State is one completed evaluation (or the initial not-ready state).
type State struct {
	Ready bool
	At    time.Time
	Loads []AliasLoad // in configuration order
	Value agent.Value // Compiled.Compose(Loads)
}

// Evaluator evaluates the configuration's mappings and caches the result.
// Value never blocks on a check: it reads the last completed State
// atomically. See engine.go for how a round runs (bounded concurrency,
// per-round sharing of identical checks, hung checks).
type Evaluator struct {
	conf   atomic.Pointer[Compiled]
	log    logrus.FieldLogger
	cur    atomic.Pointer[State]
	mu     sync.Mutex // serializes Round
	last   map[string]AliasLoad
	hung   *hungTracker
	kick   chan struct{}
	notify func(st *State, changed []AliasLoad) // set before Loop starts
	runs   atomic.Int64                         // steps started in the last round
	step   stepObserver                         // set before Loop starts (metrics)

	lastCfg  *Compiled // guarded by mu: the configuration of lastOuts
	lastOuts []Outcome // guarded by mu: the outcomes of the last round, per mapping
	touch    chan struct{}
	touchMu  sync.Mutex
	touched  map[string]bool // guarded by touchMu: files changed since the last take
	touchAll bool            // guarded by touchMu: everything may have changed
}

// NewEvaluator returns an evaluator whose state is NotReady for every alias.
func NewEvaluator(cfg *Compiled, log logrus.FieldLogger) *Evaluator {
	if log == nil {
		l := logrus.New()
		l.SetOutput(os.Stderr)
		log = l
	}
	e := &Evaluator{log: log, hung: newHungTracker(), kick: make(chan struct{}, 1), touch: make(chan struct{}, 1)}
	e.conf.Store(cfg)
	st := &State{}
	for _, a := range cfg.Aliases() {
		st.Loads = append(st.Loads, AliasLoad{Alias: a, Metric: NotReady, Reason: "not evaluated yet"})
	}
	st.Value = cfg.Compose(st.Loads)
	e.cur.Store(st)
	return e
}

// State returns the latest state.
func (e *Evaluator) State() *State { return e.cur.Load() }

// Value returns the cached SNMP answer.
func (e *Evaluator) Value() agent.Value { return e.cur.Load().Value }

// Config returns the configuration the next round uses.
func (e *Evaluator) Config() *Compiled { return e.conf.Load() }

// SetConfig replaces the configuration: the next round (started at once by
// Loop) uses it; until it completes the previous answer is served.
func (e *Evaluator) SetConfig(cfg *Compiled) {
	e.conf.Store(cfg)
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// Round evaluates every mapping once (at most Compiled.Workers() at a time,
// identical checks shared), stores and returns the new state, logs alias
// state changes and reports usable/unusable changes to the push hook.
func (e *Evaluator) Round(ctx context.Context) *State {
	e.mu.Lock()
	defer e.mu.Unlock()
	cfg := e.conf.Load()
	return e.roundLocked(ctx, cfg, nil)
}

// roundLocked is Round with e.mu held; only, when not nil, selects the
// mappings to evaluate (the others keep e.lastOuts, which must be of cfg).
func (e *Evaluator) roundLocked(ctx context.Context, cfg *Compiled, only []bool) *State {
	ms := cfg.Mappings()
	rc := newRound(e.hung)
	rc.step = e.step
	var outs []Outcome
	if only == nil {
		outs = evaluateAll(ctx, ms, cfg.Workers(), cfg.Agent.Root, cfg.DefaultLoad, rc)
	} else {
		var sub []*Mapping
		for i, m := range ms {
			if only[i] {
				sub = append(sub, m)
			}
		}
		subOuts := evaluateAll(ctx, sub, cfg.Workers(), cfg.Agent.Root, cfg.DefaultLoad, rc)
		outs = slices.Clone(e.lastOuts)
		j := 0
		for i := range ms {
			if only[i] {
				outs[i] = subOuts[j]
				j++
			}
		}
	}
	e.runs.Store(int64(rc.runs))
	byAlias := map[string]AliasLoad{}
	for i, m := range ms {
		o := outs[i]
		for _, a := range m.Aliases {
			byAlias[a] = AliasLoad{Alias: a, Metric: o.Metric, Reason: o.Reason, Step: o.Step, Hard: o.Hard, Mapping: m.Name}
		}
	}
	st := &State{Ready: true, At: time.Now()}
	for _, a := range cfg.Aliases() {
		st.Loads = append(st.Loads, byAlias[a])
	}
	st.Value = cfg.Compose(st.Loads)
	if ctx.Err() != nil { // interrupted: results are not trustworthy, keep the last state
		return st
	}
	prev := e.cur.Swap(st)
	e.lastCfg, e.lastOuts = cfg, outs
	e.logChanges(st)
	if e.notify != nil {
		if changed := usabilityChanges(prev, st); len(changed) > 0 {
			e.notify(st, changed)
		}
	}
	return st
}

// usabilityChanges lists the aliases of st whose usability (1..99999)
// differs from prev (an alias absent from prev counts as not ready).
func usabilityChanges(prev, st *State) []AliasLoad {
	was := map[string]bool{}
	if prev != nil {
		for _, l := range prev.Loads {
			was[l.Alias] = Outcome{Metric: l.Metric}.Usable()
		}
	}
	var out []AliasLoad
	for _, l := range st.Loads {
		if (Outcome{Metric: l.Metric}).Usable() != was[l.Alias] {
			out = append(out, l)
		}
	}
	return out
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

// Loop runs Round now and then every interval until ctx is done; SetConfig
// starts a round at once (and a changed interval takes effect); Touch
// starts at once a round of the mappings that read the changed files
// (watch.go).
func (e *Evaluator) Loop(ctx context.Context) {
	interval := e.Config().Interval()
	t := time.NewTicker(interval)
	defer t.Stop()
	var changed []string // nil: a full round
	for {
		if changed == nil {
			e.Round(ctx)
		} else {
			e.RoundChanged(ctx, changed)
		}
		changed = nil
		if iv := e.Config().Interval(); iv != interval {
			interval = iv
			t.Reset(iv)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-e.kick:
		case <-e.touch:
			changed = e.takeTouched()
		}
	}
}

// Agent is a running lbclient: evaluator, SNMP responder with one socket
// per listen address, and the optional pusher.
type Agent struct {
	Evaluator *Evaluator
	// Responder is the responder created at start; a Reload that changes
	// the SNMP settings replaces it (see CurrentResponder).
	Responder *agent.Responder

	log    logrus.FieldLogger
	ctx    context.Context
	resp   atomic.Pointer[agent.Responder]
	push   atomic.Pointer[pusher]
	reg    atomic.Pointer[registrar]
	watch  *watcher // nil: no inotify (watch.go)
	conns  []*net.UDPConn
	wg     sync.WaitGroup
	errc   chan error
	cancel context.CancelFunc

	// checkLns are the agent_check_listen listeners (agentcheck.go).
	checkLns []net.Listener
	// agentCheckObserve counts agent-check results (metrics); may be nil.
	agentCheckObserve func(result string)

	reloadMu sync.Mutex
	cfg      *Compiled // guarded by reloadMu
	boots    uint32    // guarded by reloadMu
	loader   Loader    // guarded by reloadMu; re-reads the configuration
}

// Start binds every listen address, starts the evaluator, the SNMP
// responders and the pusher, and returns; Wait blocks until ctx is done.
// An error binding any address closes the others and is returned.
// A configuration read from a file (Compiled.File) is re-read with
// FileLoader by Reread unless SetLoader says otherwise.
func Start(ctx context.Context, cfg *Compiled, log logrus.FieldLogger) (*Agent, error) {
	if log == nil {
		log = logrus.StandardLogger()
	}
	bootsPath := cfg.BootsPath()
	boots, err := nextBoots(bootsPath)
	if err != nil {
		return nil, err
	}
	ev := NewEvaluator(cfg, log)
	r, err := newResponder(cfg, boots, ev.Value)
	if err != nil {
		return nil, err
	}
	a := &Agent{Evaluator: ev, Responder: r, log: log, cfg: cfg, boots: boots, errc: make(chan error, len(cfg.Agent.Listen)+len(cfg.Agent.AgentCheckListen))}
	if cfg.File != "" {
		a.loader = FileLoader(cfg.File)
	}
	a.resp.Store(r)
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
		a.conns = append(a.conns, c.(*net.UDPConn))
	}
	closeAll := func() {
		for _, c := range a.conns {
			c.Close()
		}
		for _, l := range a.checkLns {
			l.Close()
		}
	}
	if a.checkLns, err = listenAgentCheck(cfg.Agent.AgentCheckListen); err != nil {
		closeAll()
		return nil, err
	}
	ctx, a.cancel = context.WithCancel(ctx)
	a.ctx = ctx
	if err := a.startMetrics(ctx, cfg.Agent.MetricsListen); err != nil {
		a.cancel()
		closeAll()
		return nil, err
	}
	f := log.WithField("listen", strings.Join(cfg.Agent.Listen, " "))
	if bootsPath == "" {
		f.Warn("snmpEngineBoots is not persisted (set [agent] boots_file, or run under systemd with StateDirectory=): it restarts at 1")
	}
	f.Info("lbclient agent started: " + r.String())
	if p := newPusher(ctx, cfg, log); p != nil {
		a.push.Store(p)
	}
	if r := newRegistrar(ctx, cfg, log); r != nil {
		a.reg.Store(r)
	}
	ev.notify = func(st *State, changed []AliasLoad) {
		if p := a.push.Load(); p != nil {
			p.notify(st, changed)
		}
	}
	if a.watch = newWatcher(cfg, ev, log); a.watch != nil { // before the first round: no change is missed
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			a.watch.run(ctx)
		}()
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		ev.Loop(ctx)
	}()
	for _, c := range a.conns {
		a.wg.Add(1)
		go func(c *net.UDPConn) {
			defer a.wg.Done()
			if err := a.serve(ctx, c); err != nil {
				log.WithField("listen", c.LocalAddr().String()).WithError(err).Error("SNMP socket failed")
				a.errc <- fmt.Errorf("serve %s: %w", c.LocalAddr(), err)
				a.cancel()
			}
		}(c)
	}
	a.serveAgentCheck(ctx, cfg.Agent.AgentCheckListen)
	go func() {
		<-ctx.Done()
		closeAll()
	}()
	return a, nil
}

// newResponder builds the SNMP responder of cfg.
func newResponder(cfg *Compiled, boots uint32, value func() agent.Value) (*agent.Responder, error) {
	return agent.New(agent.Config{Community: cfg.Agent.Community, Users: cfg.agentUsers(),
		EngineID: cfg.EngineID(), Boots: boots}, value, nil)
}

// serve answers requests on c with the current responder until ctx is
// done or c is closed; on a wildcard socket each reply leaves from the
// address its request was sent to (agent.ServeWith).
func (a *Agent) serve(ctx context.Context, c *net.UDPConn) error {
	return agent.ServeWith(ctx, c, a.resp.Load)
}

// CurrentResponder returns the responder answering now.
func (a *Agent) CurrentResponder() *agent.Responder { return a.resp.Load() }

// Reload switches the running agent to cfg (validated by Load/Parse): the
// evaluator runs a round with it at once (the previous answer is served
// meanwhile); a change of community, users or engine ID makes a new
// responder with engine boots incremented (and persisted); a change of the
// push settings restarts the pusher. The listen addresses cannot change
// without a restart: Reload then returns an error and keeps running the
// old configuration, as it does for any error.
func (a *Agent) Reload(cfg *Compiled) error {
	if cfg == nil {
		return errors.New("reload: no configuration")
	}
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	old := a.cfg
	if !sameSet(old.Agent.Listen, cfg.Agent.Listen) {
		return fmt.Errorf("reload: listen addresses changed (%s → %s): restart lbclient to apply; keeping the running configuration",
			strings.Join(old.Agent.Listen, " "), strings.Join(cfg.Agent.Listen, " "))
	}
	if err := metricsListenChanged(old, cfg); err != nil {
		return err
	}
	if err := agentCheckListenChanged(old, cfg); err != nil {
		return err
	}
	if snmpChanged(old, cfg) {
		path := cfg.BootsPath()
		boots := a.boots + 1
		if path != "" {
			b, err := nextBoots(path)
			if err != nil {
				return fmt.Errorf("reload: %w", err)
			}
			boots = max(b, boots)
		}
		r, err := newResponder(cfg, boots, a.Evaluator.Value)
		if err != nil {
			return fmt.Errorf("reload: %w", err)
		}
		a.resp.Store(r)
		a.boots = boots
		a.log.WithField("boots", boots).Info("SNMP settings changed: " + r.String())
	}
	if pushChanged(old, cfg) {
		if p := a.push.Swap(newPusher(a.ctx, cfg, a.log)); p != nil {
			p.close()
		}
	}
	if registerChanged(old, cfg) {
		if r := a.reg.Swap(newRegistrar(a.ctx, cfg, a.log)); r != nil {
			r.close()
		}
	}
	a.cfg = cfg
	if a.watch != nil {
		a.watch.setConfig(cfg)
	}
	a.Evaluator.SetConfig(cfg)
	a.log.WithField("file", cfg.File).Info("configuration reloaded")
	return nil
}

// SetLoader sets how Reread (SIGHUP under Run) reads the configuration
// again; nil: it cannot.
func (a *Agent) SetLoader(l Loader) {
	a.reloadMu.Lock()
	a.loader = l
	a.reloadMu.Unlock()
}

// Reread reads the configuration again with the agent's Loader and applies
// it (Reload); an error is logged and the running configuration kept.
func (a *Agent) Reread() error {
	a.reloadMu.Lock()
	l := a.loader
	a.reloadMu.Unlock()
	var cfg *Compiled
	err := errors.New("the configuration was not read from a file")
	if l != nil {
		cfg, err = l.Load()
	}
	if err == nil {
		err = a.Reload(cfg)
	}
	if err != nil {
		a.log.WithError(err).Error("reload failed; keeping the running configuration")
	}
	return err
}

func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

func snmpChanged(a, b *Compiled) bool {
	return a.Agent.Community != b.Agent.Community || !slices.Equal(a.agentUsers(), b.agentUsers()) ||
		!bytes.Equal(a.EngineID(), b.EngineID())
}

func pushChanged(a, b *Compiled) bool {
	x, y := a.pushSettings(), b.pushSettings()
	return !slices.Equal(x.targets, y.targets) || x.community != y.community || x.inform != y.inform ||
		x.timeout != y.timeout || x.retries != y.retries
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
	if p := a.push.Load(); p != nil {
		p.close()
	}
	select {
	case err := <-a.errc:
		return err
	default:
		return nil
	}
}

// runReady, when set (tests), is called once Run handles SIGHUP.
var runReady func(*Agent)

// Run is Start then Wait; meanwhile SIGHUP reloads the configuration
// with loader (nil: FileLoader(cfg.File) when cfg was read from a file),
// keeping the running one if the new one is invalid.
func Run(ctx context.Context, cfg *Compiled, loader Loader, log logrus.FieldLogger) error {
	a, err := Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	if loader != nil {
		a.SetLoader(loader)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	done := make(chan struct{})
	if runReady != nil {
		runReady(a)
	}
	go func() {
		for {
			select {
			case <-hup:
				_ = a.Reread()
			case <-done:
				return
			}
		}
	}()
	err = a.Wait()
	close(done)
	return err
}

// nextBoots reads snmpEngineBoots from file, increments it and writes it
// back (RFC 3414 §2.2.2: boots grows on every restart). No file name → 1;
// a missing file starts at 1.
func nextBoots(file string) (uint32, error) {
	if file == "" {
		return 1, nil
	}
	hint := func(err error) error {
		return fmt.Errorf("engine boots file %s: %w (set [agent] boots_file to a file in a directory writable by lbclient, e.g. /var/lib/lbclient/boots)", file, err)
	}
	var boots uint64
	data, err := os.ReadFile(file)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return 0, hint(err)
	default:
		boots, err = strconv.ParseUint(strings.TrimSpace(string(data)), 10, 32)
		if err != nil {
			return 0, hint(err)
		}
	}
	boots++
	if boots >= 1<<31-1 { // RFC 3414: stays at 2^31-1 and needs new keys; restart from 1 instead
		boots = 1
	}
	if err := atomicfile.Write(file, []byte(strconv.FormatUint(boots, 10)+"\n"), 0o644); err != nil {
		return 0, hint(err)
	}
	return uint32(boots), nil
}
