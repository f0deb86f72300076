package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/dnsupdate"
	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/lbd"
	"github.com/lbd-project/lbd/lbd/config"
	"github.com/lbd-project/lbd/lbd/override"
	"github.com/lbd-project/lbd/lbd/snmp"
	"github.com/lbd-project/lbd/lbd/status"
)

type fakeSource struct{ s status.Snapshot }

func (f *fakeSource) Snapshot() status.Snapshot { return f.s }

func testConfig(t *testing.T, aliases ...string) *config.Compiled {
	t.Helper()
	src := `
[lbd]
role = "master"
[dns]
server = "127.0.0.1:` + strconv.Itoa(testenv.FreePort(t, "127.0.0.1")) + `"
retries = 0
timeout = "200ms"
internal_key = { name = "k.", algorithm = "hmac-sha256", secret = "c2VjcmV0" }
[snmp]
version = "2c"
community = "public"
timeout = "50ms"
retries = 0
`
	for _, a := range aliases {
		src += "[[alias]]\nname = \"" + a + "\"\nmembers = [\"127.0.0.1\"]\n"
	}
	cfg, err := config.Parse("m.toml", []byte(src))
	require.NoError(t, err)
	return cfg
}

var t0 = time.Unix(1_700_000_000, 0)

func TestSnapshotGauges(t *testing.T) {
	src := &fakeSource{status.Snapshot{Master: false, Writing: true, LastBeat: t0.Add(-90 * time.Second),
		Leases: map[string]map[string]status.Lease{"192.0.2.1:53": {"example.org": {Writing: true}, "example.net": {Holder: "other"}}},
		Aliases: []status.Alias{
			{Name: "a.example.org", Configured: 3, Usable: 2, Hosts: []string{"m1", "m2"}, Addrs: []string{"192.0.2.11", "192.0.2.12", "2001:db8::1"},
				LastEval: t0, LastWrite: t0.Add(-time.Minute), LastChange: t0.Add(-time.Hour),
				Overrides: []override.Override{{Alias: "a.example.org", Member: "m3", Action: "drain", Reason: "disk"}}},
			{Name: "b.example.org", Configured: 2, Usable: 0, Hosts: []string{"m3"}, Addrs: []string{"192.0.2.13"},
				Fallback: "all-random", Error: "alias b.example.org: boom", LastEval: t0, StaleMembers: 1},
		}}}
	c := New(src)
	c.Now = func() time.Time { return t0 }
	want := `
# HELP lbd_alias_fallback_active 1 when no member is usable and the alias's fallback rule decides what is published.
# TYPE lbd_alias_fallback_active gauge
lbd_alias_fallback_active{alias="a.example.org"} 0
lbd_alias_fallback_active{alias="b.example.org"} 1
# HELP lbd_alias_failed 1 when the alias's last evaluation failed on at least one DNS server.
# TYPE lbd_alias_failed gauge
lbd_alias_failed{alias="a.example.org"} 0
lbd_alias_failed{alias="b.example.org"} 1
# HELP lbd_alias_last_update_timestamp_seconds Unix time of the last accepted DNS update of the alias by this instance (absent before the first).
# TYPE lbd_alias_last_update_timestamp_seconds gauge
lbd_alias_last_update_timestamp_seconds{alias="a.example.org"} 1.69999994e+09
# HELP lbd_alias_members Members of the alias: configured, usable (a usable load and an address) and published in DNS, at the last evaluation.
# TYPE lbd_alias_members gauge
lbd_alias_members{alias="a.example.org",state="configured"} 3
lbd_alias_members{alias="a.example.org",state="published"} 2
lbd_alias_members{alias="a.example.org",state="usable"} 2
lbd_alias_members{alias="b.example.org",state="configured"} 2
lbd_alias_members{alias="b.example.org",state="published"} 1
lbd_alias_members{alias="b.example.org",state="usable"} 0
# HELP lbd_alias_overrides Overrides (drains) in force for members of the alias.
# TYPE lbd_alias_overrides gauge
lbd_alias_overrides{alias="a.example.org"} 1
lbd_alias_overrides{alias="b.example.org"} 0
# HELP lbd_alias_published_addresses Addresses the alias's last decision publishes.
# TYPE lbd_alias_published_addresses gauge
lbd_alias_published_addresses{alias="a.example.org"} 3
lbd_alias_published_addresses{alias="b.example.org"} 1
# HELP lbd_alias_stale_members Published members of the alias whose usable load has not changed for [lbd] stale_load_after (a stuck metric?).
# TYPE lbd_alias_stale_members gauge
lbd_alias_stale_members{alias="a.example.org"} 0
lbd_alias_stale_members{alias="b.example.org"} 1
# HELP lbd_heartbeat_age_seconds Seconds since the master's last heartbeat accepted by this slave (absent on a master and before the first beat).
# TYPE lbd_heartbeat_age_seconds gauge
lbd_heartbeat_age_seconds 90
# HELP lbd_lease_held 1 when this instance holds the zone's lease on the DNS server (and view), with [dns] fencing.
# TYPE lbd_lease_held gauge
lbd_lease_held{server="192.0.2.1:53",zone="example.net"} 0
lbd_lease_held{server="192.0.2.1:53",zone="example.org"} 1
# HELP lbd_master 1 when this instance is the configured master, 0 for a slave.
# TYPE lbd_master gauge
lbd_master 0
# HELP lbd_writing 1 when this instance may write DNS (a master; a slave whose master's heartbeat is stale).
# TYPE lbd_writing gauge
lbd_writing 1
`
	names := []string{"lbd_alias_fallback_active", "lbd_alias_failed", "lbd_alias_last_update_timestamp_seconds", "lbd_alias_members",
		"lbd_alias_overrides", "lbd_alias_published_addresses", "lbd_alias_stale_members", "lbd_heartbeat_age_seconds", "lbd_lease_held", "lbd_master", "lbd_writing"}
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), names...))

	// A master has no heartbeat age.
	src.s.Master, src.s.LastBeat = true, time.Time{}
	n, err := testutil.GatherAndCount(registry(t, c), "lbd_heartbeat_age_seconds", "lbd_alias_last_success_timestamp_seconds")
	require.NoError(t, err)
	assert.Zero(t, n, "no heartbeat age on a master, no success before the first cycle")
	lint(t, c)
}

// cycles is the number of cycles the histogram observed.
func cycles(t *testing.T, c *Collector) uint64 {
	var m dto.Metric
	require.NoError(t, c.cycle.Write(&m))
	assert.InDelta(t, 1.5, m.GetHistogram().GetSampleSum()/float64(m.GetHistogram().GetSampleCount()), 1e-9)
	return m.GetHistogram().GetSampleCount()
}

func registry(t *testing.T, c prometheus.Collector) *prometheus.Registry {
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	return reg
}

// lint fails on what promtool check metrics would call a problem.
func lint(t *testing.T, c prometheus.Collector) {
	t.Helper()
	problems, err := testutil.CollectAndLint(c)
	require.NoError(t, err)
	assert.Empty(t, problems)
}

func TestObserveCycle(t *testing.T) {
	cfg := testConfig(t, "a.example.org", "b.example.org")
	src := &fakeSource{status.Snapshot{Aliases: []status.Alias{{Name: "a.example.org"}, {Name: "b.example.org"}}}}
	c := New(src)
	c.Now = func() time.Time { return t0.Add(1500 * time.Millisecond) }
	addr := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	rep := lbd.CycleReport{MayWrite: true,
		Polls: map[netip.Addr]snmp.Reply{addr("192.0.2.1"): {Value: snmp.Value{Int: 5}}, addr("192.0.2.2"): {Value: snmp.Value{Int: -3}},
			addr("192.0.2.3"): {Err: context.DeadlineExceeded}},
		Aliases: []lbd.AliasResult{
			{Alias: "a.example.org", Decided: true, Wrote: true, Views: []lbd.ViewResult{{View: "s1", Drift: true}, {View: "s2"}}},
			{Alias: "b.example.org", Decided: true, Err: errors.New("alias b.example.org: refused")},
		}}
	c.ObserveCycle(t0, cfg, rep)

	assert.Equal(t, uint64(1), cycles(t, c))
	assert.Equal(t, 1.0, testutil.ToFloat64(c.polls.WithLabelValues(snmp.PollOK)))
	assert.Equal(t, 1.0, testutil.ToFloat64(c.polls.WithLabelValues(snmp.PollNegative)))
	assert.Equal(t, 1.0, testutil.ToFloat64(c.polls.WithLabelValues(snmp.PollTimeout)))
	assert.Equal(t, 0.0, testutil.ToFloat64(c.polls.WithLabelValues(snmp.PollAuthError)), "every result has a series")
	assert.Equal(t, 1.0, testutil.ToFloat64(c.drift.WithLabelValues("a.example.org")))
	assert.Equal(t, 0.0, testutil.ToFloat64(c.drift.WithLabelValues("b.example.org")))
	assert.Equal(t, 1.0, testutil.ToFloat64(c.writes.WithLabelValues("a.example.org")))
	assert.Equal(t, 1.0, testutil.ToFloat64(c.errors.WithLabelValues("b.example.org")))

	// The cycle's configuration got its DNS clients instrumented.
	srv := cfg.Views[0].String()
	require.NotNil(t, cfg.Views[0].Client.Observe)
	cfg.Views[0].Client.Observe(dnsupdate.Attempt{Op: "update", Rcode: dns.RcodeSuccess})
	cfg.Views[0].Client.Observe(dnsupdate.Attempt{Op: "update", Rcode: dns.RcodeNotAuth})
	cfg.Views[0].Client.Observe(dnsupdate.Attempt{Op: "update", Rcode: -1, Err: errors.New("timeout")})
	cfg.Views[0].Client.Observe(dnsupdate.Attempt{Op: "query", Rcode: dns.RcodeSuccess})
	assert.Equal(t, 1.0, testutil.ToFloat64(c.updates.WithLabelValues(srv, "NOERROR")))
	assert.Equal(t, 1.0, testutil.ToFloat64(c.updates.WithLabelValues(srv, "NOTAUTH")))
	assert.Equal(t, 1.0, testutil.ToFloat64(c.updates.WithLabelValues(srv, "none")))
	assert.Equal(t, 1.0, testutil.ToFloat64(c.queries.WithLabelValues(srv, "NOERROR")))

	// Only a is a success: b failed.
	n, err := testutil.GatherAndCount(registry(t, c), "lbd_alias_last_success_timestamp_seconds")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	lint(t, c)

	// A reload without b and with another DNS server drops their series.
	again := testConfig(t, "a.example.org")
	c.ObserveCycle(t0, again, lbd.CycleReport{})
	assert.Equal(t, 1, testutil.CollectAndCount(c.drift), "b's drift series is gone")
	assert.Equal(t, 0, testutil.CollectAndCount(c.updates), "the old server's series are gone")
	assert.Equal(t, uint64(2), cycles(t, c))
}

// Instrument leaves a hook set by someone else alone.
func TestInstrumentKeepsHook(t *testing.T) {
	cfg := testConfig(t, "a.example.org")
	called := false
	cfg.Views[0].Client.Observe = func(dnsupdate.Attempt) { called = true }
	c := New(&fakeSource{})
	c.Instrument(cfg)
	cfg.Views[0].Client.Observe(dnsupdate.Attempt{Op: "update"})
	assert.True(t, called)
	assert.Equal(t, 0, testutil.CollectAndCount(c.updates))
}

// A real daemon: /metrics on its HTTP handler after a cycle whose DNS
// server and agent do not answer.
func TestRegisterServesMetrics(t *testing.T) {
	cfg := testConfig(t, "a.example.org")
	log := logrus.New()
	log.SetOutput(io.Discard)
	d, err := lbd.New(cfg, "h", log)
	require.NoError(t, err)
	c, err := Register(d, cfg)
	require.NoError(t, err)
	d.Cycle(context.Background(), time.Now(), true)
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + Path)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	for _, s := range []string{
		"lbd_cycle_duration_seconds_count 1",
		`lbd_polls_total{result="timeout"} 1`,
		`lbd_alias_members{alias="a.example.org",state="configured"} 1`,
		`lbd_dns_queries_total{rcode="none",server="` + cfg.Views[0].String() + `"}`,
		`lbd_alias_errors_total{alias="a.example.org"} 1`,
		"lbd_dns_reads_cached_total 0",
		"lbd_master 1", "go_goroutines", "process_start_time_seconds",
	} {
		assert.Contains(t, string(body), s)
	}
	lint(t, c)
}

func TestShardGauges(t *testing.T) {
	src := &fakeSource{s: status.Snapshot{Master: true, Writing: true, Shard: &status.Shard{Live: []string{"a", "b"},
		Zones: []status.ShardZone{{Zone: "x.example.org", Owner: "a", Mine: true}, {Zone: "y.example.org", Owner: "b"}}}}}
	c := New(src)
	want := `
# HELP lbd_shard_live_instances With [lbd] peers: the instances this one takes as live (itself included), among which the zones are assigned.
# TYPE lbd_shard_live_instances gauge
lbd_shard_live_instances 2
# HELP lbd_shard_zone_owned With [lbd] peers: 1 when this instance owns the zone under the live set (it writes it once it holds the lease), 0 when another instance does.
# TYPE lbd_shard_zone_owned gauge
lbd_shard_zone_owned{zone="x.example.org"} 1
lbd_shard_zone_owned{zone="y.example.org"} 0
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), "lbd_shard_live_instances", "lbd_shard_zone_owned"))
	src.s.Shard = nil
	n, err := testutil.GatherAndCount(registry(t, c), "lbd_shard_live_instances", "lbd_shard_zone_owned")
	require.NoError(t, err)
	assert.Zero(t, n, "no shard gauges without peers")
	lint(t, c)
}
