package lbclient

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/lbd-project/lbd/lbclient/agentcheck"
)

// [agent] agent_check_*: HAProxy's agent check (package agentcheck,
// docs/operations.md "HAProxy agent-check"), answered from the same
// evaluation as SNMP.

func checkAgentCheck(p *problems, a *AgentConfig, aliases []string) {
	ports := map[int]bool{}
	seen := map[netip.AddrPort]bool{}
	for i, l := range a.AgentCheckListen {
		k := fmt.Sprintf("agent.agent_check_listen[%d]", i)
		ap, err := netip.ParseAddrPort(l)
		switch {
		case err != nil:
			p.bad(k, "%q is not an ip:port address (IPv6 in brackets), e.g. \"0.0.0.0:9777\": %v", l, err)
		case ap.Port() == 0:
			p.bad(k, "%q: port 0", l)
		case seen[ap]:
			p.bad(k, "%q listed twice", l)
		case l == a.MetricsListen:
			p.bad(k, "%q is also metrics_listen", l)
		}
		seen[ap] = true
		ports[int(ap.Port())] = true
	}
	keys := make([]string, 0, len(a.AgentCheckPortAlias))
	for k := range a.AgentCheckPortAlias {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, port := range keys {
		alias := a.AgentCheckPortAlias[port]
		k := "agent.agent_check_port_alias." + port
		n, err := strconv.Atoi(port)
		switch {
		case err != nil || n < 1 || n > 65535:
			p.bad(k, "%q is not a port number", port)
		case !ports[n]:
			p.bad(k, "port %d is not the port of an agent_check_listen address", n)
		case !slices.ContainsFunc(aliases, func(x string) bool { return canonical(x) == canonical(alias) }):
			p.bad(k, "%q is not a configured [[alias]] name", alias)
		}
	}
	for _, w := range []struct{ key, val string }{{"agent.agent_check_drained", a.AgentCheckDrained}, {"agent.agent_check_unusable", a.AgentCheckUnusable}} {
		if _, ok := agentcheck.ParseWord(w.val); !ok {
			p.bad(w.key, "%q is not one of drain, maint, down", w.val)
		}
	}
	if a.AgentCheckFullLoad < 1 || a.AgentCheckFullLoad > 99999 {
		p.bad("agent.agent_check_full_load", "%d: want 1..99999 (default %d)", a.AgentCheckFullLoad, agentcheck.DefaultFullLoad)
	}
}

// agentCheckSettings are the compiled agent-check settings (Compile).
type agentCheckSettings struct {
	policy agentcheck.Policy
	ports  map[int]string
}

func compileAgentCheck(a AgentConfig) agentCheckSettings {
	s := agentCheckSettings{policy: agentcheck.Policy{FullLoad: a.AgentCheckFullLoad}, ports: map[int]string{}}
	s.policy.Drained, _ = agentcheck.ParseWord(a.AgentCheckDrained)
	s.policy.Unusable, _ = agentcheck.ParseWord(a.AgentCheckUnusable)
	for port, alias := range a.AgentCheckPortAlias {
		if n, err := strconv.Atoi(port); err == nil {
			s.ports[n] = alias
		}
	}
	return s // Answer falls back to the defaults for unset words
}

// checkTable is the agentcheck.Table of one configuration and state.
type checkTable struct {
	cfg *Compiled
	st  *State
}

func (t checkTable) Policy() agentcheck.Policy { return t.cfg.agentCheck.policy }

func (t checkTable) PortAlias(port int) (string, bool) {
	a, ok := t.cfg.agentCheck.ports[port]
	return a, ok
}

func (t checkTable) Single() (string, bool) {
	if len(t.cfg.aliases) != 1 {
		return "", false
	}
	return t.cfg.aliases[0], true
}

// Status is the alias's load in the last round; an alias configured but
// not evaluated yet (added by a reload) is not ready.
func (t checkTable) Status(alias string) (agentcheck.Status, bool) {
	want := canonical(alias)
	if !slices.ContainsFunc(t.cfg.aliases, func(a string) bool { return canonical(a) == want }) {
		return agentcheck.Status{}, false
	}
	for _, l := range t.st.Loads {
		if canonical(l.Alias) == want {
			return agentcheck.Status{Ready: t.st.Ready && l.Metric != NotReady, Metric: l.Metric, Reason: l.Reason}, true
		}
	}
	return agentcheck.Status{}, true
}

// agentCheckTable reads the evaluator's current configuration and state
// (atomically, without waiting for a round).
func (e *Evaluator) agentCheckTable() agentcheck.Table {
	return checkTable{cfg: e.Config(), st: e.State()}
}

// listenAgentCheck binds every agent_check_listen address (TCP).
func listenAgentCheck(addrs []string) ([]net.Listener, error) {
	var out []net.Listener
	for _, l := range addrs {
		network := "tcp4"
		if ap, err := netip.ParseAddrPort(l); err == nil && ap.Addr().Is6() && !ap.Addr().Is4In6() {
			network = "tcp6"
		}
		ln, err := net.Listen(network, l)
		if err != nil {
			for _, o := range out {
				o.Close()
			}
			return nil, fmt.Errorf("agent check listen %s: %w", l, err)
		}
		out = append(out, ln)
	}
	return out, nil
}

// serveAgentCheck answers agent checks on every listener until ctx is
// done; a listener failing stops the agent, like an SNMP socket.
func (a *Agent) serveAgentCheck(ctx context.Context, addrs []string) {
	if len(a.checkLns) == 0 {
		return
	}
	srv := &agentcheck.Server{Table: a.Evaluator.agentCheckTable, Observe: a.agentCheckObserve}
	for _, ln := range a.checkLns {
		a.wg.Add(1)
		go func(ln net.Listener) {
			defer a.wg.Done()
			if err := srv.Serve(ctx, ln); err != nil {
				a.log.WithField("agent_check_listen", ln.Addr().String()).WithError(err).Error("agent-check listener failed")
				a.errc <- fmt.Errorf("serve agent check %s: %w", ln.Addr(), err)
				a.cancel()
			}
		}(ln)
	}
	a.log.WithField("agent_check_listen", strings.Join(addrs, " ")).Info("answering HAProxy agent checks")
}

// agentCheckListenChanged is the reload error for changed agent-check
// listen addresses.
func agentCheckListenChanged(old, cfg *Compiled) error {
	if sameSet(old.Agent.AgentCheckListen, cfg.Agent.AgentCheckListen) {
		return nil
	}
	return fmt.Errorf("reload: agent_check_listen changed (%s → %s): restart lbclient to apply; keeping the running configuration",
		strings.Join(old.Agent.AgentCheckListen, " "), strings.Join(cfg.Agent.AgentCheckListen, " "))
}
