package render

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// farm is two aliases as FromSnapshot would build them.
func farm() Data {
	m := func(host, addr string, load int, pub bool) Member {
		return Member{Host: host, Addrs: []string{addr}, IPv4: []string{addr}, IPv6: []string{}, Load: load,
			Usable: load > 0, Published: pub}
	}
	a1, a2, a3 := m("a1.example.org", "192.0.2.1", 10, true), m("a2.example.org", "192.0.2.2", 20, true), m("a3.example.org", "192.0.2.3", -1, false)
	b1 := m("b1.example.org", "192.0.2.11", 5, true)
	return Data{Aliases: []Alias{
		{Name: "www.example.org", Published: []Member{a1, a2}, Usable: []Member{a1, a2}, Members: []Member{a1, a2, a3}},
		{Name: "db.example.org", Published: []Member{b1}, Usable: []Member{b1}, Members: []Member{b1}},
	}}
}

func parse(t *testing.T, text string) *template.Template {
	t.Helper()
	p := filepath.Join(t.TempDir(), "t.tmpl")
	require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	tmpl, err := ParseTemplate(p)
	require.NoError(t, err)
	return tmpl
}

func TestRenderTemplates(t *testing.T) {
	for _, tc := range []struct {
		name, text, want, err string
	}{
		{"published", `{{range .Aliases}}{{.Name}}:{{range .Published}} {{.Host}}={{.Addr}}{{end}};{{end}}`,
			"www.example.org: a1.example.org=192.0.2.1 a2.example.org=192.0.2.2;db.example.org: b1.example.org=192.0.2.11;", ""},
		{"alias by name", `{{with .Alias "WWW.example.org."}}{{len .Members}} {{len .Usable}}{{end}}`, "3 2", ""},
		{"missing alias", `{{with .Alias "nope"}}x{{else}}none{{end}}`, "none", ""},
		{"funcs", `{{range .Aliases}}{{upper (replace .Name "." "_")}} {{end}}`, "WWW_EXAMPLE_ORG DB_EXAMPLE_ORG ", ""},
		{"unpublished", `{{range (.Alias "www.example.org").Members}}{{if not .Published}}{{.Host}} {{.Load}}{{end}}{{end}}`, "a3.example.org -1", ""},
		{"join", `{{range .Aliases}}{{range .Published}}{{join .Addrs ","}}{{end}}|{{end}}`, "192.0.2.1192.0.2.2|192.0.2.11|", ""},
		{"unknown field", `{{range .Aliases}}{{.Nmae}}{{end}}`, "", "can't evaluate field Nmae"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg := &Target{Template: parse(t, tc.text)}
			got, err := tg.Render(farm())
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(got))
		})
	}
}

func TestParseTemplateErrors(t *testing.T) {
	_, err := ParseTemplate(filepath.Join(t.TempDir(), "missing.tmpl"))
	require.ErrorContains(t, err, "no such file")
	p := filepath.Join(t.TempDir(), "bad.tmpl")
	require.NoError(t, os.WriteFile(p, []byte("{{range .Aliases}}"), 0o644))
	_, err = ParseTemplate(p)
	require.ErrorContains(t, err, "unexpected EOF")
}

func TestPlan(t *testing.T) {
	for _, tc := range []struct {
		name      string
		old       string
		exists    bool
		next      string
		want      Action
		wantWords string
	}{
		{"same content", "a\n", true, "a\n", Keep, "keep"},
		{"other content", "a\n", true, "b\n", Replace, "replace"},
		{"no file", "", false, "", Replace, "replace"},
		{"empty file, empty output", "", true, "", Keep, "keep"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Plan([]byte(tc.old), tc.exists, []byte(tc.next)))
		})
	}
}

// fixture is a target writing out in a temporary directory, with check and
// reload commands that log their calls to calls.
type fixture struct {
	dir, out, calls string
	t               *Target
}

func newFixture(t *testing.T, text, check, reload string) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir()}
	f.out = filepath.Join(f.dir, "out.cfg")
	f.calls = filepath.Join(f.dir, "calls")
	f.t = &Target{Template: parse(t, text), Output: f.out, Timeout: 20 * time.Second}
	env := func(s string) string { return strings.ReplaceAll(s, "CALLS", f.calls) }
	if check != "" {
		c, err := ParseCommand(env(check))
		require.NoError(t, err)
		f.t.Check = c
	}
	if reload != "" {
		c, err := ParseCommand(env(reload))
		require.NoError(t, err)
		f.t.Reload = c
	}
	return f
}

func (f *fixture) content(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(f.out)
	require.NoError(t, err)
	return string(b)
}

func (f *fixture) callLog() string {
	b, _ := os.ReadFile(f.calls)
	return string(b)
}

// leftovers lists files in the directory other than the output and the
// call log (temporary files must not stay).
func (f *fixture) leftovers(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir(f.dir)
	require.NoError(t, err)
	var out []string
	for _, e := range ents {
		if p := filepath.Join(f.dir, e.Name()); p != f.out && p != f.calls {
			out = append(out, e.Name())
		}
	}
	return out
}

const serversTmpl = `{{range .Aliases}}{{range .Published}}server {{.Host}} {{.Addr}}
{{end}}{{end}}`

func TestApplyWritesChecksAndReloadsOnlyOnChange(t *testing.T) {
	f := newFixture(t, serversTmpl,
		`echo "check $(basename {{.File}}) $(cat "$LBD_RENDER_FILE" | wc -l)" >> CALLS`,
		`echo "reload {{.File}}" >> CALLS`)
	ctx := context.Background()
	d := farm()

	res := f.t.Apply(ctx, d, false)
	require.NoError(t, res.Err)
	assert.Equal(t, Replaced, res.Stage)
	assert.True(t, res.Replaced)
	assert.True(t, res.Reloaded)
	want := "server a1.example.org 192.0.2.1\nserver a2.example.org 192.0.2.2\nserver b1.example.org 192.0.2.11\n"
	assert.Equal(t, want, f.content(t))
	assert.Equal(t, len(want), res.Size)
	st, err := os.Stat(f.out)
	require.NoError(t, err)
	assert.Equal(t, DefaultMode, st.Mode().Perm())
	calls := strings.Split(strings.TrimSpace(f.callLog()), "\n")
	require.Len(t, calls, 2)
	assert.Regexp(t, `^check \.out\.cfg\.lbd-\d+ 3$`, calls[0], "the check sees the new, temporary file")
	assert.Equal(t, "reload "+f.out, calls[1])

	// The same membership again: nothing runs.
	res = f.t.Apply(ctx, d, false)
	require.NoError(t, res.Err)
	assert.Equal(t, Unchanged, res.Stage)
	assert.False(t, res.Replaced)
	assert.Len(t, strings.Split(strings.TrimSpace(f.callLog()), "\n"), 2, "no check, no reload")

	// A membership change: checked and reloaded again.
	d.Aliases[0].Published = d.Aliases[0].Published[:1]
	res = f.t.Apply(ctx, d, false)
	require.NoError(t, res.Err)
	assert.Equal(t, Replaced, res.Stage)
	assert.Equal(t, "server a1.example.org 192.0.2.1\nserver b1.example.org 192.0.2.11\n", f.content(t))
	assert.Len(t, strings.Split(strings.TrimSpace(f.callLog()), "\n"), 4)
	assert.Empty(t, f.leftovers(t))
}

func TestApplyCheckFailureKeepsOldFile(t *testing.T) {
	f := newFixture(t, serversTmpl, `grep -q a2 {{.File}} || { echo "no a2 in the new file" >&2; exit 3; }`, `echo reload >> CALLS`)
	ctx := context.Background()
	require.NoError(t, f.t.Apply(ctx, farm(), false).Err)
	old := f.content(t)

	d := farm()
	d.Aliases[0].Published = d.Aliases[0].Published[:1] // a2 leaves: the check refuses
	res := f.t.Apply(ctx, d, false)
	require.Error(t, res.Err)
	assert.Equal(t, Check, res.Stage)
	assert.False(t, res.Replaced)
	assert.ErrorContains(t, res.Err, "no a2 in the new file", "the command's output is in the error")
	assert.ErrorContains(t, res.Err, "exit status 3")
	assert.ErrorContains(t, res.Err, f.out, "the error names the output")
	var e *Error
	require.ErrorAs(t, res.Err, &e)
	assert.Equal(t, Check, e.Stage)
	assert.Equal(t, old, f.content(t), "the previous file stays")
	assert.Empty(t, f.leftovers(t), "the refused temporary file is removed")
	assert.Equal(t, "reload\n", f.callLog(), "no reload after a refused check")
}

func TestApplyTemplateFailureKeepsOldFile(t *testing.T) {
	// The template needs two published members of www.
	f := newFixture(t, `{{with .Alias "www.example.org"}}{{(index .Published 1).Host}}{{end}}
`, `echo check >> CALLS`, `echo reload >> CALLS`)
	ctx := context.Background()
	require.NoError(t, f.t.Apply(ctx, farm(), false).Err)
	assert.Equal(t, "a2.example.org\n", f.content(t))

	d := farm()
	d.Aliases[0].Published = d.Aliases[0].Published[:1]
	res := f.t.Apply(ctx, d, false)
	assert.Equal(t, Template, res.Stage)
	assert.False(t, res.Replaced)
	assert.ErrorContains(t, res.Err, "index out of range")
	assert.Equal(t, "a2.example.org\n", f.content(t), "the previous file stays")
	assert.Equal(t, "check\nreload\n", f.callLog(), "nothing runs after a template error")
	assert.Empty(t, f.leftovers(t))
}

func TestApplyReloadFailureIsReportedAndRetried(t *testing.T) {
	f := newFixture(t, serversTmpl, "", `echo reload >> CALLS; test -e {{.Output}}.ok || { echo "proxy not running" >&2; exit 1; }`)
	ctx := context.Background()
	res := f.t.Apply(ctx, farm(), false)
	assert.Equal(t, Reload, res.Stage)
	assert.True(t, res.Replaced, "the file is replaced before the reload")
	assert.ErrorContains(t, res.Err, "proxy not running")
	assert.Contains(t, f.content(t), "server a1.example.org")

	// Unchanged content: no reload unless asked (the renderer asks after
	// a failed one).
	res = f.t.Apply(ctx, farm(), false)
	assert.Equal(t, Unchanged, res.Stage)
	assert.Equal(t, "reload\n", f.callLog())
	res = f.t.Apply(ctx, farm(), true)
	assert.Equal(t, Reload, res.Stage)
	assert.False(t, res.Replaced)
	require.NoError(t, os.WriteFile(f.out+".ok", nil, 0o644))
	res = f.t.Apply(ctx, farm(), true)
	require.NoError(t, res.Err)
	assert.Equal(t, Unchanged, res.Stage)
	assert.True(t, res.Reloaded)
	assert.Equal(t, "reload\nreload\nreload\n", f.callLog())
}

func TestApplyMode(t *testing.T) {
	f := newFixture(t, serversTmpl, "", "")
	f.t.Mode = 0o640
	require.NoError(t, f.t.Apply(context.Background(), farm(), false).Err)
	st, err := os.Stat(f.out)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), st.Mode().Perm())
}

func TestApplyUnwritableDirectoryKeepsOldFile(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("SKIPPED: root writes into a read-only directory")
	}
	f := newFixture(t, serversTmpl, "", "")
	require.NoError(t, os.WriteFile(f.out, []byte("old\n"), 0o644))
	require.NoError(t, os.Chmod(f.dir, 0o555))
	t.Cleanup(func() { os.Chmod(f.dir, 0o755) })
	res := f.t.Apply(context.Background(), farm(), false)
	assert.Equal(t, Write, res.Stage)
	assert.ErrorContains(t, res.Err, "permission denied")
	assert.Equal(t, "old\n", f.content(t))
}

func TestCommandTimeoutKillsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	// The shell starts a child that would outlive it; the whole group goes.
	c, err := ParseCommand(`sleep 60 & echo $! > ` + pidFile + `; wait`)
	require.NoError(t, err)
	err = c.Run(context.Background(), 300*time.Millisecond, CommandData{})
	require.ErrorContains(t, err, "timed out after 300ms (process group killed)")
	b, rerr := os.ReadFile(pidFile)
	require.NoError(t, rerr)
	pid := strings.TrimSpace(string(b))
	// Gone (or a zombie reaped by init): bounded wait, no speed assertion.
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil || strings.Contains(string(st), ") Z ") {
			break
		}
		require.False(t, time.Now().After(deadline), "child %s still running", pid)
		time.Sleep(50 * time.Millisecond)
	}
}

func TestCommandOutputIsBounded(t *testing.T) {
	c, err := ParseCommand(`head -c 100000 /dev/zero | tr '\\0' x; exit 1`)
	require.NoError(t, err)
	err = c.Run(context.Background(), 10*time.Second, CommandData{})
	require.Error(t, err)
	assert.Less(t, len(err.Error()), MaxCommandOutput+500)
	assert.Contains(t, err.Error(), "more bytes)")
}

func TestParseCommand(t *testing.T) {
	for _, tc := range []struct{ text, err string }{
		{"haproxy -c -f {{.File}}", ""},
		{"kill -USR2 $(cat /run/haproxy.pid)", ""},
		{"", "empty command"},
		{"check {{.File", "unclosed action"},
		{"check {{.Nope}}", "can't evaluate field Nope"},
	} {
		_, err := ParseCommand(tc.text)
		if tc.err == "" {
			assert.NoError(t, err, tc.text)
		} else {
			assert.ErrorContains(t, err, tc.err, tc.text)
		}
	}
}

func TestSampleRendersExample(t *testing.T) {
	tmpl, err := ParseTemplate("../../etc/haproxy-backend.tmpl")
	require.NoError(t, err)
	out, err := (&Target{Template: tmpl}).Render(Sample(map[string][]string{"www.example.org": {"a1", "a2"}}))
	require.NoError(t, err)
	assert.Contains(t, string(out), "backend lbd_www_example_org")
	assert.Contains(t, string(out), "server a1 192.0.2.2:80 check")
}
