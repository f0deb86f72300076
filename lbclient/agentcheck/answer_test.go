package agentcheck

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestWeight(t *testing.T) {
	for _, c := range []struct{ load, full, want int }{
		{1, 100, 100},
		{50, 100, 100},
		{100, 100, 100},
		{101, 100, 99},
		{133, 100, 75},
		{200, 100, 50},
		{300, 100, 33},
		{1000, 100, 10},
		{10000, 100, 1},
		{20001, 100, 1}, // 0.4999… rounds to 0: clamped to 1
		{99999, 100, 1},
		{250, 500, 100},
		{1000, 500, 50},
		{400, 0, 25},  // full < 1: DefaultFullLoad
		{0, 100, 100}, // not a usable load: full weight, never a division by 0
		{150, 1, 1},   // full 1: every load above 200 is 1 %
		{3, 1, 33},    // round(33.3)
		{99999, 99999, 100},
	} {
		assert.Equal(t, c.want, Weight(c.load, c.full), "Weight(%d, %d)", c.load, c.full)
	}
}

// A higher load never gets a higher weight.
func TestWeightMonotone(t *testing.T) {
	for _, full := range []int{1, 7, 100, 1000, 99999} {
		prev := 101
		for load := 1; load <= 99999; load++ {
			w := Weight(load, full)
			if w > prev || w < 1 || w > 100 {
				t.Fatalf("Weight(%d, %d) = %d after %d", load, full, w, prev)
			}
			prev = w
		}
	}
}

func TestAnswer(t *testing.T) {
	def := DefaultPolicy()
	maint := Policy{Drained: Maint, Unusable: Maint, FullLoad: 100}
	down := Policy{Drained: Down, Unusable: Drain, FullLoad: 200}
	for _, c := range []struct {
		name string
		s    Status
		p    Policy
		want string
	}{
		{"usable", Status{Ready: true, Metric: 200}, def, "up ready 50% #load 200\n"},
		{"usable full", Status{Ready: true, Metric: 7}, def, "up ready 100% #load 7\n"},
		{"usable other full load", Status{Ready: true, Metric: 400}, down, "up ready 50% #load 400\n"},
		{"max usable", Status{Ready: true, Metric: 99999}, def, "up ready 1% #load 99999\n"},
		{"nologin drains", Status{Ready: true, Metric: -1, Reason: "/etc/nologin exists"}, def, "up drain #load -1: /etc/nologin exists\n"},
		{"roger drains", Status{Ready: true, Metric: -13, Reason: "roger appstate \"draining\""}, def, "up drain #load -13: roger appstate \"draining\"\n"},
		{"reboot drains", Status{Ready: true, Metric: -19}, def, "up drain #load -19\n"},
		{"daemon down", Status{Ready: true, Metric: -8, Reason: "nothing listening on TCP 80"}, def, "down ready #load -8: nothing listening on TCP 80\n"},
		{"hung", Status{Ready: true, Metric: -101, Reason: "hung"}, def, "down ready #load -101: hung\n"},
		{"too high", Status{Ready: true, Metric: 100000}, def, "down ready #load 100000\n"},
		{"zero", Status{Ready: true, Metric: 0}, def, "down ready #load 0\n"},
		{"not ready", Status{Metric: -100}, def, "up drain #not ready: first evaluation round not finished\n"},
		{"nologin maint", Status{Ready: true, Metric: -1}, maint, "up maint #load -1\n"},
		{"failure maint", Status{Ready: true, Metric: -7}, maint, "up maint #load -7\n"},
		{"nologin down", Status{Ready: true, Metric: -1}, down, "down ready #load -1\n"},
		{"not ready down", Status{}, down, "down ready #not ready: first evaluation round not finished\n"},
		{"failure drain", Status{Ready: true, Metric: -7}, down, "up drain #load -7\n"},
		{"zero policy is the default", Status{Ready: true, Metric: -7}, Policy{}, "down ready #load -7\n"},
		{"reason cleaned", Status{Ready: true, Metric: -14, Reason: "exit 1:\nboom\r\x00é"}, def, "down ready #load -14: exit 1:?boom????\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Answer(c.s, c.p)
			assert.Equal(t, c.want, got)
			assert.Equal(t, 1, strings.Count(got, "\n"), "one line")
		})
	}
	long := Answer(Status{Ready: true, Metric: -14, Reason: strings.Repeat("x", 1000)}, def)
	assert.Len(t, long, len("down ready #")+MaxDescription+1)
}

func TestResult(t *testing.T) {
	for line, want := range map[string]string{
		"up ready 5% #load 3\n": "up", "up drain #x\n": "drain", "up maint #x\n": "maint", "down ready #x\n": "down",
	} {
		assert.Equal(t, want, Result(line), line)
	}
}

func TestParseWord(t *testing.T) {
	for _, s := range []string{"drain", "DRAIN", "maint", "Down"} {
		_, ok := ParseWord(s)
		assert.True(t, ok, s)
	}
	for _, s := range []string{"", "up", "ready", "stopped"} {
		_, ok := ParseWord(s)
		assert.False(t, ok, s)
	}
}

// fakeTable is a Table over a fixed map.
type fakeTable struct {
	policy Policy
	ports  map[int]string
	status map[string]Status // keys lower case
}

func (f fakeTable) Policy() Policy { return f.policy }
func (f fakeTable) PortAlias(port int) (string, bool) {
	a, ok := f.ports[port]
	return a, ok
}
func (f fakeTable) Single() (string, bool) {
	if len(f.status) != 1 {
		return "", false
	}
	for a := range f.status {
		return a, true
	}
	return "", false
}
func (f fakeTable) Status(alias string) (Status, bool) {
	s, ok := f.status[strings.TrimSuffix(strings.ToLower(alias), ".")]
	return s, ok
}

func TestReply(t *testing.T) {
	two := fakeTable{policy: DefaultPolicy(), ports: map[int]string{9001: "b"},
		status: map[string]Status{"a": {Ready: true, Metric: 100}, "b": {Ready: true, Metric: -1}}}
	one := fakeTable{policy: DefaultPolicy(), status: map[string]Status{"a": {Ready: true, Metric: 400}}}
	for _, c := range []struct {
		name string
		t    fakeTable
		port int
		r    Request
		want string
	}{
		{"agent-send names the alias", two, 9000, Request{Line: "a"}, "up ready 100% #load 100\n"},
		{"case and trailing dot", two, 9000, Request{Line: "A."}, "up ready 100% #load 100\n"},
		{"mapped port wins over the line", two, 9001, Request{Line: "a"}, "up drain #load -1\n"},
		{"mapped port, nothing sent", two, 9001, Request{}, "up drain #load -1\n"},
		{"several aliases, nothing sent", two, 9000, Request{}, "down ready #no alias named: set agent-send to the alias, or map this port to one\n"},
		{"unknown alias", two, 9000, Request{Line: "c\x01"}, "down ready #unknown alias c?\n"},
		{"too long", two, 9000, Request{TooLong: true}, "down ready #agent-send line longer than 256 bytes\n"},
		{"single alias, nothing sent", one, 9000, Request{}, "up ready 25% #load 400\n"},
		{"single alias, named", one, 9000, Request{Line: "a"}, "up ready 25% #load 400\n"},
		{"single alias, other name", one, 9000, Request{Line: "b"}, "down ready #unknown alias b\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, Reply(c.t, c.port, c.r))
		})
	}
}
