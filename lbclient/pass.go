package lbclient

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/lbd-project/lbd/lbclient/agent"
)

// net-snmp "pass" and "pass_persist" modes (docs/protocol.md §4, snmpd.conf(5)).
//
// pass: snmpd runs "lbclient -g OID" (GET) or "lbclient -n OID" (GETNEXT)
// once per request; the program prints exactly three lines (OID, type word,
// value) or nothing. Pass evaluates every mapping once, concurrently, under
// one overall deadline (PassDeadline), and returns the text to print.
//
// pass_persist: snmpd starts "lbclient -pass-persist" once and talks to it
// on stdin/stdout (PING → PONG; get/getnext + OID → three lines or NONE;
// set + OID + "type value" → not-writable). ServePassPersist keeps an
// Evaluator running in the background and answers from its cached state.

// PassDeadline bounds one pass-mode evaluation (all mappings, concurrently);
// a mapping still running then reports CheckHung. With PassGrace and the
// process start this keeps the answer well within net-snmp's and lbd's
// 10 s.
const PassDeadline = 5 * time.Second

// PassGrace is how long Pass waits after its deadline for abandoned checks
// to clean up (commands' process groups are killed at the deadline).
const PassGrace = 300 * time.Millisecond

// PassParallel bounds the mappings evaluated at the same time.
const PassParallel = 8

// PassNotWritable is the answer to a SET (snmpd.conf(5)).
const PassNotWritable = "not-writable"

// ParseOID parses a dotted numeric OID ("1.3.6" or ".1.3.6"); each arc
// is a 32-bit unsigned integer and there are 1 to 128 arcs.
func ParseOID(s string) ([]uint32, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), ".")
	if s == "" {
		return nil, false
	}
	parts := strings.Split(s, ".")
	if len(parts) > 128 {
		return nil, false
	}
	out := make([]uint32, len(parts))
	for i, p := range parts {
		if p == "" || p[0] == '+' || p[0] == '-' {
			return nil, false
		}
		v, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return nil, false
		}
		out[i] = uint32(v)
	}
	return out, true
}

// CompareOID orders OIDs arc by arc, a proper prefix first (-1, 0, 1).
func CompareOID(a, b []uint32) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		switch {
		case a[i] < b[i]:
			return -1
		case a[i] > b[i]:
			return 1
		}
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}

var servedOID, _ = ParseOID(agent.OID)

// PassOp is a pass-mode request.
type PassOp int

// Pass-mode requests.
const (
	PassGet PassOp = iota
	PassGetNext
)

// Serves reports whether a GET (op PassGet) or GETNEXT (PassGetNext) of
// oid is answered with agent.OID: a GET of exactly that OID, a GETNEXT of
// an OID sorting before it. Unparsable OIDs are not served.
func Serves(op PassOp, oid string) bool {
	o, ok := ParseOID(oid)
	if !ok {
		return false
	}
	if op == PassGet {
		return CompareOID(o, servedOID) == 0
	}
	return CompareOID(o, servedOID) < 0
}

// FormatPass is the three-line answer for v: OID, "integer" or "string",
// value, each ending in "\n".
func FormatPass(v agent.Value) string {
	if v.IsString {
		return agent.OID + "\nstring\n" + v.Str + "\n"
	}
	return agent.OID + "\ninteger\n" + strconv.Itoa(int(v.Int)) + "\n"
}

// Pass answers one net-snmp pass request: the text to print on stdout
// (exactly three lines), or "" when the OID is not served. It evaluates
// every mapping once (EvaluateOnce with deadline; ≤ 0 means PassDeadline),
// and logs each alias's result and any failure to log (nil: nowhere).
func Pass(ctx context.Context, cfg *Compiled, op PassOp, oid string, deadline time.Duration, log logrus.FieldLogger) string {
	if !Serves(op, oid) {
		return ""
	}
	loads := EvaluateOnce(ctx, cfg, deadline, log)
	v := cfg.Compose(loads)
	if log != nil {
		for _, l := range loads {
			f := log.WithFields(logrus.Fields{"alias": l.Alias, "load": l.Metric})
			switch {
			case l.Hard:
				f.WithField("check", l.Step).Warn("error: " + l.Reason)
			case !(Outcome{Metric: l.Metric}).Usable():
				f.WithField("check", l.Step).Info("unusable: " + l.Reason)
			default:
				f.Debug(l.Reason)
			}
		}
		if v.IsString && len(v.Str) > 4000 {
			log.WithField("length", len(v.Str)).Warn("answer longer than net-snmp's 4096-byte pass buffer: it will be truncated")
		}
	}
	return FormatPass(v)
}

// EvaluateOnce evaluates every mapping of cfg once, at most PassParallel at
// a time, and returns one AliasLoad per alias in cfg.Aliases() order. It
// returns within deadline (≤ 0: PassDeadline) plus PassGrace: a mapping
// still running at the deadline reports CheckHung for its aliases. A panic
// in a mapping reports CheckHung too.
func EvaluateOnce(ctx context.Context, cfg *Compiled, deadline time.Duration, log logrus.FieldLogger) []AliasLoad {
	if deadline <= 0 {
		deadline = PassDeadline
	}
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	ms := cfg.Mappings()
	type result struct {
		i int
		o Outcome
	}
	ch := make(chan result, len(ms))
	sem := make(chan struct{}, PassParallel)
	var wg sync.WaitGroup
	for i, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					ch <- result{i, Outcome{Metric: CheckHung, Hard: true, Reason: fmt.Sprintf("panic: %v", p)}}
				}
			}()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				ch <- result{i, Outcome{Metric: CheckHung, Hard: true, Reason: "not started within the deadline"}}
				return
			}
			defer func() { <-sem }()
			ch <- result{i, m.Evaluate(ctx, cfg.Agent.Root, cfg.DefaultLoad)}
		}()
	}
	outs := make([]*Outcome, len(ms))
	for n := 0; n < len(ms); n++ {
		select {
		case r := <-ch:
			outs[r.i] = &r.o
			continue
		case <-ctx.Done():
		}
		break
	}
	cancel()
	// let abandoned checks see the cancellation (kill their commands)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	if n := countNil(outs); n > 0 {
		t := time.NewTimer(PassGrace)
		select {
		case <-done:
		case <-t.C:
		}
		t.Stop()
	}
	byAlias := map[string]AliasLoad{}
	for i, m := range ms {
		o := outs[i]
		if o == nil {
			o = &Outcome{Metric: CheckHung, Hard: true,
				Reason: fmt.Sprintf("evaluation did not finish within %v", deadline)}
		}
		for _, a := range m.Aliases {
			byAlias[a] = AliasLoad{Alias: a, Metric: o.Metric, Reason: o.Reason, Step: o.Step, Hard: o.Hard, Mapping: m.Name}
		}
	}
	out := make([]AliasLoad, 0, len(cfg.Aliases()))
	for _, a := range cfg.Aliases() {
		out = append(out, byAlias[a])
	}
	return out
}

func countNil(outs []*Outcome) int {
	n := 0
	for _, o := range outs {
		if o == nil {
			n++
		}
	}
	return n
}

// PassPersistOptions tune ServePassPersist.
type PassPersistOptions struct {
	// ReadyWait bounds how long the first get/getnext waits for the first
	// evaluation round (snmpd starts the program on the first request);
	// after it the answer is NotReady. 0 means 2 s.
	ReadyWait time.Duration
	Log       logrus.FieldLogger
}

// maxPassPersistLine bounds one input line.
const maxPassPersistLine = 64 << 10

// ServePassPersist runs the net-snmp pass_persist protocol on in/out until
// EOF on in (returns nil) or ctx is done (returns ctx.Err()). An Evaluator
// runs cfg in the background every Compiled.Interval(); get and
// getnext answer from its last state at once (only the very first one may
// wait, ReadyWait at most, for the first round). Commands are
// case-insensitive; blank lines are ignored; an unknown command is
// answered NONE.
func ServePassPersist(ctx context.Context, cfg *Compiled, in io.Reader, out io.Writer, opts PassPersistOptions) error {
	log := opts.Log
	if log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		log = l
	}
	wait := opts.ReadyWait
	if wait <= 0 {
		wait = 2 * time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	ev := NewEvaluator(cfg, log)
	// Watched files (nologin, roger, reboot) are re-evaluated at once, as
	// in the agent (watch.go), so snmpd's next get sees the change.
	watchDone := make(chan struct{})
	if w := newWatcher(cfg, ev, log); w != nil {
		go func() { defer close(watchDone); w.run(ctx) }()
	} else {
		close(watchDone)
	}
	loopDone := runEvaluator(ctx, ev, log)
	defer func() {
		cancel()
		t := time.NewTimer(PassGrace)
		select {
		case <-loopDone:
		case <-t.C:
		}
		t.Stop()
		<-watchDone
	}()

	lines, readErr := readLines(ctx, in)
	s := &persistSession{ctx: ctx, ev: ev, lines: lines, wait: wait, log: log}
	w := bufio.NewWriter(out)
	for {
		cmd, ok := s.next()
		if !ok {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			select {
			case err := <-readErr:
				return err
			default:
				return nil
			}
		}
		resp := s.respond(cmd)
		if resp == "" {
			continue // blank line, or EOF within a request: the loop returns
		}
		if _, err := w.WriteString(resp); err != nil {
			return err
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
}

// runEvaluator runs ev.Loop until ctx is done; the channel is closed when
// it has returned.
func runEvaluator(ctx context.Context, ev *Evaluator, log logrus.FieldLogger) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if p := recover(); p != nil {
				log.WithField("panic", fmt.Sprint(p)).Error("evaluator stopped")
			}
		}()
		ev.Loop(ctx)
	}()
	return done
}

// readLines sends the trimmed lines of in until EOF or ctx is done; the
// read error (nil at EOF) is sent on the second channel.
func readLines(ctx context.Context, in io.Reader) (<-chan string, <-chan error) {
	lines := make(chan string)
	readErr := make(chan error, 1)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 4096), maxPassPersistLine)
		for sc.Scan() {
			select {
			case lines <- strings.TrimSpace(sc.Text()):
			case <-ctx.Done():
				return
			}
		}
		readErr <- sc.Err()
	}()
	return lines, readErr
}

// persistSession is the state of one pass_persist conversation.
type persistSession struct {
	ctx    context.Context
	ev     *Evaluator
	lines  <-chan string
	wait   time.Duration
	waited bool
	log    logrus.FieldLogger
}

// next returns the next line; false at EOF or when ctx is done.
func (s *persistSession) next() (string, bool) {
	select {
	case l, ok := <-s.lines:
		return l, ok
	case <-s.ctx.Done():
		return "", false
	}
}

// respond reads the rest of the request cmd starts and returns the answer;
// "" for a blank line or an input that ends within the request.
func (s *persistSession) respond(cmd string) string {
	switch strings.ToLower(cmd) {
	case "":
		return ""
	case "ping":
		return "PONG\n"
	case "get", "getnext":
		oid, ok := s.next()
		if !ok {
			return ""
		}
		op := PassGet
		if strings.EqualFold(cmd, "getnext") {
			op = PassGetNext
		}
		return s.answer(op, oid)
	case "set":
		if _, ok := s.next(); !ok { // OID
			return ""
		}
		if _, ok := s.next(); !ok { // type and value
			return ""
		}
		return PassNotWritable + "\n"
	}
	s.log.WithField("command", cmd).Warn("pass_persist: unknown command")
	return "NONE\n"
}

// answer is the reply to a get or getnext; only the first one may wait
// (s.wait at most) for the first evaluation round.
func (s *persistSession) answer(op PassOp, oid string) string {
	if !Serves(op, oid) {
		return "NONE\n"
	}
	if !s.waited {
		s.waited = true
		for deadline := time.Now().Add(s.wait); !s.ev.State().Ready && time.Now().Before(deadline) && s.ctx.Err() == nil; {
			time.Sleep(10 * time.Millisecond)
		}
	}
	return FormatPass(s.ev.Value()) // composed once per round (Evaluator)
}
