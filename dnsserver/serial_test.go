package dnsserver

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const half = uint32(1) << 31 // RFC 1982 §3.2: 2^(SERIAL_BITS-1)

func TestSerialGreater(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b uint32
		want bool
	}{
		{"larger", 2, 1, true},
		{"smaller", 1, 2, false},
		{"equal", 5, 5, false},
		{"wrap: 0 follows 2^32-1", 0, 1<<32 - 1, true},
		{"wrap: 2^32-1 precedes 0", 1<<32 - 1, 0, false},
		{"wrap: small after large", 10, 1<<32 - 10, true},
		{"largest increase 2^31-1", half - 1, 0, true},
		{"largest increase 2^31-1, reversed", 0, half - 1, false},
		{"2^31 apart is undefined", half, 0, false},
		{"2^31 apart is undefined, reversed", 0, half, false},
		{"2^31 apart across the wrap", 1<<32 - 1, half - 1, false},
		{"2^31+1 ahead is behind", half + 1, 0, false},
		{"2^31+1 behind is ahead", 0, half + 1, true},
		{"old serial 1 is behind a time serial", 1, testSerialBase, false},
		{"time serial is ahead of old serial 1", testSerialBase, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, serialGreater(tc.a, tc.b), "serialGreater(%d, %d)", tc.a, tc.b)
		})
	}
}

func TestTimeSerial(t *testing.T) {
	for _, tc := range []struct {
		name string
		unix int64
		want uint32
	}{
		{"2023", 1_700_000_000, 1_700_000_000},
		{"last second before the 2106 wrap", 1<<32 - 1, 1<<32 - 1},
		{"2106 wraps modulo 2^32", 1<<32 + 5, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, timeSerial(time.Unix(tc.unix, 0)))
		})
	}
}

func TestNextSerial(t *testing.T) {
	at := func(sec int64) time.Time { return time.Unix(sec, 0) }
	for _, tc := range []struct {
		name string
		cur  uint32
		now  time.Time
		want uint32
	}{
		{"clock ahead: jump to the clock", testSerialBase, at(int64(testSerialBase) + 60), testSerialBase + 60},
		{"clock equal: +1", testSerialBase, at(int64(testSerialBase)), testSerialBase + 1},
		{"clock behind: +1 from the stored serial", testSerialBase + 500, at(int64(testSerialBase)), testSerialBase + 501},
		{"clock far behind (1970)", testSerialBase, at(0), testSerialBase + 1},
		{"old counter serial jumps to the clock", 7, at(int64(testSerialBase)), testSerialBase},
		{"+1 wraps from 2^32-1 to 0", 1<<32 - 1, at(1<<32 - 100), 0},
		{"clock past the 2106 wrap", 1<<32 - 10, at(1<<32 + 5), 5},
		{"clock 2^31-1 ahead: jump", 0, at(int64(half) - 1), half - 1},
		{"clock exactly 2^31 ahead: never produced, +1", 0, at(int64(half)), 1},
		{"clock 2^31+1 ahead is behind: +1", 0, at(int64(half) + 1), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := nextSerial(tc.cur, tc.now)
			assert.Equal(t, tc.want, got)
			assert.True(t, serialGreater(got, tc.cur), "%d is not greater than %d", got, tc.cur)
		})
	}
}

// TestNextSerialProperty: for random serials and clocks the next serial
// is always greater (RFC 1982 §3.2) and never 2^31 away.
func TestNextSerialProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1982, 1996))
	for i := 0; i < 100000; i++ {
		cur := rng.Uint32()
		var now int64
		switch i % 3 {
		case 0:
			now = rng.Int64N(1 << 33)
		case 1: // near the current serial, both sides
			now = int64(cur) + rng.Int64N(8) - 4
		default: // near the undefined distance
			now = int64(cur) + int64(half) + rng.Int64N(8) - 4
		}
		got := nextSerial(cur, time.Unix(now, 0))
		require.True(t, serialGreater(got, cur), "cur %d now %d: next %d not greater", cur, now, got)
		require.NotEqual(t, half, got-cur, "cur %d now %d: jump of 2^31", cur, now)
	}
}

// TestNewZoneSerial: a zone created from the configuration starts at
// the time-derived serial of the injected clock, or of the real clock.
func TestNewZoneSerial(t *testing.T) {
	for _, tc := range []struct {
		name  string
		clock func() time.Time
	}{
		{"injected clock", fixedClock(1_800_000_000)},
		{"injected clock after the 2106 wrap", func() time.Time { return time.Unix(1<<32+42, 0) }},
		{"real clock", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.SerialClock = tc.clock
			before := timeSerial(time.Now())
			s, err := New(cfg)
			require.NoError(t, err, "New")
			after := timeSerial(time.Now())
			defer s.Close()
			got := s.zones[testZone].soa.Serial
			if tc.clock != nil {
				assert.Equal(t, timeSerial(tc.clock()), got, "first serial")
				return
			}
			assert.False(t, serialGreater(before, got), "first serial %d before the clock %d", got, before)
			assert.False(t, serialGreater(got, after), "first serial %d after the clock %d", got, after)
		})
	}
}

// testZoneConfig is the compiled test zone with a fixed serial clock.
func testZoneConfig(clock uint32) compiledZone {
	return compiledZone{name: testZone, ns: []string{"ns1." + testZone}, clock: fixedClock(clock)}
}

func ownsTestZone(name string) bool { return dns.IsSubDomain(testZone, name) }

// wireRR is mustRR as received from the wire (RDLENGTH set, which the
// RFC 2136 §3.4.1 prescan checks).
func wireRR(t *testing.T, s string) dns.RR {
	t.Helper()
	b, err := (&dns.Msg{Answer: []dns.RR{mustRR(t, s)}}).Pack()
	require.NoError(t, err, "pack %q", s)
	m := new(dns.Msg)
	require.NoError(t, m.Unpack(b), "unpack %q", s)
	return m.Answer[0]
}

// TestSerialAcrossReload: a zone is created and changed under one clock,
// reloaded from its snapshot and journal (compacted or not) under
// another, and changed again: the serial follows nextSerial, always
// increases, and the IXFR history chains from the first serial to the
// last (RFC 1995 §4) across the reload.
func TestSerialAcrossReload(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		create, reload       uint32 // serial clocks (Unix seconds mod 2^32)
		wantBefore, wantNext uint32 // serial after the first change, after the change following the reload
	}{
		{"clock stands still", testSerialBase, testSerialBase, testSerialBase + 1, testSerialBase + 2},
		{"clock moved ahead: jump", testSerialBase, testSerialBase + 500, testSerialBase + 1, testSerialBase + 500},
		{"clock set back: keep counting", testSerialBase, testSerialBase - 1000, testSerialBase + 1, testSerialBase + 2},
		{"old data dir from serial 1: jump to the clock", 1, testSerialBase, 2, testSerialBase},
		{"wrap around 2^32", 1<<32 - 1, 1<<32 - 1, 0, 1},
	} {
		for _, compacted := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/compacted=%v", tc.name, compacted), func(t *testing.T) {
				dir := t.TempDir()
				z, err := loadZone(dir, testZoneConfig(tc.create))
				require.NoError(t, err, "create")
				first := z.soa.Serial
				assert.Equal(t, tc.create, first, "new zone: time-derived serial")
				rc, changed, err := z.update(nil, []dns.RR{wireRR(t, "a.lb.example.org. 60 IN A 192.0.2.1")}, ownsTestZone)
				require.NoError(t, err, "update")
				require.True(t, changed, "update: rcode %s", rcodeName(rc))
				assert.Equal(t, tc.wantBefore, z.soa.Serial, "serial after the first change")
				if compacted {
					require.NoError(t, z.compact(), "compact")
				}
				require.NoError(t, z.jnl.Close())

				z2, err := loadZone(dir, testZoneConfig(tc.reload))
				require.NoError(t, err, "reload")
				defer z2.jnl.Close()
				assert.Equal(t, tc.wantBefore, z2.soa.Serial, "reloading does not change the serial")
				_, changed, err = z2.update(nil, []dns.RR{wireRR(t, "b.lb.example.org. 60 IN A 192.0.2.2")}, ownsTestZone)
				require.NoError(t, err, "update after reload")
				require.True(t, changed, "update after reload")
				assert.Equal(t, tc.wantNext, z2.soa.Serial, "serial after the change following the reload")
				assert.True(t, serialGreater(z2.soa.Serial, tc.wantBefore), "serial went backwards")

				chain := ixfrChain(z2.hist, first, z2.soa.Serial)
				require.Len(t, chain, 2, "IXFR chain from the first serial")
				assert.Equal(t, []uint32{first, tc.wantBefore, tc.wantBefore, tc.wantNext},
					[]uint32{chain[0].oldSOA.Serial, chain[0].newSOA.Serial, chain[1].oldSOA.Serial, chain[1].newSOA.Serial}, "chain serials")
			})
		}
	}
}

// TestJournalRejectsNonIncreasingSerial: a journal record whose serial
// does not increase (RFC 1982 §3.2) is refused as corrupt.
func TestJournalRejectsNonIncreasingSerial(t *testing.T) {
	soa := func(serial uint32) *dns.SOA {
		return mustRR(t, fmt.Sprintf("%s 300 IN SOA ns1.%s hostmaster.%s %d 3600 600 86400 60", testZone, testZone, testZone, serial)).(*dns.SOA)
	}
	for _, tc := range []struct {
		name     string
		old, new uint32
		ok       bool
	}{
		{"+1", 10, 11, true},
		{"wrap", 1<<32 - 1, 0, true},
		{"equal", 10, 10, false},
		{"backwards", 11, 10, false},
		{"2^31 apart", 0, half, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := encodeDelta(&delta{seq: 1, oldSOA: soa(tc.old), newSOA: soa(tc.new)})
			require.NoError(t, err, "encode")
			_, err = decodeDelta(rec[8:])
			if tc.ok {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, "not an increase")
			}
		})
	}
}

// runStoppable runs a server until stop is called (or the test ends).
func runStoppable(t *testing.T, cfg Config) (*Server, func()) {
	t.Helper()
	s, err := New(cfg)
	require.NoError(t, err, "New")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				assert.NoError(t, err, "Run")
			case <-time.After(10 * time.Second):
				assert.Fail(t, "Run did not return")
			}
		})
	}
	t.Cleanup(stop)
	return s, stop
}

// TestNamedSecondaryAfterDataDirLoss: a real named follows the embedded
// server; the server is stopped, its data directory deleted and the
// server started again with the same configuration (its clock later, as
// it would be). The recreated zone's serial is greater (RFC 1982 §3.2)
// than the one the secondary holds, so the secondary transfers it after
// NOTIFY (RFC 1996 §4.7) and serves the new record. With the old fixed
// first serial it would have answered "zone is up to date" and kept the
// lost data.
func TestNamedSecondaryAfterDataDirLoss(t *testing.T) {
	testenv.Require(t, "named")
	cfg := testConfig(t)
	secPort := testenv.FreePort(t, "127.0.0.1")
	cfg.Secondaries = []string{fmt.Sprintf("127.0.0.1:%d", secPort)}
	cfg.SerialClock = fixedClock(testSerialBase)

	s1, stop1 := runStoppable(t, cfg)
	addr := s1.Addr()
	require.Equal(t, dns.RcodeSuccess, update(t, addr, func(m *dns.Msg) {
		m.Insert([]dns.RR{mustRR(t, "old.lb.example.org. 60 IN A 192.0.2.1")})
	}), "update before the loss")
	oldSerial := serial(t, addr)

	sec := testenv.StartSecondary(t, testenv.SecondaryOptions{Zones: []string{testZone}, Primary: addr, Port: secPort})
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				require.FailNow(t, "secondary: "+what+" not reached", "named log:\n%s", sec.Log())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	secSerial := func() uint32 {
		soa := sec.Query(t, testZone, dns.TypeSOA)
		if len(soa) != 1 {
			return 0
		}
		return soa[0].(*dns.SOA).Serial
	}
	secA := func(name string) []string { return answerStrings(sec.Query(t, name, dns.TypeA)) }
	waitFor("first transfer", func() bool { return secSerial() == oldSerial && len(secA("old.lb.example.org")) == 1 })

	stop1()
	require.NoError(t, os.RemoveAll(cfg.DataDir), "delete the data dir")
	cfg.Listen = addr // the secondary's primary
	cfg.SerialClock = fixedClock(testSerialBase + 3600)
	s2, _ := runStoppable(t, cfg)
	require.Equal(t, addr, s2.Addr(), "restarted on another address")
	require.Equal(t, dns.RcodeSuccess, update(t, addr, func(m *dns.Msg) {
		m.Insert([]dns.RR{mustRR(t, "new.lb.example.org. 60 IN A 192.0.2.99")})
	}), "update after the loss")
	newSerial := serial(t, addr)
	require.True(t, serialGreater(newSerial, oldSerial), "serial after the loss %d is not greater than %d", newSerial, oldSerial)

	waitFor("new record", func() bool {
		return secSerial() == newSerial && len(secA("new.lb.example.org")) == 1
	})
	assert.Equal(t, []string{"new.lb.example.org. 60 IN A 192.0.2.99"}, secA("new.lb.example.org"), "new record at the secondary")
	assert.Empty(t, secA("old.lb.example.org"), "the secondary still serves data the primary lost")
}
