package render

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/internal/testenv"
)

// haproxyTarget is the testdata template made concrete for h, writing
// h.Conf, checked with haproxy -c and reloading h.
func haproxyTarget(t *testing.T, h *testenv.HAProxy) *Target {
	t.Helper()
	b, err := os.ReadFile("testdata/haproxy.cfg.tmpl")
	require.NoError(t, err)
	text := strings.NewReplacer("@STATS@", h.Socket, "@PORT@", strconv.Itoa(h.Port)).Replace(string(b))
	tmplPath := filepath.Join(h.Dir, "haproxy.cfg.tmpl")
	require.NoError(t, os.WriteFile(tmplPath, []byte(text), 0o644))
	tmpl, err := ParseTemplate(tmplPath)
	require.NoError(t, err)
	check, err := ParseCommand(h.CheckCmd())
	require.NoError(t, err)
	reload, err := ParseCommand(h.ReloadCmd())
	require.NoError(t, err)
	return &Target{TemplatePath: tmplPath, Template: tmpl, Output: h.Conf,
		Check: check, Reload: reload, Timeout: 30 * time.Second}
}

// Acceptance with the real HAProxy: the rendered configuration passes
// haproxy -c, the reload command makes the running HAProxy use the new
// server set, and a template error or a refused check leaves the previous
// file (and HAProxy) as they were.
func TestRenderHAProxyReload(t *testing.T) {
	h := testenv.NewHAProxy(t)
	tg := haproxyTarget(t, h)
	ctx := context.Background()
	d := farm()

	// First file, before HAProxy runs: checked, no reload yet.
	reload := tg.Reload
	tg.Reload = nil
	res := tg.Apply(ctx, d, false)
	require.NoError(t, res.Err)
	require.Equal(t, Replaced, res.Stage)
	tg.Reload = reload
	h.Start(t)
	h.WaitServers(t, "www_example_org", []string{"a1_example_org 192.0.2.1:80", "a2_example_org 192.0.2.2:80"}, 15*time.Second)
	h.WaitServers(t, "db_example_org", []string{"b1_example_org 192.0.2.11:80"}, 15*time.Second)

	// Unchanged membership: no check, no reload (the pid stays).
	pid0, err := os.ReadFile(h.PidFile)
	require.NoError(t, err)
	res = tg.Apply(ctx, d, false)
	require.NoError(t, res.Err)
	assert.Equal(t, Unchanged, res.Stage)

	// a2 drains, a3 becomes usable and published: HAProxy follows after the
	// reload.
	a := &d.Aliases[0]
	a.Members[2].Load, a.Members[2].Usable, a.Members[2].Published = 30, true, true
	a.Published = []Member{a.Members[0], a.Members[2]}
	res = tg.Apply(ctx, d, false)
	require.NoError(t, res.Err, h.Log())
	require.Equal(t, Replaced, res.Stage)
	h.WaitServers(t, "www_example_org", []string{"a1_example_org 192.0.2.1:80", "a3_example_org 192.0.2.3:80"}, 20*time.Second)
	pid1, err := os.ReadFile(h.PidFile)
	require.NoError(t, err)
	assert.Equal(t, string(pid0), string(pid1), "a reload, not a restart: the master stays")
	good, err := os.ReadFile(tg.Output)
	require.NoError(t, err)

	// A configuration HAProxy refuses (two servers of one name): the check
	// fails with HAProxy's message, the file and the running set stay.
	bad := farm()
	bad.Aliases[0].Published = []Member{bad.Aliases[0].Members[0], bad.Aliases[0].Members[0]}
	res = tg.Apply(ctx, bad, false)
	require.Error(t, res.Err)
	assert.Equal(t, Check, res.Stage)
	assert.Contains(t, res.Err.Error(), "a1_example_org", "HAProxy's alert is in the error")
	now, err := os.ReadFile(tg.Output)
	require.NoError(t, err)
	assert.Equal(t, string(good), string(now))
	leftovers, err := filepath.Glob(filepath.Join(h.Dir, ".haproxy.cfg.lbd-*"))
	require.NoError(t, err)
	assert.Empty(t, leftovers)

	// A template that fails on this data: the file and the running set stay.
	broken := *tg
	b, err := os.ReadFile(tg.TemplatePath)
	require.NoError(t, err)
	brokenPath := filepath.Join(h.Dir, "broken.tmpl")
	require.NoError(t, os.WriteFile(brokenPath, []byte(string(b)+"{{(index .Aliases 7).Name}}\n"), 0o644))
	broken.Template, err = ParseTemplate(brokenPath)
	require.NoError(t, err)
	res = broken.Apply(ctx, farm(), false)
	assert.Equal(t, Template, res.Stage)
	now, err = os.ReadFile(tg.Output)
	require.NoError(t, err)
	assert.Equal(t, string(good), string(now))
	h.WaitServers(t, "www_example_org", []string{"a1_example_org 192.0.2.1:80", "a3_example_org 192.0.2.3:80"}, 5*time.Second)
}

// The example template of etc/ renders a backend file HAProxy accepts next
// to a minimal main configuration.
func TestRenderExampleTemplatePassesHAProxyCheck(t *testing.T) {
	bin := testenv.Require(t, "haproxy")[0]
	dir := t.TempDir()
	main := filepath.Join(dir, "main.cfg")
	require.NoError(t, os.WriteFile(main, []byte(`global
    log stderr local0
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend web
    bind 127.0.0.1:`+strconv.Itoa(testenv.FreePort(t, "127.0.0.1"))+`
    default_backend lbd_www_example_org
`), 0o644))
	tmpl, err := ParseTemplate("../../etc/haproxy-backend.tmpl")
	require.NoError(t, err)
	check, err := ParseCommand(bin + " -c -f " + main + " -f {{.File}}")
	require.NoError(t, err)
	tg := &Target{Template: tmpl, Output: filepath.Join(dir, "lbd-backends.cfg"), Check: check}
	res := tg.Apply(context.Background(), farm(), false)
	require.NoError(t, res.Err)
	b, err := os.ReadFile(tg.Output)
	require.NoError(t, err)
	assert.Contains(t, string(b), "backend lbd_www_example_org")
	assert.Contains(t, string(b), "server a2_example_org 192.0.2.2:80 check")
	assert.NotContains(t, string(b), "a3_example_org", "not published")
}
