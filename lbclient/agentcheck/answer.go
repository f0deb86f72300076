package agentcheck

import (
	"fmt"
	"strings"

	"github.com/lbd-project/lbd/checks"
)

// Word is how an unusable alias is reported to HAProxy.
type Word string

// The words an unusable alias may be answered with.
const (
	// Drain keeps the server up but sends it no new connections (HAProxy
	// DRAIN; persistent sessions may still reach it).
	Drain Word = "drain"
	// Maint takes the server out entirely (HAProxy MAINT), health checks
	// included; the agent check goes on, so a later answer brings it back.
	Maint Word = "maint"
	// Down marks the server's health down (HAProxy DOWN, "agent" in the
	// check status).
	Down Word = "down"
)

// Words lists the valid Words, for messages.
var Words = []Word{Drain, Maint, Down}

// ParseWord parses a configured word (case-insensitive).
func ParseWord(s string) (Word, bool) {
	for _, w := range Words {
		if strings.EqualFold(s, string(w)) {
			return w, true
		}
	}
	return "", false
}

// Defaults of a Policy.
const (
	DefaultDrained  = Drain
	DefaultUnusable = Down
	DefaultFullLoad = 100
)

// Policy is how a Status becomes an answer.
type Policy struct {
	// Drained answers a member asked to leave: nologin, roger, reboot,
	// and not ready yet (DefaultDrained).
	Drained Word
	// Unusable answers every other unusable state (DefaultUnusable).
	Unusable Word
	// FullLoad is the load at or below which the weight is 100 %
	// (DefaultFullLoad when < 1).
	FullLoad int
}

// DefaultPolicy is the Policy of an unset configuration.
func DefaultPolicy() Policy {
	return Policy{Drained: DefaultDrained, Unusable: DefaultUnusable, FullLoad: DefaultFullLoad}
}

// Status is what the agent knows of one alias.
type Status struct {
	// Ready is false until the alias has been evaluated once.
	Ready bool
	// Metric is the alias's answer as in SNMP: a load 1..99999, or a
	// negative code.
	Metric int
	// Reason explains Metric (the evaluator's reason).
	Reason string
}

// drainCodes are the check codes whose failure means "asked to leave".
var drainCodes = map[int]bool{checks.CodeNologin: true, checks.CodeRoger: true, checks.CodeReboot: true}

// MaxDescription bounds the description after "#" (bytes).
const MaxDescription = 160

// Weight maps a usable load to a weight percentage: round(100 × full /
// load), clamped to 1..100; full < 1 is DefaultFullLoad, load < 1 gives 100.
// It is monotone: a higher load never gets a higher weight.
func Weight(load, full int) int {
	if full < 1 {
		full = DefaultFullLoad
	}
	if load < 1 {
		return 100
	}
	w := (200*int64(full) + int64(load)) / (2 * int64(load)) // round half up
	return int(min(max(w, 1), 100))
}

// Answer is the line (ending in "\n") answered for an alias in state s.
func Answer(s Status, p Policy) string {
	p = p.norm()
	switch {
	case !s.Ready:
		return Unusable(p.Drained, "not ready: first evaluation round not finished")
	case s.Metric >= 1 && s.Metric <= 99999:
		return fmt.Sprintf("up ready %d%% #load %d\n", Weight(s.Metric, p.FullLoad), s.Metric)
	case drainCodes[-s.Metric]:
		return Unusable(p.Drained, describe(s))
	}
	return Unusable(p.Unusable, describe(s))
}

func describe(s Status) string {
	if s.Reason == "" {
		return fmt.Sprintf("load %d", s.Metric)
	}
	return fmt.Sprintf("load %d: %s", s.Metric, s.Reason)
}

// Unusable is the line reporting an unusable alias with word w (Drain,
// Maint or Down; anything else is Down) and description desc.
func Unusable(w Word, desc string) string {
	state := "down ready"
	switch w {
	case Drain:
		state = "up drain"
	case Maint:
		state = "up maint"
	}
	return state + " #" + clean(desc, MaxDescription) + "\n"
}

func (p Policy) norm() Policy {
	if _, ok := ParseWord(string(p.Drained)); !ok {
		p.Drained = DefaultDrained
	}
	if _, ok := ParseWord(string(p.Unusable)); !ok {
		p.Unusable = DefaultUnusable
	}
	if p.FullLoad < 1 {
		p.FullLoad = DefaultFullLoad
	}
	return p
}

// clean makes s safe inside one answer line: printable ASCII only (others
// become '?'), at most n bytes.
func clean(s string, n int) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < n; i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Result is the metrics label of an answer line: up, drain, maint or down.
func Result(line string) string {
	switch {
	case strings.HasPrefix(line, "up ready"):
		return "up"
	case strings.HasPrefix(line, "up drain"):
		return "drain"
	case strings.HasPrefix(line, "up maint"):
		return "maint"
	}
	return "down"
}

// Table is what a connection is answered from: the configuration and the
// last evaluation round. Its methods must not block.
type Table interface {
	// Policy is the answer policy.
	Policy() Policy
	// PortAlias is the alias a listening port is mapped to, if any.
	PortAlias(port int) (string, bool)
	// Single is the alias when exactly one is configured.
	Single() (string, bool)
	// Status is the state of a configured alias (compared without case
	// and trailing dot); false when the alias is not configured.
	Status(alias string) (Status, bool)
}

// Request is what HAProxy sent on a connection.
type Request struct {
	// Line is the first line without its line ending and surrounding
	// blanks; "" when nothing was sent.
	Line string
	// TooLong: MaxLine bytes arrived without a line ending.
	TooLong bool
}

// Reply is the line answered on a connection to local port port that
// sent r, from t (see the package documentation, "Choosing the alias").
func Reply(t Table, port int, r Request) string {
	p := t.Policy().norm()
	name, ok := t.PortAlias(port)
	if !ok {
		switch {
		case r.TooLong:
			return Unusable(p.Unusable, fmt.Sprintf("agent-send line longer than %d bytes", MaxLine))
		case r.Line != "":
			name = r.Line
		default:
			if name, ok = t.Single(); !ok {
				return Unusable(p.Unusable, "no alias named: set agent-send to the alias, or map this port to one")
			}
		}
	}
	s, ok := t.Status(name)
	if !ok {
		return Unusable(p.Unusable, "unknown alias "+clean(name, 64))
	}
	return Answer(s, p)
}
