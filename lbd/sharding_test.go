package lbd

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/dnsserver"
	"github.com/lbd-project/lbd/dnsupdate"
	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/internal/tsig"
	"github.com/lbd-project/lbd/lbd/config"
	"github.com/lbd-project/lbd/lbd/lease"
	"github.com/lbd-project/lbd/lbd/shard"
)

// Two sharded daemons in one process (under the race detector) against the
// embedded DNS server: each takes the leases of the zones rendezvous
// hashing gives it, and when one stops the other takes its zones once its
// beat is stale; restarted, it gets them back. Members never answer, so
// the leases (the lease step) are all that is written.
func TestShardedDaemonsShareAndTakeOverZones(t *testing.T) {
	key := tsig.Spec{Name: "k.", Algorithm: "hmac-sha256", Secret: "c2VjcmV0LXNlY3JldC1zZWNyZXQ="}
	var zones []string
	var authZones []dnsserver.Zone
	for i := range 6 {
		z := fmt.Sprintf("z%d.shard.test", i)
		zones = append(zones, z)
		authZones = append(authZones, dnsserver.Zone{Name: z, NS: []string{"ns1." + z + "."}, UpdateKeys: []string{key.Name}})
	}
	srv, err := dnsserver.New(dnsserver.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Keys: []tsig.Spec{key}, Zones: authZones})
	require.NoError(t, err)
	sctx, scancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { defer close(served); srv.Run(sctx) }()
	t.Cleanup(func() { scancel(); <-served })

	names := []string{"a", "b"}
	httpAddr := map[string]string{}
	for _, n := range names {
		httpAddr[n] = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "127.0.0.1"))
	}
	snmpPort := testenv.FreePort(t, "127.0.0.1")
	configFor := func(self, peer string) *config.Compiled {
		var b strings.Builder
		fmt.Fprintf(&b, "[lbd]\ninstance = %q\nhttp_listen = %q\ntick = \"100ms\"\n", self, httpAddr[self])
		fmt.Fprintf(&b, "peers = [{ instance = %q, url = \"http://%s/load-balancing/heartbeat.v2\" }]\n", peer, httpAddr[peer])
		b.WriteString("[heartbeat]\ninterval = \"300ms\"\nstale_after = \"2s\"\nsecret = \"0123456789abcdef0123456789abcdef\"\n")
		fmt.Fprintf(&b, "[dns]\nserver = %q\ntimeout = \"300ms\"\nretries = 0\n", srv.Addr())
		fmt.Fprintf(&b, "internal_key = { name = %q, algorithm = %q, secret = %q }\n", key.Name, key.Algorithm, key.Secret)
		fmt.Fprintf(&b, "[snmp]\nversion = \"2c\"\ncommunity = \"public\"\nport = %d\ntimeout = \"50ms\"\nretries = 0\n", snmpPort)
		for _, z := range zones {
			fmt.Fprintf(&b, "[[alias]]\nname = %q\nmembers = [\"127.0.0.1\"]\npolling_interval = \"1s\"\n", z)
		}
		cfg, err := config.Parse(self+".toml", []byte(b.String()))
		require.NoError(t, err)
		return cfg
	}
	k, err := key.Compile()
	require.NoError(t, err)
	client := &dnsupdate.Client{Server: srv.Addr(), Timeout: time.Second, Key: k}
	holder := func(zone string) string {
		recs, err := client.QueryTXT(context.Background(), dnsupdate.LeaseName(zone))
		if err != nil || len(recs) != 1 {
			return ""
		}
		l, _ := lease.Parse(recs[0])
		return l.Holder
	}
	leasesHeldBy := func(owners map[string]string) func() bool {
		return func() bool {
			for _, z := range zones {
				if holder(z) != owners[z] {
					return false
				}
			}
			return true
		}
	}
	run := func(self, peer string) (stop func()) {
		log := logrus.New()
		log.SetOutput(io.Discard)
		if testing.Verbose() {
			log.SetOutput(&testWriter{t, self})
			log.SetLevel(logrus.DebugLevel)
		}
		d, err := New(configFor(self, peer), self+".host", log)
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); d.Run(ctx) }()
		// Ready once it serves its beat.
		require.Eventually(t, func() bool {
			r, err := http.Get("http://" + httpAddr[self] + "/load-balancing/heartbeat.v2")
			if err != nil {
				return false
			}
			r.Body.Close()
			return r.StatusCode == http.StatusOK
		}, 5*time.Second, 20*time.Millisecond)
		var once sync.Once
		stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
		t.Cleanup(stop)
		return stop
	}
	// No member answers: make sure of it.
	conn, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", snmpPort))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })

	both := shard.Assign(zones, names)
	for _, n := range names {
		require.NotEmpty(t, shard.Owned(both, n), "%s owns none of the zones: pick other names", n)
	}
	stopA := run("a", "b")
	run("b", "a")
	require.Eventually(t, leasesHeldBy(both), 10*time.Second, 50*time.Millisecond, "each zone's lease held by its owner")

	stopA()
	onlyB := shard.Assign(zones, []string{"b"})
	require.Eventually(t, leasesHeldBy(onlyB), 15*time.Second, 50*time.Millisecond, "b takes a's zones")

	run("a", "b")
	require.Eventually(t, leasesHeldBy(both), 10*time.Second, 50*time.Millisecond, "a gets its zones back")
}

// testWriter sends a daemon's log lines to t.Log (go test -v).
type testWriter struct {
	t    *testing.T
	name string
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(w.name + ": " + strings.TrimSpace(string(p)))
	return len(p), nil
}

// The lease step reads the leases of every zone at its first step and
// every leaseSweepEvery-th; in between, of the zones this instance owns or
// holds the lease of.
func TestLeaseStepZones(t *testing.T) {
	var b strings.Builder
	b.WriteString("[lbd]\ninstance = \"a\"\nhttp_listen = \"127.0.0.1:1\"\n")
	b.WriteString("peers = [{ instance = \"b\", url = \"http://127.0.0.1:2/load-balancing/heartbeat\" }, { instance = \"c\", url = \"http://127.0.0.1:3/load-balancing/heartbeat\" }]\n")
	b.WriteString("[dns]\nserver = \"127.0.0.1:53\"\ninternal_key = { name = \"k.\", algorithm = \"hmac-sha256\", secret = \"c2VjcmV0\" }\n")
	b.WriteString("[snmp]\nversion = \"2c\"\ncommunity = \"public\"\n")
	for i := range 12 {
		fmt.Fprintf(&b, "[[alias]]\nname = \"z%d.shard.test\"\nmembers = [\"m.example.org\"]\n", i)
	}
	d := testDaemon(t, b.String())
	cfg := d.cfg
	now := time.Now()
	owned := d.ownedZones(cfg, now)
	var notOwned string
	for _, p := range cfg.Params {
		if !owned[p.Zone] {
			notOwned = p.Zone
			break
		}
	}
	require.NotEmpty(t, notOwned, "12 zones over 3 instances: some are another's")
	d.mu.Lock()
	d.leases = map[string]map[string]lease.Plan{cfg.Views[0].String(): {notOwned: {Write: true}}}
	d.mu.Unlock()
	want := map[string]bool{notOwned: true}
	for z := range owned {
		want[z] = true
	}
	for step := range 2*leaseSweepEvery + 1 {
		got := d.leaseStepZones(cfg, now)
		if step%leaseSweepEvery == 0 {
			require.Nil(t, got, "step %d: a sweep of every zone", step)
		} else {
			require.Equal(t, want, got, "step %d: the zones owned and the one whose lease it holds", step)
		}
	}
}
