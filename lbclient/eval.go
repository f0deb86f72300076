package lbclient

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lbd-project/lbd/checks"
	"github.com/lbd-project/lbd/lbclient/agent"
)

// Codes of our own, outside docs/protocol.md's 1..19.
const (
	// NotReady is answered for every alias until the first evaluation
	// round has completed.
	NotReady = -100
	// CheckHung is a check or load abandoned because it did not return
	// within its timeout plus HangGrace.
	CheckHung = -101
	// ConfigError is what a mapping reports when its configuration cannot
	// be evaluated (the legacy formats: an unparsable line, an unreadable
	// file, a listed alias without a default file), and the answer when no
	// configuration could be loaded at all (BrokenConfig).
	ConfigError = -102
)

// HangGrace is how long a step may overrun its timeout before it is
// abandoned (a well-behaved check returns on its own at the timeout).
var HangGrace = time.Second

// Step is one built check or load of a mapping.
type Step struct {
	Key   string // configuration key, e.g. "alias[1].loads[0]"
	Spec  checks.Spec
	Check checks.Check
	Load  bool
}

// Mapping is a set of steps serving one or more aliases.
type Mapping struct {
	// Default marks the [default] mapping (Env.Alias is "").
	Default bool
	// Name is the alias of an alias-specific mapping.
	Name string
	// Aliases are the aliases answered with this mapping's metric.
	Aliases []string
	Steps   []Step
}

// Outcome is the result of evaluating a mapping.
type Outcome struct {
	Metric int
	Reason string
	// Step is the key of the step that decided a failure, else "".
	Step string
	Hard bool
}

// Usable reports whether the metric is a usable load (1..99999).
func (o Outcome) Usable() bool { return o.Metric >= 1 && o.Metric <= 99999 }

// Evaluate runs the mapping once (docs/protocol.md §5.2): checks and loads in
// order, each under its timeout (DefaultTimeout if unset); the first
// failure gives -Code and stops; loads are summed; a sum of 0 becomes
// defaultLoad(root) (1 if defaultLoad is nil).
func (m *Mapping) Evaluate(ctx context.Context, root string, defaultLoad func(string) int) Outcome {
	return m.evaluate(ctx, root, defaultLoad, nil)
}

// runStep runs one step under its timeout; hung is set when it did not
// return within the timeout plus HangGrace (its goroutine is abandoned and,
// with a tracker, recorded under key until it returns).
func runStep(ctx context.Context, s Step, env checks.Env, key string, h *hungTracker) (r checks.Result, hung bool) {
	to := s.Spec.Timeout
	if to <= 0 {
		to = DefaultTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, to)
	defer cancel()
	done := make(chan checks.Result, 1)
	var abandoned sync.Mutex // held while deciding; the goroutine clears the tracker after
	var gone bool
	go func() {
		defer func() {
			abandoned.Lock()
			if gone && h != nil {
				h.clear(key)
			}
			abandoned.Unlock()
		}()
		defer func() {
			if p := recover(); p != nil {
				done <- checks.Result{Code: -CheckHung, Hard: true, Reason: fmt.Sprintf("panic: %v", p)}
			}
		}()
		done <- s.Check.Run(cctx, env)
	}()
	t := time.NewTimer(to + HangGrace)
	defer t.Stop()
	select {
	case r = <-done:
		return r, false
	case <-t.C:
		abandoned.Lock()
		select {
		case r = <-done: // returned just now
			abandoned.Unlock()
			return r, false
		default:
		}
		gone = true
		if h != nil {
			h.set(key, time.Now())
		}
		abandoned.Unlock()
		return checks.Result{}, true
	}
}

// AliasLoad is one alias's metric.
type AliasLoad struct {
	Alias   string
	Metric  int
	Reason  string
	Step    string
	Hard    bool
	Mapping string // alias name of its mapping, "" for the default mapping
}

// Compose builds the SNMP answer (docs/protocol.md §5.7): exactly one alias →
// INTEGER; otherwise an OCTET STRING "a=N,b=M" listing every alias in order.
func Compose(loads []AliasLoad) agent.Value {
	if len(loads) == 1 {
		return agent.Value{Int: clamp32(loads[0].Metric)}
	}
	return agent.Value{IsString: true, Str: joinLoads(loads)}
}

// ComposePerMapping is the legacy output composition (docs/protocol.md §5.7):
// exactly one mapping → INTEGER, that mapping's metric (loads[0]), even if
// it serves several aliases; zero or ≥ 2 mappings → OCTET STRING
// "alias=metric,..." over loads in order (empty for none). It differs from
// Compose (the TOML rule: exactly one alias → INTEGER) only for one mapping
// serving several aliases.
func ComposePerMapping(mappings int, loads []AliasLoad) agent.Value {
	if mappings == 1 && len(loads) > 0 {
		return agent.Value{Int: clamp32(loads[0].Metric)}
	}
	return agent.Value{IsString: true, Str: joinLoads(loads)}
}

// joinLoads renders loads as "alias=N,alias2=M" (docs/protocol.md §3.4 item 6: no
// spaces, plain signed integers).
func joinLoads(loads []AliasLoad) string {
	var b strings.Builder
	for i, l := range loads {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(l.Alias)
		b.WriteByte('=')
		b.WriteString(strconv.Itoa(int(clamp32(l.Metric))))
	}
	return b.String()
}

func clamp32(v int) int32 {
	switch {
	case v > math.MaxInt32:
		return math.MaxInt32
	case v < math.MinInt32:
		return math.MinInt32
	}
	return int32(v)
}
