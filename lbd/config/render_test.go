package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/lbd/render"
)

// renderDir is a directory with a configuration file's neighbours: a good
// template and a subdirectory for outputs.
func renderDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "good.tmpl"),
		[]byte(`{{range .Aliases}}{{.Name}}{{range .Published}} {{.Host}} {{.Addr}}{{end}}
{{end}}`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "syntax.tmpl"), []byte("{{range .Aliases}}\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "field.tmpl"), []byte("{{range .Aliases}}{{.Hosts}}{{end}}\n"), 0o644))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "out"), 0o755))
	return dir
}

func parseIn(t *testing.T, dir, extra string) (*Compiled, error) {
	t.Helper()
	path := filepath.Join(dir, "lbd.toml")
	src := minimal + extra
	require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
	return Load(path)
}

func TestRenderSection(t *testing.T) {
	dir := renderDir(t)
	cfg, err := parseIn(t, dir, `
[[render]]
template = "good.tmpl"
output = "out/backends.cfg"
check_cmd = "haproxy -c -f {{.File}}"
reload_cmd = "kill -USR2 $(cat /run/haproxy.pid)"
timeout = "3s"
mode = "0640"

[[render]]
template = "`+filepath.Join(dir, "good.tmpl")+`"
output = "`+filepath.Join(dir, "out", "other.cfg")+`"
`)
	require.NoError(t, err)
	require.Len(t, cfg.Renders, 2)
	r := cfg.Renders[0]
	assert.Equal(t, filepath.Join(dir, "good.tmpl"), r.TemplatePath, "relative to the configuration file")
	assert.Equal(t, filepath.Join(dir, "out", "backends.cfg"), r.Output)
	assert.Equal(t, 3*time.Second, r.Timeout)
	assert.Equal(t, os.FileMode(0o640), r.Mode)
	require.NotNil(t, r.Check)
	require.NotNil(t, r.Reload)
	assert.Equal(t, "kill -USR2 $(cat /run/haproxy.pid)", r.Reload.Text)
	r = cfg.Renders[1]
	assert.Nil(t, r.Check)
	assert.Nil(t, r.Reload)
	assert.Equal(t, render.DefaultMode, r.Mode)
	assert.Zero(t, r.Timeout, "0: render.DefaultTimeout")
}

func TestBadRenderSections(t *testing.T) {
	dir := renderDir(t)
	for _, tc := range []struct {
		name, section, want string
	}{
		{"unknown key", "template = \"good.tmpl\"\noutput = \"out/a\"\nreload = \"x\"\n", "lbd.toml:16: key render.reload: unknown key"},
		{"no template", "output = \"out/a\"\n", "lbd.toml:13: key render[0].template: required"},
		{"missing template", "template = \"nope.tmpl\"\noutput = \"out/a\"\n", "lbd.toml:14: key render[0].template: " + filepath.Join(dir, "nope.tmpl") + ": template: open"},
		{"syntax error", "template = \"syntax.tmpl\"\noutput = \"out/a\"\n", "key render[0].template: " + filepath.Join(dir, "syntax.tmpl") + ": template: syntax.tmpl:2: unexpected EOF"},
		{"bad field", "template = \"field.tmpl\"\noutput = \"out/a\"\n", "fails on example data (every configured member usable): template: field.tmpl:1:20: executing \"field.tmpl\" at <.Hosts>: can't evaluate field Hosts"},
		{"no output", "template = \"good.tmpl\"\n", "lbd.toml:13: key render[0].output: required"},
		{"no directory", "template = \"good.tmpl\"\noutput = \"nodir/a\"\n", "lbd.toml:15: key render[0].output: directory " + filepath.Join(dir, "nodir") + " does not exist"},
		{"output is a directory", "template = \"good.tmpl\"\noutput = \"out\"\n", "exists and is not a regular file"},
		{"output is the template", "template = \"good.tmpl\"\noutput = \"good.tmpl\"\n", "key render[0].output: is the template itself"},
		{"duplicate output", "template = \"good.tmpl\"\noutput = \"out/a\"\n[[render]]\ntemplate = \"good.tmpl\"\noutput = \"out/../out/a\"\n",
			"lbd.toml:18: key render[1].output: " + filepath.Join(dir, "out", "a") + " is already written by render[0], line 15"},
		{"bad check_cmd", "template = \"good.tmpl\"\noutput = \"out/a\"\ncheck_cmd = \"haproxy -c -f {{.Path}}\"\n", "lbd.toml:16: key render[0].check_cmd: template: command:1:16: executing \"command\" at <.Path>: can't evaluate field Path"},
		{"bad reload_cmd", "template = \"good.tmpl\"\noutput = \"out/a\"\nreload_cmd = \"  \"\n", "key render[0].reload_cmd: empty command"},
		{"negative timeout", "template = \"good.tmpl\"\noutput = \"out/a\"\ntimeout = \"-1s\"\n", "key render[0].timeout: must not be negative"},
		{"bad mode", "template = \"good.tmpl\"\noutput = \"out/a\"\nmode = \"644x\"\n", "key render[0].mode: \"644x\": want an octal permission"},
		{"unreadable mode", "template = \"good.tmpl\"\noutput = \"out/a\"\nmode = \"0044\"\n", "the owner could not read the file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseIn(t, dir, "\n[[render]]\n"+tc.section)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.True(t, strings.HasPrefix(err.Error(), filepath.Join(dir, "lbd.toml")), "names the file: %v", err)
		})
	}
}
