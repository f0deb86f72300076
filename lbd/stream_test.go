package lbd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lbd-project/lbd/lbd/config"
	"github.com/lbd-project/lbd/lbd/cycle"
	"github.com/lbd-project/lbd/lbd/snmp"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/internal/register"
	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/internal/testenv/snmpagent"
	"github.com/lbd-project/lbd/lbclient/agent"
)

// heldRelay answers SNMP on ip:port only when release is closed: it reads
// one request, waits, forwards it to the agent at to and sends the agent's
// reply back from ip:port. It stands for a member that is silent for as
// long as the test wants, without the test depending on a timeout.
func heldRelay(t *testing.T, ip string, port int, to *net.UDPAddr, release <-chan struct{}) {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip), Port: port})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 65536)
		n, from, err := c.ReadFromUDP(buf)
		if err != nil {
			return
		}
		<-release
		fwd, err := net.DialUDP("udp", nil, to)
		if err != nil {
			return
		}
		defer fwd.Close()
		fwd.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := fwd.Write(buf[:n]); err != nil {
			return
		}
		m, err := fwd.Read(buf)
		if err != nil {
			return
		}
		c.WriteToUDP(buf[:m], from)
	}()
}

// silentPair is a daemon of two aliases: a.example.org, whose member
// 127.0.0.1 is an agent answering 7 (stop stops it; agentCfg is its
// configuration, port its port), and b.example.org, whose member
// 127.0.0.2 answers (through heldRelay, from the same agent) only once
// release is called (at the latest when the test ends). The SNMP timeout
// is 30 s: the silent member is released, not timed out.
type silentPair struct {
	d        *Daemon
	port     int
	agentCfg agent.Config
	stop     func()
	release  func()
}

func newSilentPair(t *testing.T, engine string, edits ...func(src string) string) silentPair {
	t.Helper()
	p := silentPair{port: testenv.FreePort(t, "127.0.0.1"),
		agentCfg: agent.Config{Community: "public", EngineID: agent.EngineIDFor(engine), Boots: 1}}
	p.stop = snmpagent.Start(t, "127.0.0.1", p.port, p.agentCfg, agent.Value{Int: 7})
	ch := make(chan struct{})
	var once sync.Once
	p.release = func() { once.Do(func() { close(ch) }) }
	t.Cleanup(p.release)
	heldRelay(t, "127.0.0.2", p.port, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p.port}, ch)
	src := quickConfigSNMP(t, p.port)
	src = strings.Replace(src, "timeout = \"50ms\"", "timeout = \"30s\"", 1)
	src = strings.Replace(src, "members = [\"m.example.org\"]", "members = [\"127.0.0.1\"]", 1)
	src += "[[alias]]\nname = \"b.example.org\"\nmembers = [\"127.0.0.2\"]\n"
	for _, e := range edits {
		src = e(src)
	}
	p.d = testDaemon(t, src)
	return p
}

// decided waits until alias has been evaluated.
func (p silentPair) decided(t *testing.T, alias string) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, a := range p.d.Snapshot().Aliases {
			if a.Name == alias {
				return !a.LastEval.IsZero()
			}
		}
		return false
	}, 20*time.Second, 10*time.Millisecond, "%s not decided while b's member is silent", alias)
}

// pokeTaken waits until the cycle has taken the loop's wake-up (and acted
// on it: pokedStream runs in the cycle's goroutine right after).
func (p silentPair) pokeTaken(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool { return len(p.d.wake) == 0 }, 20*time.Second, time.Millisecond, "the cycle did not take the poke")
}

// finish checks that the cycle (its report on done) is still waiting for
// b's member, releases that member and returns the report.
func (p silentPair) finish(t *testing.T, done <-chan CycleReport) CycleReport {
	t.Helper()
	select {
	case <-done:
		t.Fatal("the cycle ended before b's member answered")
	default:
	}
	p.release()
	select {
	case rep := <-done:
		return rep
	case <-time.After(20 * time.Second):
		t.Fatal("the cycle did not end after b's member answered")
		return CycleReport{}
	}
}

// Streaming cycle (issue 13): an alias is decided and written as soon as
// its own members have answered; an alias whose member is still silent
// does not hold it. The silent member here answers only once the test has
// seen the other alias decided, so the test does not depend on timing.
func TestStreamingCycleDoesNotWaitForOtherAliases(t *testing.T) {
	pair := newSilentPair(t, "stream")
	d := pair.d

	done := make(chan CycleReport, 1)
	go func() { done <- d.Cycle(context.Background(), time.Now(), true) }()

	// a is decided (its member polled, its load known) while b's member
	// has not answered yet.
	require.Eventually(t, func() bool {
		for _, a := range d.Snapshot().Aliases {
			if a.Name == "a.example.org" {
				return !a.LastEval.IsZero()
			}
		}
		return false
	}, 20*time.Second, 10*time.Millisecond, "alias a not decided while b's member is silent")
	for _, a := range d.Snapshot().Aliases {
		switch a.Name {
		case "a.example.org":
			require.Len(t, a.Members, 1)
			assert.Equal(t, 7, a.Members[0].Load)
		case "b.example.org":
			assert.True(t, a.LastEval.IsZero(), "b decided before its member answered")
		}
	}
	rep := pair.finish(t, done)
	require.Len(t, rep.Aliases, 2, "the report has every alias of the cycle, in configuration order")
	assert.Equal(t, "a.example.org", rep.Aliases[0].Alias)
	assert.Equal(t, "b.example.org", rep.Aliases[1].Alias)
	require.Len(t, rep.Aliases[1].Members, 1)
	assert.Equal(t, 7, rep.Aliases[1].Members[0].Load, "b decided on its member's late answer")
	assert.Len(t, rep.Polls, 2)
}

// Addresses that failed their last poll are polled apart from the others,
// and forgotten after silentMemory without a poll.
func TestSilentLast(t *testing.T) {
	d := &Daemon{}
	a, b, c := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")
	all := []netip.Addr{a, b, c}
	split := func() [2][]netip.Addr { x, y := d.splitSilent(all); return [2][]netip.Addr{x, y} }
	assert.Equal(t, [2][]netip.Addr{all, nil}, split(), "nothing known: all answering")
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	d.noteSilent(t0, map[netip.Addr]snmp.Reply{a: {Err: errors.New("timeout")}, b: {}})
	assert.Equal(t, [2][]netip.Addr{{b, c}, {a}}, split())
	d.noteSilent(t0.Add(time.Minute), map[netip.Addr]snmp.Reply{a: {}})
	assert.Equal(t, [2][]netip.Addr{all, nil}, split(), "a answered again")
	d.noteSilent(t0, map[netip.Addr]snmp.Reply{c: {Err: errors.New("timeout")}})
	d.noteSilent(t0.Add(silentMemory+time.Second), nil)
	assert.Equal(t, [2][]netip.Addr{all, nil}, split(), "an old mark is forgotten")
}

// A push (Poke) while the cycle waits for a silent member is not held up
// by it (issue 13: drains reach DNS at once): a poked alias the cycle has
// decided already is polled and decided again in a stream of its own,
// before the silent member answers. A poked alias the cycle still waits
// for is left to it, and due again once the cycle is over.
func TestPokeDuringCycleNotHeldBySilentMember(t *testing.T) {
	pair := newSilentPair(t, "poked")
	d := pair.d
	load := func(alias string) int {
		for _, a := range d.Snapshot().Aliases {
			if a.Name == alias && len(a.Members) == 1 {
				return a.Members[0].Load
			}
		}
		return 0
	}

	done := make(chan CycleReport, 1)
	go func() { done <- d.Cycle(context.Background(), time.Now(), true) }()
	require.Eventually(t, func() bool { return load("a.example.org") == 7 }, 20*time.Second, 10*time.Millisecond,
		"alias a not decided while b's member is silent")

	// a's member changes and pushes; b is poked too, while the cycle still
	// waits for b's member.
	pair.stop()
	snmpagent.Start(t, "127.0.0.1", pair.port, pair.agentCfg, agent.Value{Int: 9})
	assert.Equal(t, 2, d.Poke([]string{"a.example.org", "b.example.org"}))
	require.Eventually(t, func() bool { return load("a.example.org") == 9 }, 20*time.Second, 10*time.Millisecond,
		"the poked alias a waited for the cycle's silent member")
	rep := pair.finish(t, done)
	var names []string
	for _, a := range rep.Aliases {
		names = append(names, a.Alias)
	}
	assert.Equal(t, []string{"a.example.org", "a.example.org", "b.example.org"}, names,
		"a decided twice (the second time on the poke), b once, in configuration order")
	assert.Equal(t, 7, rep.Aliases[0].Members[0].Load)
	assert.Equal(t, 9, rep.Aliases[1].Members[0].Load)

	// b's poke came while the cycle waited for it: it is due again at once,
	// and the loop is woken for it; a's was served.
	select {
	case <-d.wake:
	default:
		t.Fatal("the loop is not woken for the poke the cycle left")
	}
	d.mu.Lock()
	due := cycle.Due(time.Now(), d.cfg, map[string]cycle.Schedule{
		"a.example.org": d.aliases["a.example.org"].sched, "b.example.org": d.aliases["b.example.org"].sched}, false)
	d.mu.Unlock()
	assert.Equal(t, []int{1}, due, "b (alone) due at once")
}

// A reload while the cycle waits for a silent member, then a poke: the
// cycle, still on the configuration it began with, starts no stream (it
// would evaluate aliases the new configuration no longer has), ends when
// the member answers, and wakes the loop for the next cycle.
func TestPokeAfterReloadDuringCycle(t *testing.T) {
	pair := newSilentPair(t, "reload")
	d := pair.d
	done := make(chan CycleReport, 1)
	failed := make(chan any, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				failed <- r
			}
		}()
		done <- d.Cycle(context.Background(), time.Now(), true)
	}()
	pair.decided(t, "a.example.org")

	// The reload drops a; b stays.
	src := quickConfigSNMP(t, pair.port)
	src = strings.Replace(src, "timeout = \"50ms\"", "timeout = \"30s\"", 1)
	src = strings.Replace(src, "name = \"a.example.org\"\nmembers = [\"m.example.org\"]", "name = \"b.example.org\"\nmembers = [\"127.0.0.2\"]", 1)
	cfg, err := config.Parse("d.toml", []byte(src))
	require.NoError(t, err)
	require.NoError(t, d.SetConfig(cfg))
	require.Equal(t, 1, d.Poke([]string{"b.example.org"}))
	pair.pokeTaken(t)

	pair.release()
	select {
	case r := <-failed:
		t.Fatalf("the cycle panicked: %v", r)
	case rep := <-done:
		var names []string
		for _, a := range rep.Aliases {
			names = append(names, a.Alias)
		}
		assert.Equal(t, []string{"a.example.org", "b.example.org"}, names, "no stream after the reload")
	case <-time.After(20 * time.Second):
		t.Fatal("the cycle did not end after b's member answered")
	}
	select {
	case <-d.wake:
	default:
		t.Fatal("the loop is not woken for the poke the cycle left")
	}
}

// A slave takes over (the master's beat goes stale, and every alias is
// poked) while its passive cycle waits for a silent member: the cycle
// starts no stream with its passive role, so every alias it decided stays
// poked, and the next cycle writes them as the active writer.
func TestTakeOverDuringCycle(t *testing.T) {
	pair := newSilentPair(t, "takeover", func(src string) string {
		src = strings.Replace(src, "[lbd]\nrole = \"master\"\n", "[lbd]\nrole = \"slave\"\nmaster = \"m.example.org\"\n", 1)
		return src + "[heartbeat]\nurl = \"http://127.0.0.1:1/load-balancing/heartbeat\"\n"
	})
	d := pair.d
	d.mu.Lock()
	d.follower.StaleAfter = time.Hour
	d.follower.Grace(time.Now())
	d.mu.Unlock()
	active, _ := d.mayWrite(time.Now())
	require.False(t, active, "a slave whose master is fresh")

	done := make(chan CycleReport, 1)
	go func() { done <- d.Cycle(context.Background(), time.Now(), true) }()
	pair.decided(t, "a.example.org")

	// What the heartbeat loop does when the beat goes stale.
	d.mu.Lock()
	d.follower.StaleAfter = time.Nanosecond
	d.mu.Unlock()
	active, changed := d.mayWrite(time.Now())
	require.True(t, active && changed)
	d.pokeAll()
	pair.pokeTaken(t)

	rep := pair.finish(t, done)
	require.Len(t, rep.Aliases, 2, "no passive stream after the take-over")
	assert.False(t, rep.MayWrite)
	d.mu.Lock()
	due := cycle.Due(time.Now(), d.cfg, map[string]cycle.Schedule{
		"a.example.org": d.aliases["a.example.org"].sched, "b.example.org": d.aliases["b.example.org"].sched}, false)
	d.mu.Unlock()
	assert.Equal(t, []int{0, 1}, due, "both due at once for the active slave")
}

// A member registers (members_from = "register") while the cycle waits
// for a silent member: the poke of its alias starts a stream that polls it
// as a member, with the registrations of that moment.
func TestRegistrationDuringCycle(t *testing.T) {
	secrets := filepath.Join(t.TempDir(), "register.secrets")
	require.NoError(t, os.WriteFile(secrets, []byte("c.example.org register-secret-0123456789\n"), 0o600))
	pair := newSilentPair(t, "register", func(src string) string {
		src = strings.Replace(src, "[lbd]\n", fmt.Sprintf("[lbd]\nhttp_listen = \"127.0.0.1:0\"\nregister_secret_file = %q\n", secrets), 1)
		return src + "[[alias]]\nname = \"c.example.org\"\nmembers_from = \"register\"\n"
	})
	d := pair.d
	done := make(chan CycleReport, 1)
	go func() { done <- d.Cycle(context.Background(), time.Now(), true) }()
	pair.decided(t, "c.example.org")

	now := time.Now()
	reg := register.Sign(register.New("c.example.org", "r.example.org", []netip.Addr{netip.MustParseAddr("127.0.0.1")}, time.Minute, now),
		[]byte("register-secret-0123456789"))
	changed, err := d.reg.Offer(now, netip.MustParseAddr("127.0.0.1"), reg, d.registerPolicy())
	require.NoError(t, err)
	require.True(t, changed)
	d.onRegistered([]string{"c.example.org"})
	require.Eventually(t, func() bool {
		for _, a := range d.Snapshot().Aliases {
			if a.Name == "c.example.org" {
				return len(a.Members) == 1 && a.Members[0].Load == 7
			}
		}
		return false
	}, 20*time.Second, 10*time.Millisecond, "the registered member is not polled before the cycle's silent member answers")
	rep := pair.finish(t, done)
	var names []string
	for _, a := range rep.Aliases {
		names = append(names, a.Alias)
	}
	assert.Equal(t, []string{"a.example.org", "b.example.org", "c.example.org", "c.example.org"}, names)
}
