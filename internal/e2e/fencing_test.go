package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/dnsupdate"
	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/internal/tsig"
)

// partition is an HTTP proxy in front of the master's heartbeat that the
// test can cut: while cut, the slave's fetches fail (a partition between
// slave and master only: both still reach DNS).
type partition struct {
	srv *httptest.Server
	cut atomic.Bool
}

func newPartition(t *testing.T, target string) *partition {
	t.Helper()
	u, err := url.Parse("http://" + target)
	require.NoError(t, err)
	p := &partition{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.cut.Load() {
			http.Error(w, "partitioned", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// dnsServer is what the split-brain scenario needs of a DNS server.
type dnsServer struct {
	addr string
	// a returns the A records of the alias.
	a func(t *testing.T) []string
	// lease returns the TXT records of the alias zone's lease.
	lease func(t *testing.T) []string
}

// Split brain: the master keeps running while its slave cannot reach its
// heartbeat. The slave takes the zone's lease (in the same message as its
// first write) and writes; the master's writes are fenced off by the DNS
// server, it says it lost the lease, and DNS shows only the slave's choice
// (the two have different member lists, so a double write would flap).
// When the partition heals, the slave hands the lease back and the master
// takes it and writes again.
func splitBrain(t *testing.T, srv dnsServer) {
	agents := startThreeAgents(t)
	masterHTTP := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "127.0.0.1"))
	mcfg := writeLBDConfig(t, lbdOpts{Role: "master", Server: srv.addr, SNMPPort: agents[0].Port, HTTP: masterHTTP,
		Alias: alias, Members: []string{"127.0.0.2", "127.0.0.3"}, BestHosts: 1, Polling: "200ms", LeaseTTL: "1h"})
	_, masterLog := startLBD(t, "-config", mcfg, "-hostname", "master.test")
	waitHTTP(t, "http://"+masterHTTP+"/load-balancing/heartbeat")
	waitFor(t, 10*time.Second, func() bool { return strings.Join(srv.a(t), " ") == "127.0.0.2" })
	require.Len(t, srv.lease(t), 1)
	require.Contains(t, srv.lease(t)[0], "holder=master.test")

	part := newPartition(t, masterHTTP)
	scfg := writeLBDConfig(t, lbdOpts{Role: "slave", Server: srv.addr, SNMPPort: agents[0].Port,
		URL: part.srv.URL + "/load-balancing/heartbeat", Alias: alias, Members: []string{"127.0.0.4"}, BestHosts: 1,
		Interval: "200ms", StaleAfter: "2s", Polling: "200ms", LeaseTTL: "1h"})
	_, slaveLog := startLBD(t, "-config", scfg, "-hostname", "slave.test", "-log-level", "debug")
	waitFor(t, 10*time.Second, func() bool { return strings.Count(slaveLog.String(), "slave passive: not writing") >= 3 })
	require.Equal(t, []string{"127.0.0.2"}, srv.a(t), "a passive slave writes nothing")

	// Partition: the slave takes over.
	part.cut.Store(true)
	waitFor(t, 15*time.Second, func() bool { return strings.Join(srv.a(t), " ") == "127.0.0.4" })
	require.Contains(t, srv.lease(t)[0], "holder=slave.test")
	waitFor(t, 10*time.Second, func() bool { return strings.Contains(masterLog.String(), "lease lost") })
	st := statusOf(t, "http://"+masterHTTP+"/status")
	require.Contains(t, st, `"holder": "slave.test"`, "the master's status says who writes the zone")
	require.Contains(t, st, `"writing": false`)
	// For many master cycles DNS shows only the slave's choice.
	for i := 0; i < 40; i++ {
		require.Equal(t, []string{"127.0.0.4"}, srv.a(t), "sample %d: a second writer got through", i)
		time.Sleep(50 * time.Millisecond)
	}

	// Heal: the slave sees the master again, hands back, the master writes.
	// The slave's lease lasts an hour, so only the hand-back can give the
	// zone back within the bounds below.
	part.cut.Store(false)
	waitFor(t, 15*time.Second, func() bool { return strings.Join(srv.a(t), " ") == "127.0.0.2" })
	waitFor(t, 5*time.Second, func() bool { return strings.Contains(srv.lease(t)[0], "holder=master.test") })
	require.Contains(t, slaveLog.String(), "lease handed back")
}

func TestSplitBrainFencedOnBIND(t *testing.T) {
	n := startNamed(t)
	splitBrain(t, dnsServer{
		addr: n.Addr,
		a: func(t *testing.T) []string {
			got, _ := published(t, n, alias)
			return got
		},
		lease: func(t *testing.T) []string { return txt(n.Query(t, dnsupdate.LeaseName(alias), dns.TypeTXT)) },
	})
}

func TestSplitBrainFencedOnKnot(t *testing.T) {
	key := lbdKey
	k := testenv.StartKnot(t, testenv.KnotOptions{Zones: []string{alias}, Keys: []tsig.Spec{key}})
	splitBrain(t, dnsServer{
		addr:  k.Addr,
		a:     func(t *testing.T) []string { return testenv.AddrsA(k.Query(t, alias, dns.TypeA)) },
		lease: func(t *testing.T) []string { return txt(k.Query(t, dnsupdate.LeaseName(alias), dns.TypeTXT)) },
	})
}

func statusOf(t *testing.T, url string) string {
	t.Helper()
	r, err := (&http.Client{Timeout: 2 * time.Second}).Get(url)
	require.NoError(t, err)
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	return string(b)
}

func txt(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		if t, ok := rr.(*dns.TXT); ok {
			out = append(out, strings.Join(t.Txt, ""))
		}
	}
	return out
}
