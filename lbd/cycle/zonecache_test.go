package cycle

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/dnsupdate"
	"github.com/lbd-project/lbd/lbd/config"
	"github.com/lbd-project/lbd/lbd/lease"
)

func cacheConfig() *config.Compiled {
	return &config.Compiled{
		Views:  []*config.View{{Server: "127.0.0.1:53"}},
		Params: []config.Params{{Name: "a.lb.example.org", Zone: "lb.example.org"}},
	}
}

// batch runs the cache side of one batch's reads of alias 0: the serial
// (when the cache asks for it and serial is not 0), then the name. It
// returns whether the serial was asked for and whether the name came from
// the cache; a name not cached is "read" as st and kept.
func batch(c *ZoneCache, now time.Time, maxAge time.Duration, serial uint32, st dnsupdate.State) (asked, hit bool, r *Reads) {
	cfg := cacheConfig()
	r = &Reads{Cache: c, Now: now, MaxAge: maxAge}
	k := keyOf(cfg.Views[0], cfg.Params[0].Zone)
	if r.needsSerial(k) {
		asked = true
		if serial != 0 {
			r.noteSerial(k, serial)
		}
	}
	if _, ok := r.name(k, cfg.Params[0].Name); ok {
		return asked, true, r
	}
	r.storeNames(map[zoneKey]map[string]Served{k: {cfg.Params[0].Name: {State: st}}})
	return asked, false, r
}

func TestZoneCacheBatches(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	st := dnsupdate.State{A: []netip.Addr{netip.MustParseAddr("192.0.2.1")}}
	type step struct {
		at         time.Duration
		serial     uint32
		asked, hit bool
		why        string
	}
	for _, tc := range []struct {
		name   string
		maxAge time.Duration
		steps  []step
	}{
		{"first read without the serial, then the serial, then the cache", 10 * time.Minute, []step{
			{0, 7, false, false, "first read: nothing known, no serial asked"},
			{time.Second, 7, true, false, "second: the serial first, the records after it"},
			{2 * time.Second, 7, true, true, "third: same serial, from the cache"},
			{3 * time.Second, 8, true, false, "a new serial: read again"},
			{4 * time.Second, 8, true, true, "and cached under it"},
		}},
		{"records older than serial_cache are read again", time.Minute, []step{
			{0, 7, false, false, ""},
			{time.Second, 7, true, false, ""},
			{30 * time.Second, 7, true, true, "30 s old"},
			{61 * time.Second, 7, true, false, "61 s old: read again"},
			{62 * time.Second, 7, true, true, "kept again"},
		}},
		{"a failed serial read uses nothing", 10 * time.Minute, []step{
			{0, 7, false, false, ""},
			{time.Second, 7, true, false, ""},
			{2 * time.Second, 0, true, false, "serial unread"},
			{3 * time.Second, 7, true, true, "the entry is still good"},
		}},
		{"serial_cache 0 caches nothing", 0, []step{
			{0, 7, false, false, ""},
			{time.Second, 7, false, false, ""},
			{2 * time.Second, 7, false, false, ""},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewZoneCache()
			for i, s := range tc.steps {
				asked, hit, _ := batch(c, t0.Add(s.at), tc.maxAge, s.serial, st)
				assert.Equal(t, s.asked, asked, "step %d (%s): serial asked", i, s.why)
				assert.Equal(t, s.hit, hit, "step %d (%s): from the cache", i, s.why)
			}
		})
	}
}

func TestZoneCacheNilReadsNothing(t *testing.T) {
	var r *Reads
	k := zoneKey{"v", "z."}
	assert.False(t, r.needsSerial(k))
	_, ok := r.name(k, "a.z.")
	assert.False(t, ok)
	_, ok = r.lease(k)
	assert.False(t, ok)
	r.storeNames(map[zoneKey]map[string]Served{k: {"a.z.": {}}})
	r.storeLease(k, []string{"x"})
	var c *ZoneCache
	assert.Nil(t, c.Forget(cacheConfig(), Plan{}, Report{}))
}

func TestZoneCacheLease(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	c := NewZoneCache()
	cfg := cacheConfig()
	k := keyOf(cfg.Views[0], "lb.example.org")
	batch(c, t0, time.Hour, 7, dnsupdate.State{})
	_, _, r := batch(c, t0.Add(time.Second), time.Hour, 7, dnsupdate.State{})
	_, ok := r.lease(k)
	require.False(t, ok, "not read yet under this serial")
	r.storeLease(k, []string{"holder=lbd1 epoch=1"})
	_, _, r = batch(c, t0.Add(2*time.Second), time.Hour, 7, dnsupdate.State{})
	got, ok := r.lease(k)
	require.True(t, ok)
	assert.Equal(t, lease.State{Records: []string{"holder=lbd1 epoch=1"}}, got)
	_, _, r = batch(c, t0.Add(3*time.Second), time.Hour, 8, dnsupdate.State{})
	_, ok = r.lease(k)
	assert.False(t, ok, "a new serial: the lease is read again")
}

// A write of lbd's own drops what the cache holds of the zone; when the
// serial read back after it is the one the entry was read under, the
// server's serial does not follow changes and the view is never cached
// again.
func TestForget(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	cfg := cacheConfig()
	k := keyOf(cfg.Views[0], "lb.example.org")
	plan := Plan{Aliases: []AliasPlan{{Alias: 0, Name: "a.lb.example.org", Views: []ViewPlan{{View: 0, Action: Write}}}}}
	for _, tc := range []struct {
		name       string
		after      map[int]uint32 // the serial read back after the write
		wantFrozen bool
	}{
		{"serial moved", map[int]uint32{0: 8}, false},
		{"serial unread", nil, false},
		{"serial stayed", map[int]uint32{0: 7}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewZoneCache()
			batch(c, t0, time.Hour, 7, dnsupdate.State{})
			batch(c, t0.Add(time.Second), time.Hour, 7, dnsupdate.State{})
			_, hit, _ := batch(c, t0.Add(2*time.Second), time.Hour, 7, dnsupdate.State{})
			require.True(t, hit)
			frozen := c.Forget(cfg, plan, Report{Aliases: []AliasReport{{Serials: tc.after}}})
			if tc.wantFrozen {
				assert.Equal(t, []string{"127.0.0.1:53"}, frozen)
			} else {
				assert.Empty(t, frozen)
			}
			r := &Reads{Cache: c, Now: t0.Add(3 * time.Second), MaxAge: time.Hour}
			assert.Equal(t, !tc.wantFrozen, r.needsSerial(k), "the serial is read again unless the view is frozen")
			_, hit, _ = batch(c, t0.Add(3*time.Second), time.Hour, 7, dnsupdate.State{})
			assert.False(t, hit, "written: read again")
			_, hit, _ = batch(c, t0.Add(4*time.Second), time.Hour, 7, dnsupdate.State{})
			assert.Equal(t, !tc.wantFrozen, hit, "cached again only if the serial follows changes")
			assert.Empty(t, c.Forget(cfg, plan, Report{Aliases: []AliasReport{{Serials: tc.after}}}), "reported once")
		})
	}
	t.Run("dry run forgets nothing", func(t *testing.T) {
		c := NewZoneCache()
		batch(c, t0, time.Hour, 7, dnsupdate.State{})
		batch(c, t0.Add(time.Second), time.Hour, 7, dnsupdate.State{})
		c.Forget(cfg, Plan{Aliases: plan.Aliases, DryRun: true}, Report{})
		_, hit, _ := batch(c, t0.Add(2*time.Second), time.Hour, 7, dnsupdate.State{})
		assert.True(t, hit)
	})
}

func TestTouched(t *testing.T) {
	a := func(s ...string) []netip.Addr {
		var out []netip.Addr
		for _, x := range s {
			out = append(out, netip.MustParseAddr(x))
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		ch     dnsupdate.Change
		v4, v6 bool
	}{
		{"IPv4 only", dnsupdate.Change{Desired: a("192.0.2.1"), Add: a("192.0.2.1")}, true, false},
		{"IPv6 only", dnsupdate.Change{Desired: a("2001:db8::1")}, false, true},
		{"an AAAA removed", dnsupdate.Change{Desired: a("192.0.2.1"), Remove: a("2001:db8::1")}, true, true},
		{"both desired", dnsupdate.Change{Desired: a("192.0.2.1", "2001:db8::1")}, true, true},
		{"nothing desired nor removed", dnsupdate.Change{MetaSet: true}, true, true},
	} {
		v4, v6 := touched(tc.ch)
		assert.Equal(t, tc.v4, v4, tc.name)
		assert.Equal(t, tc.v6, v6, tc.name)
	}
}

func TestSerialWanted(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	cfg := cacheConfig()
	c := NewZoneCache()
	r := &Reads{Cache: c, Now: t0, MaxAge: time.Hour}
	assert.True(t, r.SerialWanted(cfg, true)(0, "lb.example.org"), "the audit log wants every serial")
	assert.False(t, r.SerialWanted(cfg, false)(0, "lb.example.org"), "a zone the cache does not know")
	batch(c, t0, time.Hour, 7, dnsupdate.State{})
	assert.False(t, r.SerialWanted(cfg, false)(0, "lb.example.org"), "read without its serial")
	batch(c, t0.Add(time.Second), time.Hour, 7, dnsupdate.State{})
	assert.True(t, r.SerialWanted(cfg, false)(0, "lb.example.org"), "known under a serial: the write's effect on it is checked")
	var none *Reads
	assert.False(t, none.SerialWanted(cfg, false)(0, "lb.example.org"))
}
