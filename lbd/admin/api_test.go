package admin

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/lbd/config"
	"github.com/lbd-project/lbd/lbd/override"
)

const token = "admin-test-token-0123456789"

// backend is an in-process daemon: it settles each submitted edit with
// outcome (nil: written); a nil outcome channel never settles.
type backend struct {
	cfg     *config.Compiled
	writing bool
	queue   Queue
	outcome error
	settle  bool
}

func (b *backend) Config() *config.Compiled { return b.cfg }
func (b *backend) Writing() bool            { return b.writing }
func (b *backend) Overrides(time.Time) []override.Override {
	return nil
}
func (b *backend) Submit(alias string, e override.Edit, _ DrainRequest, _ string) <-chan error {
	done := b.queue.Add(alias, e)
	if b.settle {
		_, taken := b.queue.Take([]string{alias})
		b.queue.Settle(taken, func(string) error { return b.outcome })
	}
	return done
}

// shardBackend is a backend sharing the zones: owner writes them.
type shardBackend struct {
	*backend
	owner string
}

func (b shardBackend) OwnerOf(string) (string, string, bool) {
	return b.owner, "http://" + b.owner + ":8080", b.owner == "me"
}

func TestDrainAPISharded(t *testing.T) {
	const good = `{"alias":"a.example.org","member":"m1.example.org","for":"2h","reason":"disk"}`
	for _, tc := range []struct {
		owner    string
		code     int
		contains string
	}{
		{"me", http.StatusOK, "written"},
		{"lbd2", http.StatusConflict, "written by the instance lbd2"},
	} {
		t.Run(tc.owner, func(t *testing.T) {
			mux := http.NewServeMux()
			Routes(mux, shardBackend{&backend{cfg: compile(t, true), writing: true, settle: true}, tc.owner})
			req := httptest.NewRequest("POST", "/admin/drain", strings.NewReader(good))
			req.Header.Set("Authorization", "Bearer "+token)
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, req)
			assert.Equal(t, tc.code, w.Code)
			var r Reply
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &r))
			assert.Contains(t, r.Message, tc.contains)
			if tc.code == http.StatusConflict {
				assert.Equal(t, "http://"+tc.owner+":8080", r.Owner, "where to send it")
			}
		})
	}
}

func compile(t *testing.T, withTokens bool) *config.Compiled {
	t.Helper()
	dir := t.TempDir()
	lbd := "[lbd]\nrole = \"master\"\n"
	if withTokens {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "tokens"), []byte("alice:"+token+"\n"), 0o600))
		lbd += "admin_token_file = \"tokens\"\n"
	}
	src := lbd + `[dns]
servers = ["127.0.0.1:5301"]
internal_key = { name = "int.", secret = "aW50ZXJuYWw=" }
[snmp]
version = "2c"
community = "public"
[[alias]]
name = "a.example.org"
members = ["m1.example.org", "m2.example.org"]
`
	file := filepath.Join(dir, "lbd.toml")
	require.NoError(t, os.WriteFile(file, []byte(src), 0o600))
	cfg, err := config.Load(file)
	require.NoError(t, err)
	return cfg
}

func TestDrainAPI(t *testing.T) {
	const good = `{"alias":"A.example.org","member":"m1.example.org","for":"2h","reason":"disk"}`
	for _, tc := range []struct {
		name     string
		tokens   bool
		auth     string
		body     string
		writing  bool
		settle   bool
		outcome  error
		code     int
		contains string
	}{
		{"admin API off", false, "Bearer " + token, good, true, true, nil, http.StatusForbidden, "admin_token_file"},
		{"no token", true, "", good, true, true, nil, http.StatusUnauthorized, "missing"},
		{"wrong token", true, "Bearer not-the-right-token-xyz", good, true, true, nil, http.StatusUnauthorized, "not accepted"},
		{"bad body", true, "Bearer " + token, "{", true, true, nil, http.StatusBadRequest, "bad request body"},
		{"unknown alias", true, "Bearer " + token, `{"alias":"x.example.org","member":"m1.example.org","for":"1h","reason":"r"}`, true, true, nil, http.StatusBadRequest, "not configured"},
		{"not a member", true, "Bearer " + token, `{"alias":"a.example.org","member":"m9.example.org","for":"1h","reason":"r"}`, true, true, nil, http.StatusBadRequest, "not a member"},
		{"too long", true, "Bearer " + token, `{"alias":"a.example.org","member":"m1.example.org","for":"2400h","reason":"r"}`, true, true, nil, http.StatusBadRequest, "for:"},
		{"no reason", true, "Bearer " + token, `{"alias":"a.example.org","member":"m1.example.org","for":"1h"}`, true, true, nil, http.StatusBadRequest, "reason"},
		{"passive slave", true, "Bearer " + token, good, false, true, nil, http.StatusConflict, "passive"},
		{"written", true, "Bearer " + token, good, true, true, nil, http.StatusOK, "written"},
		{"cycle failed", true, "Bearer " + token, good, true, true, errors.New("server down"), http.StatusAccepted, "server down"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &backend{cfg: compile(t, tc.tokens), writing: tc.writing, settle: tc.settle, outcome: tc.outcome}
			mux := http.NewServeMux()
			Routes(mux, b)
			req := httptest.NewRequest("POST", "/admin/drain", strings.NewReader(tc.body))
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, req)
			assert.Equal(t, tc.code, w.Code)
			var r Reply
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &r))
			assert.Contains(t, r.Message, tc.contains)
			if tc.code == http.StatusOK {
				require.NotNil(t, r.Override)
				assert.Equal(t, "alice", r.Override.Author, "the token's name is the author")
				assert.Equal(t, "a.example.org", r.Override.Alias)
				assert.Equal(t, 2*time.Hour, r.Override.Until.Sub(r.Override.Since).Round(time.Second))
			}
		})
	}
}

func TestQueueRequeuesFailed(t *testing.T) {
	var q Queue
	set := override.Edit{Clear: "m1"}
	done := q.Add("a", set)
	q.Add("b", set)
	edits, taken := q.Take([]string{"a", "c"})
	assert.Equal(t, map[string][]override.Edit{"a": {set}}, edits, "only the due aliases")
	q.Settle(taken, func(string) error { return errors.New("failed") })
	assert.EqualError(t, <-done, "failed")
	edits, _ = q.Take([]string{"a", "b"})
	assert.Equal(t, map[string][]override.Edit{"a": {set}, "b": {set}}, edits, "a failed edit is queued again")
	edits, _ = q.Take([]string{"a", "b"})
	assert.Empty(t, edits)
}
