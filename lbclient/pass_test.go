package lbclient

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lbd-project/lbd/checks"
	"github.com/lbd-project/lbd/lbclient/agent"
)

func TestParseCompareOID(t *testing.T) {
	for _, bad := range []string{"", ".", "1..2", "1.x", "1.-2", "1.+2", "1.4294967296", strings.Repeat("1.", 128) + "1"} {
		if _, ok := ParseOID(bad); ok {
			t.Errorf("%q must not parse", bad)
		}
	}
	o, ok := ParseOID(" .1.3.6.1.4.1.96.255.1 ")
	eq(t, true, ok)
	eq(t, []uint32{1, 3, 6, 1, 4, 1, 96, 255, 1}, o)
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"1.3", "1.3", 0}, {"1.3", "1.3.0", -1}, {"1.3.0", "1.3", 1}, {"1.3.6.1.4.1.96.3", "1.3.6.1.4.1.96.255", -1},
		{"1.3.6.1.4.1.96.1000", "1.3.6.1.4.1.96.255", 1}, {"2", "1.9.9", 1}, {"1.4294967295", "1.0", 1},
	} {
		a, _ := ParseOID(c.a)
		b, _ := ParseOID(c.b)
		eq(t, c.want, CompareOID(a, b), c.a+" vs "+c.b)
	}
}

func TestServes(t *testing.T) {
	for _, c := range []struct {
		op   PassOp
		oid  string
		want bool
	}{
		{PassGet, agent.OID, true},
		{PassGet, "1.3.6.1.4.1.96.255.1", true},
		{PassGet, agent.OID + ".0", false},
		{PassGet, ".1.3.6.1.4.1.96.255", false},
		{PassGet, ".1.3.6.1.4.1.96.255.2", false},
		{PassGet, "garbage", false},
		{PassGetNext, ".1.3.6.1.4.1.96.255", true},
		{PassGetNext, ".1.3.6.1.4.1.96.255.0.7", true},
		{PassGetNext, ".1.3.6.1.4.1.96.3", true},     // numerically before (a string comparison says after)
		{PassGetNext, ".1.3.6.1.4.1.96.1000", false}, // numerically after (a string comparison says before)
		{PassGetNext, ".1", true},
		{PassGetNext, agent.OID, false},
		{PassGetNext, agent.OID + ".0", false},
		{PassGetNext, ".1.3.6.1.4.1.96.255.2", false},
		{PassGetNext, "", false},
	} {
		eq(t, c.want, Serves(c.op, c.oid), c.op, c.oid)
	}
}

func TestPassOutput(t *testing.T) {
	lc := lgLoad(t, "testdata/legacy/two", t.TempDir())
	src := lc.Source()
	ctx := context.Background()
	want := ".1.3.6.1.4.1.96.255.1\nstring\ntest2.cern.ch=40000,test.cern.ch=50000\n"
	eq(t, want, Pass(ctx, src, PassGet, agent.OID, 0, quietLog()))
	eq(t, want, Pass(ctx, src, PassGetNext, ".1.3.6.1.4.1.96.255", 0, quietLog()))
	eq(t, "", Pass(ctx, src, PassGetNext, agent.OID, 0, quietLog()))
	eq(t, "", Pass(ctx, src, PassGet, ".1.3.6.1.4.1.96.255.2", 0, quietLog()))
	eq(t, ".1.3.6.1.4.1.96.255.1\ninteger\n-13\n", FormatPass(agent.Value{Int: -13}))
}

// blockingCheck blocks until release is closed, ignoring ctx.
type blockingCheck struct{ release chan struct{} }

func (b blockingCheck) Run(context.Context, checks.Env) checks.Result {
	<-b.release
	return checks.Result{OK: true, Code: 99}
}

// A mapping that never finishes reports CheckHung at the deadline; the
// others are answered.
func TestEvaluateOnceDeadline(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	konst, err := checks.NewLoad(checks.Spec{Type: "constant", Data: "42"})
	must(t, err)
	cfg := Defaults()
	cfg.interval = time.Second
	cfg.mappings = []*Mapping{
		{Name: "hung.example", Aliases: []string{"hung.example"},
			Steps: []Step{{Key: "k", Spec: checks.Spec{Type: "block", Timeout: time.Hour}, Check: blockingCheck{release}}}},
		{Name: "ok.example", Aliases: []string{"ok.example"},
			Steps: []Step{{Key: "c", Spec: checks.Spec{Type: "constant"}, Check: konst, Load: true}}},
	}
	cfg.aliases = []string{"hung.example", "ok.example"}
	done := make(chan []AliasLoad, 1)
	go func() { done <- EvaluateOnce(context.Background(), cfg, 100*time.Millisecond, nil) }()
	select {
	case loads := <-done:
		eq(t, 2, len(loads))
		eq(t, CheckHung, loads[0].Metric, loads[0].Reason)
		eq(t, 42, loads[1].Metric)
	case <-time.After(30 * time.Second): // liveness only: the hung check would block forever
		t.Fatal("EvaluateOnce did not return at its deadline")
	}
}

func TestServePassPersist(t *testing.T) {
	dir := lgDir(t, map[string]string{"lbaliases": "lbalias=test.cern.ch\n", "lbclient.conf": "check nologin\nload constant 50000\n"})
	root := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	lc := LoadLegacy(dir, LegacyOptions{Root: root, Interval: 20 * time.Millisecond})
	lc.DefaultLoad = func(string) int { return 1 }

	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- ServePassPersist(context.Background(), lc.Source(), inR, outW, PassPersistOptions{Log: quietLog()})
		outW.Close()
	}()
	rd := bufio.NewReader(outR)
	send := func(s string) {
		t.Helper()
		if _, err := io.WriteString(inW, s); err != nil {
			t.Fatal(err)
		}
	}
	read := func(n int) string {
		t.Helper()
		var b strings.Builder
		for i := 0; i < n; i++ {
			l, err := rd.ReadString('\n')
			if err != nil {
				t.Fatalf("read: %v (so far %q)", err, b.String())
			}
			b.WriteString(l)
		}
		return b.String()
	}
	send("PING\n")
	eq(t, "PONG\n", read(1))
	send("get\n.1.3.6.1.4.1.96.255.1\n")
	eq(t, ".1.3.6.1.4.1.96.255.1\ninteger\n50000\n", read(3))
	send("getnext\n.1.3.6.1.4.1.96\n")
	eq(t, ".1.3.6.1.4.1.96.255.1\ninteger\n50000\n", read(3))
	send("getnext\n.1.3.6.1.4.1.96.255.1\n")
	eq(t, "NONE\n", read(1))
	send("get\n.1.3.6.1.4.1.96.255.1.0\n")
	eq(t, "NONE\n", read(1))
	send("set\n.1.3.6.1.4.1.96.255.1\ninteger 5\n")
	eq(t, "not-writable\n", read(1))
	send("\nfrobnicate\n")
	eq(t, "NONE\n", read(1))
	send("ping\r\n")
	eq(t, "PONG\n", read(1))

	// the background evaluator picks up /etc/nologin (bounded wait)
	touch(t, root, "etc/nologin")
	var got string
	for i := 0; i < 200; i++ {
		send("get\n.1.3.6.1.4.1.96.255.1\n")
		if got = read(3); got == ".1.3.6.1.4.1.96.255.1\ninteger\n-1\n" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	eq(t, ".1.3.6.1.4.1.96.255.1\ninteger\n-1\n", got)

	inW.Close() // EOF: exit
	select {
	case err := <-errc:
		must(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("no exit at EOF")
	}
}
