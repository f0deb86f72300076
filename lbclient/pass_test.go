package lbclient

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	assert.True(t, ok)
	assert.Equal(t, []uint32{1, 3, 6, 1, 4, 1, 96, 255, 1}, o)
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"1.3", "1.3", 0}, {"1.3", "1.3.0", -1}, {"1.3.0", "1.3", 1}, {"1.3.6.1.4.1.96.3", "1.3.6.1.4.1.96.255", -1},
		{"1.3.6.1.4.1.96.1000", "1.3.6.1.4.1.96.255", 1}, {"2", "1.9.9", 1}, {"1.4294967295", "1.0", 1},
	} {
		a, _ := ParseOID(c.a)
		b, _ := ParseOID(c.b)
		assert.Equal(t, c.want, CompareOID(a, b), c.a+" vs "+c.b)
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
		assert.Equal(t, c.want, Serves(c.op, c.oid), "op %v oid %s", c.op, c.oid)
	}
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
	require.NoError(t, err)
	cfg := BrokenConfig()
	cfg.rule, cfg.interval = PerAlias, time.Second
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
		assert.Len(t, loads, 2)
		assert.Equal(t, CheckHung, loads[0].Metric, loads[0].Reason)
		assert.Equal(t, 42, loads[1].Metric)
	case <-time.After(30 * time.Second): // liveness only: the hung check would block forever
		t.Fatal("EvaluateOnce did not return at its deadline")
	}
}
