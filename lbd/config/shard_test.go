package config

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// shardLBD is an [lbd] section of a shard instance; the rest is minimal's.
const shardLBD = `[lbd]
instance = "lbd1"
http_listen = "127.0.0.1:8080"
peers = [
  { instance = "lbd2", url = "http://127.0.0.1:8081/load-balancing/heartbeat" },
  { instance = "lbd3", url = "http://127.0.0.1:8082/load-balancing/heartbeat" },
]
`

func shardConfig(lbd, extra string) string {
	return strings.Replace(minimal, "[lbd]\nrole = \"master\"\n", lbd, 1) + extra
}

func TestShardConfig(t *testing.T) {
	cfg, err := Parse("shard.toml", []byte(shardConfig(shardLBD, "[heartbeat]\ninterval = \"1s\"\nstale_after = \"3s\"\n")))
	require.NoError(t, err)
	assert.True(t, cfg.Sharded())
	assert.True(t, cfg.IsMaster("whatever"), "every shard instance is a master of its zones")
	assert.Equal(t, 2*time.Second, cfg.LeaseTTL, "lease_ttl defaults to 2 × heartbeat.interval")
	assert.Equal(t, "lbd1", cfg.HeartbeatName("host1"), "the beat names the instance")
	assert.Equal(t, []Peer{{"lbd2", "http://127.0.0.1:8081/load-balancing/heartbeat"}, {"lbd3", "http://127.0.0.1:8082/load-balancing/heartbeat"}}, cfg.LBD.Peers)
	require.NoError(t, cfg.CheckRole("host1"))

	// Without stale_after a shard's peers are stale after 2 intervals and
	// a second (take-over within 3 intervals); set, it is kept; unsharded,
	// the master/slave default stays.
	for _, tc := range []struct {
		name, src string
		want      time.Duration
	}{
		{"sharded, default", shardConfig(shardLBD, ""), 11 * time.Second},
		{"sharded, interval 2s", shardConfig(shardLBD, "[heartbeat]\ninterval = \"2s\"\n"), 5 * time.Second},
		{"sharded, stale_after set", shardConfig(shardLBD, "[heartbeat]\nstale_after = \"40s\"\n"), 40 * time.Second},
		{"not sharded", minimal, 30 * time.Second},
	} {
		cfg, err := Parse("shard.toml", []byte(tc.src))
		require.NoError(t, err, tc.name)
		assert.Equal(t, tc.want, cfg.Heartbeat.StaleAfter.Duration, tc.name)
	}

	// Three instances share BIND's update-quota: 96 / 3 each by default;
	// set, it is kept, with a warning when the sum passes the quota.
	inFlight := func(n int) string {
		return strings.Replace(shardConfig(shardLBD, ""), "[dns]\n", fmt.Sprintf("[dns]\nupdates_in_flight = %d\n", n), 1)
	}
	for _, tc := range []struct {
		name, src string
		want      int
		warn      bool
	}{
		{"sharded, default", shardConfig(shardLBD, ""), 32, false},
		{"sharded, set low", inFlight(30), 30, false},
		{"sharded, set high", inFlight(64), 64, true},
		{"not sharded", minimal, 64, false},
	} {
		cfg, err := Parse("shard.toml", []byte(tc.src))
		require.NoError(t, err, tc.name)
		assert.Equal(t, tc.want, cfg.DNS.UpdatesInFlight, tc.name)
		var warned []string
		for _, w := range cfg.Warnings() {
			if strings.Contains(w, "dns.updates_in_flight") {
				warned = append(warned, w)
			}
		}
		if tc.warn {
			require.Len(t, warned, 1, tc.name)
			assert.Contains(t, warned[0], "3 instances × 64: up to 192 UPDATEs in flight", tc.name)
		} else {
			assert.Empty(t, warned, tc.name)
		}
	}

	noInstance := strings.Replace(shardLBD, "instance = \"lbd1\"\n", "", 1)
	cfg, err = Parse("shard.toml", []byte(shardConfig(noInstance, "")))
	require.NoError(t, err)
	assert.Equal(t, "host1", cfg.HeartbeatName("host1"))
	err = cfg.CheckRole("lbd2")
	require.Error(t, err, "a host named like a peer")
	assert.Contains(t, err.Error(), "lbd.peers[0].instance")

	cfg, err = Parse("shard.toml", []byte(shardConfig(shardLBD, "[heartbeat]\ninterval = \"1s\"\nstale_after = \"3s\"\n")+""))
	require.NoError(t, err)
	assert.False(t, strings.Contains(cfg.Owner, "lbd1"), "the ownership record names the group, not the instance")
	assert.Empty(t, cfg.Warnings())

	cfg, err = Parse("shard.toml", []byte(shardConfig(shardLBD, "[heartbeat]\nurl = \"http://x:1/load-balancing/heartbeat\"\n")))
	require.NoError(t, err)
	require.Len(t, cfg.Warnings(), 1)
	assert.Contains(t, cfg.Warnings()[0], "key heartbeat.url: ignored with lbd.peers")
}

func TestShardConfigErrors(t *testing.T) {
	cases := []struct {
		name, lbd, extra, want string
	}{
		{"slave with peers", shardLBD + "role = \"slave\"\n", "", "key lbd.role: must not be slave with lbd.peers"},
		{"no http_listen", strings.Replace(shardLBD, "http_listen = \"127.0.0.1:8080\"\n", "", 1), "", "key lbd.http_listen: required with lbd.peers"},
		{"no fencing", shardLBD, "", "key dns.fencing: must be true"},
		{"lease_ttl too short", shardLBD, "", "key dns.lease_ttl: must be at least 2 × heartbeat.interval (10s)"},
		{"peer without instance", strings.Replace(shardLBD, `instance = "lbd2", `, "", 1), "", "shard.toml:5: key lbd.peers[0].instance: required"},
		{"peer named like this instance", strings.Replace(shardLBD, `"lbd2"`, `"lbd1"`, 1), "", "key lbd.peers[0].instance: \"lbd1\" is this instance"},
		{"peer listed twice", strings.Replace(shardLBD, `"lbd3"`, `"lbd2"`, 1), "", "key lbd.peers[1].instance: \"lbd2\" is already lbd.peers[0]"},
		{"bad peer name", strings.Replace(shardLBD, `"lbd3"`, `"lbd 3"`, 1), "", "key lbd.peers[1].instance: \"lbd 3\": only letters"},
		{"bad peer url", strings.Replace(shardLBD, "http://127.0.0.1:8082", "ftp://x", 1), "", "key lbd.peers[1].url: not an http(s) URL"},
		{"legacy beat with a secret", shardLBD, "[heartbeat]\nsecret = \"0123456789abcdef0123\"\n", "key lbd.peers[0].url: with a heartbeat secret"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := shardConfig(tc.lbd, tc.extra)
			switch tc.name {
			case "no fencing":
				src = strings.Replace(src, "[dns]\n", "[dns]\nfencing = false\n", 1)
			case "lease_ttl too short":
				src = strings.Replace(src, "[dns]\n", "[dns]\nlease_ttl = \"9s\"\n", 1)
			}
			_, err := Parse("shard.toml", []byte(src))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
