package registry

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/internal/register"
)

var (
	t0     = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	secret = []byte("alias-secret-0123456789")
	src    = netip.MustParseAddr("127.0.0.5")
	policy = Policy{Accepts: func(a string) bool { return a == "a.example.org" || a == "nosecret.example.org" },
		Secrets: map[string][]byte{"a.example.org": secret}}
)

func reg(alias, host string, addrs []string, ttl time.Duration, at time.Time) register.Registration {
	r := register.New(alias, host, nil, ttl, at)
	r.Addrs = addrs
	return register.Sign(r, secret)
}

func TestOffer(t *testing.T) {
	good := reg("a.example.org", "node1.example.org", nil, time.Minute, t0)
	forged := good
	forged.Host = "evil.example.org"
	for _, tc := range []struct {
		name   string
		reg    register.Registration
		from   netip.Addr
		reason string // "" = accepted
	}{
		{"accepted: the source is registered", good, src, ""},
		{"accepted: named addresses including the source", reg("a.example.org", "n", []string{"127.0.0.5", "::1"}, time.Minute, t0), src, ""},
		{"alias not taking registrations", reg("b.example.org", "n", nil, time.Minute, t0), src, ReasonAlias},
		{"alias without a secret", reg("nosecret.example.org", "n", nil, time.Minute, t0), src, ReasonNoSecret},
		{"forged (changed after signing)", forged, src, ReasonSignature},
		{"signed with another secret", register.Sign(register.New("a.example.org", "n", nil, time.Minute, t0), []byte("not-the-secret-0123")), src, ReasonSignature},
		{"too old", reg("a.example.org", "n", nil, time.Minute, t0.Add(-10*time.Minute)), src, ReasonClock},
		{"from the future", reg("a.example.org", "n", nil, time.Minute, t0.Add(10*time.Minute)), src, ReasonClock},
		{"ttl too long", reg("a.example.org", "n", nil, 48*time.Hour, t0), src, ReasonInvalid},
		{"bad host", reg("a.example.org", "bad host!", nil, time.Minute, t0), src, ReasonInvalid},
		{"bad address", reg("a.example.org", "n", []string{"nope"}, time.Minute, t0), src, ReasonInvalid},
		{"source not among the addresses", reg("a.example.org", "n", []string{"192.0.2.1"}, time.Minute, t0), src, ReasonAddress},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := New()
			changed, err := r.Offer(t0, tc.from, tc.reg, policy)
			if tc.reason == "" {
				require.NoError(t, err)
				assert.True(t, changed)
				assert.Len(t, r.Members("a.example.org"), 1)
				assert.Equal(t, uint64(1), r.Stats().Accepted)
				return
			}
			var ref *Refused
			require.True(t, errors.As(err, &ref), "%v", err)
			assert.Equal(t, tc.reason, ref.Reason)
			assert.False(t, changed)
			assert.Empty(t, r.All(), "a refused registration changes nothing")
			assert.Equal(t, uint64(1), r.Stats().Refused[tc.reason])
		})
	}
}

func TestRenewReplayExpire(t *testing.T) {
	r := New()
	first := reg("a.example.org", "node1", nil, time.Minute, t0)
	changed, err := r.Offer(t0, src, first, policy)
	require.NoError(t, err)
	assert.True(t, changed)
	assert.Equal(t, []Event{{Kind: "added", Entry: r.Members("a.example.org")[0]}}, r.Events())

	_, err = r.Offer(t0.Add(time.Second), src, first, policy)
	var ref *Refused
	require.ErrorAs(t, err, &ref)
	assert.Equal(t, ReasonReplay, ref.Reason, "the same registration again is a replay")

	changed, err = r.Offer(t0.Add(30*time.Second), src, reg("a.example.org", "node1", nil, time.Minute, t0.Add(30*time.Second)), policy)
	require.NoError(t, err)
	assert.False(t, changed, "a renewal is not a change")
	assert.Empty(t, r.Events())
	e := r.Members("a.example.org")[0]
	assert.Equal(t, t0, e.Since)
	assert.Equal(t, t0.Add(90*time.Second), e.Expires)

	r.Expire(t0.Add(89*time.Second), policy)
	assert.Len(t, r.All(), 1)
	r.Expire(t0.Add(90*time.Second), policy)
	assert.Empty(t, r.All())
	ev := r.Events()
	require.Len(t, ev, 1)
	assert.Equal(t, "expired", ev[0].Kind)

	// The last registration replayed after the expiry is still a replay.
	_, err = r.Offer(t0.Add(95*time.Second), src, reg("a.example.org", "node1", nil, time.Minute, t0.Add(30*time.Second)), policy)
	require.ErrorAs(t, err, &ref)
	assert.Equal(t, ReasonReplay, ref.Reason)
	_, err = r.Offer(t0.Add(96*time.Second), src, reg("a.example.org", "node1", nil, time.Minute, t0.Add(96*time.Second)), policy)
	require.NoError(t, err, "a new registration after the expiry")
	r.Expire(t0.Add(200*time.Second), policy)
	r.Events()

	// An alias that stops taking registrations (a reload) loses them.
	_, err = r.Offer(t0, src, reg("a.example.org", "node2", nil, time.Minute, t0.Add(time.Second)), policy)
	require.NoError(t, err)
	r.Expire(t0, Policy{Accepts: func(string) bool { return false }})
	assert.Empty(t, r.All())
}

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	r := New()
	_, err := r.Offer(t0, src, reg("a.example.org", "node1", []string{"127.0.0.5", "::1"}, time.Minute, t0), policy)
	require.NoError(t, err)
	require.NoError(t, r.SaveIfChanged(dir, t0))
	back, err := Load(dir)
	require.NoError(t, err)
	assert.Equal(t, r.All(), back.All())
	_, err = back.Offer(t0, src, reg("a.example.org", "node1", []string{"127.0.0.5", "::1"}, time.Minute, t0), policy)
	assert.ErrorContains(t, err, ReasonReplay, "the last accepted time survives a restart")

	// Renewals are written too (at most every saveEvery), so that a
	// restart keeps the renewed expiry.
	_, err = r.Offer(t0.Add(5*time.Second), src, reg("a.example.org", "node1", []string{"127.0.0.5", "::1"}, time.Minute, t0.Add(5*time.Second)), policy)
	require.NoError(t, err)
	require.NoError(t, r.SaveIfChanged(dir, t0.Add(5*time.Second)))
	back, err = Load(dir)
	require.NoError(t, err)
	assert.Equal(t, t0.Add(time.Minute), back.All()[0].Expires, "within saveEvery of the last save: not written yet")
	require.NoError(t, r.SaveIfChanged(dir, t0.Add(saveEvery)))
	back, err = Load(dir)
	require.NoError(t, err)
	assert.Equal(t, t0.Add(5*time.Second+time.Minute), back.All()[0].Expires, "the renewal is kept across a restart")

	require.NoError(t, os.WriteFile(filepath.Join(dir, File), []byte("["), 0o600))
	_, err = Load(dir)
	assert.ErrorContains(t, err, File)
}

func TestHandler(t *testing.T) {
	r := New()
	var poked []string
	h := Handler(r, func() Policy { return policy }, func(a []string) { poked = append(poked, a...) })
	post := func(body string) (int, register.Reply) {
		req := httptest.NewRequest("POST", register.Path, strings.NewReader(body))
		req.RemoteAddr = "127.0.0.5:40000"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		var rep register.Reply
		json.Unmarshal(w.Body.Bytes(), &rep)
		return w.Code, rep
	}
	now := time.Now()
	good := reg("a.example.org", "node1", nil, time.Minute, now)
	bad := good
	bad.MAC = strings.Repeat("0", 64)
	b, _ := json.Marshal(register.Request{Registrations: []register.Registration{good, bad}})
	code, rep := post(string(b))
	assert.Equal(t, http.StatusForbidden, code)
	require.Len(t, rep.Results, 2)
	assert.True(t, rep.Results[0].OK)
	assert.Contains(t, rep.Results[1].Error, ReasonSignature)
	assert.Equal(t, []string{"a.example.org"}, poked)
	assert.Equal(t, netip.MustParseAddr("127.0.0.5"), r.Members("a.example.org")[0].Addrs[0])

	code, _ = post("{not json")
	assert.Equal(t, http.StatusBadRequest, code)
	many, _ := json.Marshal(register.Request{Registrations: make([]register.Registration, MaxPerRequest+1)})
	code, _ = post(string(many))
	assert.Equal(t, http.StatusBadRequest, code, "too many in one request: refused before any HMAC")
	assert.Equal(t, uint64(3), r.Stats().Refused[ReasonInvalid]+r.Stats().Refused[ReasonSignature])
}
