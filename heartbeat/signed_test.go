package heartbeat

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	testKey  = []byte("0123456789abcdef-shared-secret-for-tests")
	otherKey = []byte("fedcba9876543210-another-secret-entirely")
)

func TestSignFormat(t *testing.T) {
	b := Beat{Instance: "m.example.org", Time: time.UnixMilli(1700000000123), Counter: 42}
	l := b.Sign(testKey)
	f := strings.Fields(l)
	require.Len(t, f, 5)
	assert.Equal(t, []string{"lbd-heartbeat-v2", "m.example.org", "1700000000123", "42"}, f[:4])
	assert.Len(t, f[4], 64, "hex HMAC-SHA256")
	assert.True(t, strings.HasSuffix(l, "\n"))
	got, err := Verify(l, testKey)
	require.NoError(t, err)
	assert.Equal(t, b.Instance, got.Instance)
	assert.True(t, got.Time.Equal(b.Time))
	assert.Equal(t, b.Counter, got.Counter)
}

// Every way a beat can fail to verify, each wrapping ErrRejected.
func TestVerifyRejects(t *testing.T) {
	good := Beat{Instance: "m.example.org", Time: time.UnixMilli(1700000000123), Counter: 42}.Sign(testKey)
	f := strings.Fields(good)
	join := func(fs ...string) string { return strings.Join(fs, " ") + "\n" }
	for _, tc := range []struct {
		name, body string
		key        []byte
		want       string
	}{
		{"wrong secret", good, otherKey, "HMAC does not verify"},
		{"no key", good, nil, "no key"},
		{"tampered instance", join(f[0], "evil.example.org", f[2], f[3], f[4]), testKey, "HMAC does not verify"},
		{"tampered time", join(f[0], f[1], "1700000999123", f[3], f[4]), testKey, "HMAC does not verify"},
		{"tampered counter", join(f[0], f[1], f[2], "43", f[4]), testKey, "HMAC does not verify"},
		{"tampered tag", join("lbd-heartbeat-v3", f[1], f[2], f[3], f[4]), testKey, "not an authenticated beat"},
		{"tampered MAC", join(f[0], f[1], f[2], f[3], strings.Repeat("0", 64)), testKey, "HMAC does not verify"},
		{"short MAC", join(f[0], f[1], f[2], f[3], f[4][:40]), testKey, "malformed HMAC"},
		{"legacy line", Line("m.example.org", time.Unix(1700000000, 0)), testKey, "not an authenticated beat"},
		{"two beats", good + good, testKey, "not an authenticated beat"},
		{"empty", "", testKey, "not an authenticated beat"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(tc.body, tc.key)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrRejected)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// The Verifier's freshness and order rules, beat by beat on one Verifier.
func TestVerifierAccept(t *testing.T) {
	now := time.UnixMilli(1700000000000)
	sign := func(inst string, at time.Time, n uint64) string {
		return Beat{Instance: inst, Time: at, Counter: n}.Sign(testKey)
	}
	v := &Verifier{Key: testKey, Instance: "m", MaxSkew: 30 * time.Second}
	steps := []struct {
		name string
		body string
		at   time.Time
		want string // "" = accepted
	}{
		{"first beat", sign("m", now, 100), now, ""},
		{"same beat fetched again", sign("m", now, 100), now.Add(time.Second), ""},
		{"newer beat", sign("m", now.Add(5*time.Second), 101), now.Add(5 * time.Second), ""},
		{"replayed older counter", sign("m", now, 100), now.Add(6 * time.Second), "replay"},
		{"replay with a fresh time cannot be forged", sign("m", now.Add(6*time.Second), 100), now.Add(6 * time.Second), "replay"},
		{"counter reused by another beat", sign("m", now.Add(7*time.Second), 101), now.Add(7 * time.Second), "reused"},
		{"stale time", sign("m", now.Add(-time.Minute), 200), now.Add(8 * time.Second), "old"},
		{"future time", sign("m", now.Add(time.Hour), 201), now.Add(8 * time.Second), "future"},
		{"other instance", sign("other", now.Add(8*time.Second), 202), now.Add(8 * time.Second), "not from the master"},
		{"wrong secret", Beat{Instance: "m", Time: now.Add(9 * time.Second), Counter: 203}.Sign(otherKey), now.Add(9 * time.Second), "HMAC"},
		{"skew within the window", sign("m", now.Add(20*time.Second), 204), now.Add(9 * time.Second), ""},
	}
	for _, s := range steps {
		b, err := v.Accept(s.body, s.at)
		if s.want == "" {
			require.NoError(t, err, s.name)
			continue
		}
		require.Error(t, err, s.name)
		assert.ErrorIs(t, err, ErrRejected, s.name)
		assert.Contains(t, err.Error(), s.want, s.name)
		assert.Zero(t, b, s.name)
	}
	assert.Equal(t, uint64(204), v.Highest(), "rejected beats never raise the highest counter")

	_, err := (&Verifier{Key: testKey}).Accept(sign("m", now, 1), now)
	assert.ErrorContains(t, err, "MaxSkew", "a Verifier without a window rejects everything")
	anyInst := &Verifier{Key: testKey, MaxSkew: time.Minute}
	_, err = anyInst.Accept(sign("whoever", now, 1), now)
	assert.NoError(t, err, "no Instance: any instance holding the key")
}

// A restarted master's counter starts above the previous run's last one
// without anything persisted.
func TestCounterAcrossRestart(t *testing.T) {
	start := time.Unix(1700000000, 0)
	var first Counter
	var last uint64
	for i := 0; i < 1000; i++ {
		n := first.Next(start.Add(time.Duration(i) * time.Second))
		require.Greater(t, n, last)
		last = n
	}
	// The next run starts just after the previous one ended (1000 s).
	var second Counter
	assert.Greater(t, second.Next(start.Add(1001*time.Second)), last)
}

func TestPublisherSigned(t *testing.T) {
	p := &Publisher{}
	mux := httptest.NewServer(p.Signed())
	defer mux.Close()
	ctx := context.Background()
	_, err := FetchSigned(ctx, mux.Client(), mux.URL)
	require.ErrorContains(t, err, "HTTP 503", "before the first beat")

	now := time.Now()
	p.Beat("m.example.org", nil, now)
	_, err = FetchSigned(ctx, mux.Client(), mux.URL)
	require.ErrorContains(t, err, "no heartbeat secret", "beating without a key serves no authenticated beat")

	v := &Verifier{Key: testKey, Instance: "m.example.org", MaxSkew: time.Minute}
	var prev uint64
	for i := 0; i < 3; i++ {
		p.Beat("m.example.org", testKey, now)
		body, err := FetchSigned(ctx, mux.Client(), mux.URL)
		require.NoError(t, err)
		b, err := v.Accept(body, now)
		require.NoError(t, err)
		assert.Greater(t, b.Counter, prev, "each beat a higher counter")
		prev = b.Counter
	}
	p.Stop()
	_, err = FetchSigned(ctx, mux.Client(), mux.URL)
	require.ErrorContains(t, err, "HTTP 503", "after Stop")
}
