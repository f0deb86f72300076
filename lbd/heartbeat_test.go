package lbd

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/heartbeat"
	"github.com/lbd-project/lbd/lbd/config"
)

const hbSecret = "a-shared-heartbeat-secret-of-32+bytes"

// hbConfig is minimal with [lbd] and [heartbeat] replaced.
func hbConfig(lbdSection, heartbeatSection string) string {
	return strings.Replace(minimal, "[lbd]\nrole = \"master\"\n", lbdSection+"\n[heartbeat]\n"+heartbeatSection+"\n", 1)
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `\`, `\\`) + `"` }

// swapServer serves whatever handler was stored last.
type swapServer struct{ h atomic.Pointer[http.Handler] }

func (s *swapServer) set(h http.Handler) { s.h.Store(&h) }
func (s *swapServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*s.h.Load()).ServeHTTP(w, r)
}

func fixed(body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) })
}

// slaveWithSecret is a slave (host "h") of master m.example.org fetching
// the authenticated beat from srv, stale_after 3s.
func slaveWithSecret(t *testing.T, srv *httptest.Server) *Daemon {
	t.Helper()
	cfg, err := config.Parse("slave.toml", []byte(hbConfig("[lbd]\nrole = \"slave\"\nmaster = \"m.example.org\"",
		`url = "`+srv.URL+heartbeat.PathV2+`"`+"\ninterval = \"1s\"\nstale_after = \"3s\"\nsecret = "+quote(hbSecret))))
	require.NoError(t, err)
	d := daemonFor(t, cfg)
	d.HTTPClient = srv.Client()
	return d
}

// A slave with a secret is kept passive by a master with the same secret
// (a real master daemon's handler), and not by a forged beat (wrong
// secret) nor a replay: those are no beat, so it takes over stale_after
// after the last genuine one. Times after the fetches are passed to
// mayWrite as values: nothing waits for the clock.
func TestSlaveBelievesOnlyAuthenticatedBeats(t *testing.T) {
	mcfg, err := config.Parse("master.toml", []byte(hbConfig("[lbd]\nrole = \"master\"\nmaster = \"m.example.org\"",
		"interval = \"1s\"\nstale_after = \"3s\"\nsecret = "+quote(hbSecret))))
	require.NoError(t, err)
	master := daemonFor(t, mcfg)
	var sw swapServer
	sw.set(master.Handler())
	srv := httptest.NewServer(&sw)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { master.heartbeatLoop(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	d := slaveWithSecret(t, srv)
	require.Eventually(t, func() bool { return d.FetchHeartbeat(context.Background()) == nil }, 10*time.Second, 20*time.Millisecond,
		"the master's authenticated beat verifies")
	stale := 3 * time.Second
	genuine := d.follower.LastBeat()
	require.False(t, genuine.IsZero())
	active, _ := d.mayWrite(time.Now())
	assert.False(t, active, "a correctly signed beat keeps the slave passive")
	genuineBody, err := heartbeat.FetchSigned(context.Background(), srv.Client(), srv.URL+heartbeat.PathV2)
	require.NoError(t, err)

	// A forger without the secret: fresh time, high counter, wrong key.
	forged := heartbeat.Beat{Instance: "m.example.org", Time: time.Now(), Counter: 1 << 63}.
		Sign([]byte("not-the-secret-but-long-enough-anyway"))
	for _, tc := range []struct{ name, body string }{
		{"forged", forged},
		{"legacy line", heartbeat.Line("m.example.org", time.Now())},
	} {
		sw.set(fixed(tc.body))
		for i := 0; i < 3; i++ {
			err := d.FetchHeartbeat(context.Background())
			require.ErrorIs(t, err, heartbeat.ErrRejected, tc.name)
		}
		assert.Equal(t, genuine, d.follower.LastBeat(), "%s: no beat", tc.name)
		active, _ := d.mayWrite(genuine.Add(stale - time.Second))
		assert.False(t, active, "%s: passive while the genuine beat is fresh", tc.name)
		active, _ = d.mayWrite(genuine.Add(stale + time.Second))
		assert.True(t, active, "%s: takes over stale_after after the last genuine beat", tc.name)
	}

	// Replay: the master beats on; an old genuine beat is then refused.
	sw.set(master.Handler())
	require.Eventually(t, func() bool {
		_ = d.FetchHeartbeat(context.Background())
		return d.follower.LastBeat().After(genuine)
	}, 10*time.Second, 50*time.Millisecond, "a newer genuine beat")
	latest := d.follower.LastBeat()
	sw.set(fixed(genuineBody))
	err = d.FetchHeartbeat(context.Background())
	require.ErrorIs(t, err, heartbeat.ErrRejected)
	assert.Contains(t, err.Error(), "replay")
	assert.Equal(t, latest, d.follower.LastBeat())
	active, _ = d.mayWrite(latest.Add(stale + time.Second))
	assert.True(t, active, "a replayed beat does not keep the slave passive")
}

// The legacy line and file name [lbd] master, not the host name, and the
// master warns once about the difference; without a secret no
// authenticated beat is served.
func TestLegacyLineNamesConfiguredMaster(t *testing.T) {
	file := filepath.Join(t.TempDir(), "heartbeat")
	cfg, err := config.Parse("m.toml", []byte(hbConfig("[lbd]\nrole = \"master\"\nmaster = \"lbmaster.example.org\"",
		"interval = \"100ms\"\nstale_after = \"2s\"\nfile = "+quote(file))))
	require.NoError(t, err)
	log, hook := logtest.NewNullLogger()
	d, err := New(cfg, "node7.example.org", log)
	require.NoError(t, err)
	t.Cleanup(func() { d.poller.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.heartbeatLoop(ctx); close(done) }()

	h := d.Handler()
	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}
	require.Eventually(t, func() bool { return get(heartbeat.Path).Code == http.StatusOK }, 10*time.Second, 10*time.Millisecond)
	body := get(heartbeat.Path).Body.String()
	_, err = heartbeat.Parse(body, "lbmaster.example.org")
	assert.NoError(t, err, "a legacy slave configured with master = lbmaster.example.org matches %q", body)
	assert.NotContains(t, body, "node7")
	require.Eventually(t, func() bool { b, _ := os.ReadFile(file); return strings.HasPrefix(string(b), "lbmaster.example.org : ") },
		10*time.Second, 10*time.Millisecond, "the legacy file names [lbd] master too")
	assert.Equal(t, http.StatusServiceUnavailable, get(heartbeat.PathV2).Code, "no secret, no authenticated beat")
	time.Sleep(300 * time.Millisecond) // a few more beats: still one warning
	cancel()
	<-done

	var warns []*logrus.Entry
	for _, e := range hook.AllEntries() {
		if e.Level == logrus.WarnLevel && strings.Contains(e.Message, "differs from [lbd] master") {
			warns = append(warns, e)
		}
	}
	require.Len(t, warns, 1)
	assert.Equal(t, "node7.example.org", warns[0].Data["hostname"])
	assert.Equal(t, "lbmaster.example.org", warns[0].Data["lbd.master"])
}
