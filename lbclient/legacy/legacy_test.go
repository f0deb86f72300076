package legacy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/checks"
	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/lbclient"
	"github.com/lbd-project/lbd/lbclient/agent"
)

// lgLoad loads a legacy dir with a fixture root and default load 1.
func lgLoad(t *testing.T, dir, root string) *Config {
	t.Helper()
	lc := Load(dir, Options{Root: root})
	lc.DefaultLoad = func(string) int { return 1 }
	return lc
}

// lgAnswer is the pass-mode GET output for a legacy dir.
func lgAnswer(t *testing.T, lc *Config) string {
	t.Helper()
	return lbclient.Pass(context.Background(), lc.Compiled, lbclient.PassGet, agent.OID, 0, nil)
}

func lgProblems(lc *Config) string {
	var b strings.Builder
	for _, p := range lc.Problems {
		b.WriteString(p.String() + "\n")
	}
	return b.String()
}

// docs/protocol.md §4: the byte-exact answers.
func TestCompatExamples(t *testing.T) {
	lc := lgLoad(t, "testdata/one", "")
	assert.Equal(t, ".1.3.6.1.4.1.96.255.1\ninteger\n50000\n", lgAnswer(t, lc))
	assert.Equal(t, "", lgProblems(lc))

	lc = lgLoad(t, "testdata/two", "")
	assert.Equal(t, ".1.3.6.1.4.1.96.255.1\nstring\ntest2.cern.ch=40000,test.cern.ch=50000\n", lgAnswer(t, lc))
	assert.Equal(t, "", lgProblems(lc))
	assert.Equal(t, []string{"test2.cern.ch", "test.cern.ch"}, lc.Aliases())
	assert.Len(t, lc.Mappings(), 2)
	assert.Equal(t, "test2.cern.ch", lc.Mappings()[0].Name)
	assert.True(t, lc.Mappings()[1].Default)
}

// Whitespace variants of the one-mapping example (D7): same answer, with
// warnings for what the existing CERN lbclient rejects.
func TestWhitespace(t *testing.T) {
	for name, c := range map[string]struct {
		aliases, conf string
		warn          bool
	}{
		"canonical":    {"lbalias=test.cern.ch\n", "load constant 50000\n", false},
		"no final EOL": {"lbalias=test.cern.ch", "load constant 50000", false},
		"comments":     {"# hello\n\nlbalias=test.cern.ch\n", "# comment\n   \t\n  # indented\n\nload constant 50000\n", false},
		// Ignored like the CERN agent does, but reported (with its line).
		"not an alias line": {"lbalias=test.cern.ch\nnot an alias line\n", "load constant 50000\n", true},
		"case":              {"lbalias=test.cern.ch\n", "LOAD Constant 50000\n", false},
		"leading spaces":    {"  lbalias = test.cern.ch  \n", "   load constant 50000\n", true},
		"tabs":              {"\tlbalias=\ttest.cern.ch\n", "load\tconstant\t50000\n", true},
		"double spaces":     {"lbalias=test.cern.ch\n", "load  constant   50000  \n", true},
		"CRLF":              {"lbalias=test.cern.ch\r\n", "check  nologin\r\nload constant 50000\r\n", true},
		"float constant":    {"lbalias=test.cern.ch\n", "load constant 50000.9\n", false},
		"split load":        {"lbalias=test.cern.ch\n", "load constant 49999\nload constant 1\n", false},
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			dir := testenv.WriteTree(t, map[string]string{"lbaliases": c.aliases, "lbclient.conf": c.conf})
			lc := lgLoad(t, dir, root)
			assert.Equal(t, ".1.3.6.1.4.1.96.255.1\ninteger\n50000\n", lgAnswer(t, lc))
			assert.False(t, lc.HasErrors(), lgProblems(lc))
			assert.Equal(t, c.warn, len(lc.Problems) > 0, lgProblems(lc))
		})
	}
}

func TestParseLine(t *testing.T) {
	for _, c := range []struct {
		line string
		code int    // 0: valid
		typ  string // Spec.Type when valid
		data string // Spec.Data when valid
		load bool
	}{
		{"check nologin", 0, "nologin", "", false},
		{"check nologin extra words", 0, "nologin", "", false}, // ignored, as the existing one does
		{"CHECK NoLogin", 0, "nologin", "", false},
		{"check tmpfull", 0, "tmpfull", "", false},
		{"check xsessions", 0, "xsessions", "", false},
		{"check swapping", 0, "swapping", "", false},
		{"check swaping", 0, "swaping", "", false},
		{"check sshdaemon", 0, "sshdaemon", "", false},
		{"check webdaemon", 0, "webdaemon", "", false},
		{"check ftpdaemon", 0, "ftpdaemon", "", false},
		{"check gridftpdaemon", 0, "gridftpdaemon", "", false},
		{`check daemon {"port": 22, "protocol": "tcp"}`, 0, "daemon", `{"port": 22, "protocol": "tcp"}`, false},
		{"check afs", 0, "afs", "", false},
		{"check roger", 0, "roger", "", false},
		{"check eos", 0, "eos", "", false},
		{"check reboot", 0, "reboot", "", false},
		{"check command test -f /etc/ok  &&  true", 0, "command", "bash:test -f /etc/ok  &&  true", false},
		{"check collectd [systemd-sshd/gauge-running]>0", 0, "collectd", "[systemd-sshd/gauge-running]>0", false},
		{`check collectd_alarms [{"load/load": "okay"}]`, 0, "collectd_alarms", `[{"load/load": "okay"}]`, false},
		{"check lemon _1234>0", 0, "lemon", "_1234>0", false},
		{"check lemonload", 0, "lemonload", "", false},
		{"check collectdload", 0, "collectdload", "", false},
		{"load constant 50000", 0, "constant", "50000", true},
		{"load constant -1", 0, "constant", "-1", true}, // valid; reports -16 when run
		{"load constant 7 trailing", 0, "constant", "7", true},
		{"load collectd [load/load-relative:shortterm]*125 + 1", 0, "collectd", "[load/load-relative:shortterm]*125 + 1", true},
		{"load lemon _20002", 0, "lemon", "_20002", true},

		{`check daemon {"port": 22`, -checks.CodeDaemon, "", "", false},
		{`check daemon {"protocol": "tcp"}`, -checks.CodeDaemon, "", "", false},
		{"check daemon", -checks.CodeDaemon, "", "", false},
		{"check constant 5", ConfigError, "", "", false}, // unparsable (docs/protocol.md §5.3)
		{"load constant abc", -checks.CodeConstant, "", "", false},
		{"load constant", -checks.CodeConstant, "", "", false},
		{"check command", -checks.CodeCommand, "", "", false},
		{"check collectd", -checks.CodeCollectd, "", "", false},
		{"check collectd [a", -checks.CodeCollectd, "", "", false},
		{"check collectd_alarms [{", -checks.CodeCollectd, "", "", false},
		{"load collectd", -checks.CodeCollectd, "", "", false},
		{"check frobnicate", ConfigError, "", "", false},
		{"check", ConfigError, "", "", false},
		{"load", ConfigError, "", "", false},
		{"load average 5", ConfigError, "", "", false},
		{"chekc nologin", ConfigError, "", "", false},
		{"lbalias=foo", ConfigError, "", "", false},
	} {
		l, ok := ParseLine(c.line, 0)
		if !ok {
			t.Errorf("%q: skipped as blank", c.line)
			continue
		}
		if c.code != 0 {
			if l.Err == nil || l.Code != c.code || l.Check != nil {
				t.Errorf("%q: want code %d, got %d (%v)", c.line, c.code, l.Code, l.Err)
			}
			continue
		}
		if l.Err != nil || l.Check == nil {
			t.Errorf("%q: %v", c.line, l.Err)
			continue
		}
		assert.Equal(t, checks.Spec{Type: c.typ, Data: c.data}, l.Spec, c.line)
		assert.Equal(t, c.load, l.Load, c.line)
	}
	for _, blank := range []string{"", "   ", "\t", "\r", "#", "# check nologin", "   # x", "\t#x\r"} {
		if _, ok := ParseLine(blank, 0); ok {
			t.Errorf("%q must be skipped", blank)
		}
	}
}

// A broken line gives its mapping a negative code (D6), the other mappings
// are unaffected, and the problem is reported.
func TestBrokenLine(t *testing.T) {
	lc := lgLoad(t, "testdata/broken", t.TempDir())
	assert.Equal(t, ".1.3.6.1.4.1.96.255.1\nstring\na.example=-17,b.example=50\n", lgAnswer(t, lc))
	assert.True(t, lc.HasErrors())
	if p := lgProblems(lc); !strings.Contains(p, "broken/lbclient.conf.a.example:2: error: check daemon") {
		t.Errorf("problems:\n%s", p)
	}

	// the only mapping broken: INTEGER with the code, not silence
	for _, c := range []struct {
		conf string
		want int
	}{
		{"check nologin\nload constant 10\ncheck constant 3\n", ConfigError},
		{"load constant ten\n", -16},
		{"check command\n", -14},
		{"check daemon {nope}\n", -17},
		{"check nologin\nthis is not a line\n", ConfigError},
		{"check frobnicate\n", ConfigError},
		{"load constant -1\n", -16}, // the package's default file: a soft failure
	} {
		dir := testenv.WriteTree(t, map[string]string{"lbaliases": "lbalias=x.example\n", "lbclient.conf": c.conf})
		lc := lgLoad(t, dir, t.TempDir())
		loads := lbclient.EvaluateOnce(context.Background(), lc.Compiled, 0, nil)
		assert.Len(t, loads, 1, c.conf)
		assert.Equal(t, c.want, loads[0].Metric, "%s: %s", c.conf, loads[0].Reason)
		assert.Equal(t, agent.Value{Int: int32(c.want)}, lc.Compose(loads), c.conf)
	}
}

func TestMissingFiles(t *testing.T) {
	// listed aliases without their own file and no default file
	dir := testenv.WriteTree(t, map[string]string{"lbaliases": "lbalias=a.example\nlbalias=b.example\n",
		"lbclient.conf.b.example": "load constant 5\n"})
	lc := lgLoad(t, dir, t.TempDir())
	assert.Equal(t, ".1.3.6.1.4.1.96.255.1\nstring\nb.example=5,a.example=-102\n", lgAnswer(t, lc))
	assert.True(t, lc.HasErrors())

	// no lbaliases: only alias files are served
	dir = testenv.WriteTree(t, map[string]string{"lbclient.conf": "load constant 9\n", "lbclient.conf.b.example": "load constant 5\n"})
	lc = lgLoad(t, dir, t.TempDir())
	assert.Equal(t, ".1.3.6.1.4.1.96.255.1\ninteger\n5\n", lgAnswer(t, lc))
	assert.True(t, lc.HasErrors())

	// nothing at all: an explicit configuration error code, never an
	// empty answer (issue 3 item 5)
	for _, d := range []string{t.TempDir(), filepath.Join(t.TempDir(), "missing")} {
		lc = lgLoad(t, d, t.TempDir())
		assert.Equal(t, ".1.3.6.1.4.1.96.255.1\ninteger\n-102\n", lgAnswer(t, lc))
		assert.True(t, lc.HasErrors())
	}

	// default file serving no alias: empty string too (docs/protocol.md §5.7)
	dir = testenv.WriteTree(t, map[string]string{"lbaliases": "# none\n", "lbclient.conf": "load constant 9\n"})
	lc = lgLoad(t, dir, t.TempDir())
	assert.Equal(t, ".1.3.6.1.4.1.96.255.1\nstring\n\n", lgAnswer(t, lc))

	// an unreadable alias file reports the config error for its alias only
	dir = testenv.WriteTree(t, map[string]string{"lbaliases": "lbalias=a.example\nlbalias=b.example\n", "lbclient.conf": "load constant 9\n"})
	require.NoError(t, os.Mkdir(filepath.Join(dir, "lbclient.conf.a.example"), 0o755)) // a directory: not a file, ignored
	lc = lgLoad(t, dir, t.TempDir())
	assert.Equal(t, ".1.3.6.1.4.1.96.255.1\ninteger\n9\n", lgAnswer(t, lc))
	big := testenv.WriteTree(t, map[string]string{"lbaliases": "lbalias=a.example\nlbalias=b.example\n", "lbclient.conf": "load constant 9\n",
		"lbclient.conf.a.example": strings.Repeat("# padding\n", maxFileSize/10+1)})
	lc = lgLoad(t, big, t.TempDir())
	assert.Equal(t, ".1.3.6.1.4.1.96.255.1\nstring\na.example=-102,b.example=9\n", lgAnswer(t, lc))
}

// Recursive walk in lexical order; duplicates warn and the later file
// wins; any alias name (D18); leftovers skipped; unlisted alias files used.
func TestWalk(t *testing.T) {
	lc := lgLoad(t, "testdata/nested", t.TempDir())
	assert.Equal(t, ".1.3.6.1.4.1.96.255.1\nstring\ny.example.net=3,unlisted.example.org=7,x.example.com=5,z.example.com=2\n", lgAnswer(t, lc))
	assert.False(t, lc.HasErrors())
	p := lgProblems(lc)
	for _, want := range []string{
		"nested/b/lbclient.conf: warning: duplicate default file (also testdata/nested/a/lbclient.conf)",
		"nested/b/lbclient.conf.y.example.net: warning: alias y.example.net also configured by testdata/nested/a/",
		"lbclient.conf.x.example.com.rpmnew: warning: skipped",
		"lbclient.conf.x.example.com~: warning: skipped",
		"lbclient.conf.unlisted.example.org: warning: alias unlisted.example.org is not listed",
	} {
		if !strings.Contains(p, want) {
			t.Errorf("missing %q in:\n%s", want, p)
		}
	}
	assert.Equal(t, "testdata/nested/b/lbclient.conf", lc.Default.Path)

	// case-insensitive alias matching; lbaliases duplicates and junk
	dir := testenv.WriteTree(t, map[string]string{
		"lbaliases":                  "lbalias=A.Example\nlbalias=a.example\nlbalias=\nlbalias=bad,name\nlbaliasx=c\nlbalias=b.example # comment\n",
		"lbclient.conf":              "load constant 1\n",
		"lbclient.conf.a.example":    "load constant 2\n",
		"sub/lbclient.conf.notes.md": "load constant 3\n",
	})
	lc = lgLoad(t, dir, t.TempDir())
	assert.Equal(t, []string{"A.Example", "b.example"}, lc.Listed)
	assert.Equal(t, ".1.3.6.1.4.1.96.255.1\nstring\na.example=2,notes.md=3,b.example=1\n", lgAnswer(t, lc))
}

// nologin through legacy mappings: /etc/iss.nologin for the default
// mapping, /etc/iss.nologin.<alias> instead for an alias file.
func TestNologin(t *testing.T) {
	dir := testenv.WriteTree(t, map[string]string{
		"lbaliases":               "lbalias=a.example\nlbalias=b.example\nlbalias=c.example\n",
		"lbclient.conf":           "check nologin\nload constant 20\n",
		"lbclient.conf.a.example": "check nologin\nload constant 10\n",
	})
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	lc := lgLoad(t, dir, root)
	answer := func() string {
		return lc.Compose(lbclient.EvaluateOnce(context.Background(), lc.Compiled, 0, nil)).Str
	}
	assert.Equal(t, "a.example=10,b.example=20,c.example=20", answer())
	testenv.Touch(t, root, "etc/iss.nologin.a.example")
	assert.Equal(t, "a.example=-1,b.example=20,c.example=20", answer())
	testenv.Touch(t, root, "etc/iss.nologin.b.example") // b has no file of its own: not looked at
	assert.Equal(t, "a.example=-1,b.example=20,c.example=20", answer())
	require.NoError(t, os.Remove(filepath.Join(root, "etc/iss.nologin.a.example")))
	testenv.Touch(t, root, "etc/iss.nologin")
	assert.Equal(t, "a.example=10,b.example=-1,c.example=-1", answer())
	testenv.Touch(t, root, "etc/nologin")
	assert.Equal(t, "a.example=-1,b.example=-1,c.example=-1", answer())
}

// The legacy rule (lbclient.PerMapping): one default mapping serving
// three aliases answers an INTEGER.
func TestOneMappingSeveralAliases(t *testing.T) {
	// one default mapping serving three aliases: INTEGER
	dir := testenv.WriteTree(t, map[string]string{"lbaliases": "lbalias=a\nlbalias=b\nlbalias=c\n", "lbclient.conf": "load constant 77\n"})
	assert.Equal(t, ".1.3.6.1.4.1.96.255.1\ninteger\n77\n", lgAnswer(t, lgLoad(t, dir, t.TempDir())))
}

// The converted TOML loads with lbclient.Parse and gives the same loads as the
// legacy directory, on fixture roots.
func TestConvert(t *testing.T) {
	for _, fixture := range []string{"one", "two", "full", "nested"} {
		t.Run(fixture, func(t *testing.T) {
			lc := lgLoad(t, "testdata/"+fixture, "/")
			text := Convert(lc)
			cfg, err := lbclient.Parse("converted.toml", []byte(text))
			require.NoError(t, err, text)
			assert.Equal(t, lc.Aliases(), cfg.Aliases(), text)
			for _, files := range []map[string]string{
				{"etc/.keep": ""},
				{"etc/iss.nologin": ""},
				{"etc/iss.nologin.www.example.org": "", "run/systemd/shutdown/scheduled": ""},
				{"etc/nologin": ""},
			} {
				root := testenv.WriteTree(t, files)
				lc.Agent.Root, cfg.Agent.Root = root, root
				cfg.DefaultLoad = lc.DefaultLoad
				want := lbclient.EvaluateOnce(context.Background(), lc.Compiled, 0, nil)
				got := lbclient.EvaluateOnce(context.Background(), cfg, 0, nil)
				assert.Equal(t, len(want), len(got))
				for i := range want {
					if i < len(got) && (want[i].Alias != got[i].Alias || want[i].Metric != got[i].Metric) {
						t.Errorf("%v: legacy %s=%d (%s), TOML %s=%d (%s)", files, want[i].Alias, want[i].Metric, want[i].Reason,
							got[i].Alias, got[i].Metric, got[i].Reason)
					}
				}
			}
		})
	}
	text := Convert(lgLoad(t, "testdata/full", "/"))
	for _, want := range []string{
		`users = [{ name = "loadbalancing", auth_protocol = "md5", auth_password = "CHANGE-ME-shared-lb-password" }]`,
		`{ type = "command", data = "bash:test ! -e /nonexistent-lbd-test-file" }`,
		`{ type = "daemon", data = "{\"port\": [80, 443], \"protocol\": \"tcp\"}" }`,
		"[[alias]]\nname = \"plain.cern.ch\"\n",
		"name = \"other.cern.ch\"   # listed in lbaliases, uses [default]",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in:\n%s", want, text)
		}
	}
	// a broken file: the bad line becomes a comment
	text = Convert(lgLoad(t, "testdata/broken", "/"))
	if !strings.Contains(text, "# ERROR line 2 left out") {
		t.Errorf("broken:\n%s", text)
	}
	if _, err := lbclient.Parse("converted.toml", []byte(text)); err != nil {
		t.Errorf("broken converted: %v\n%s", err, text)
	}
}

func FuzzLine(f *testing.F) {
	for _, s := range []string{
		"check nologin", "load constant 50000", "  load\tconstant  1.5\r", `check daemon {"port": [22, "80"], "ip": "6"}`,
		"check daemon {", "check command echo 'a  b'", "check collectd [a/b:1]=0 && [c]>=2", "load collectd _123:2*3",
		`check collectd_alarms [{"a/b": ["okay", "warning"]}, {}]`, "check constant", "# comment", "check", "load",
		"CHECK LEMON x", "check\x00nologin", "load constant 1e400", "load constant -0.5", "\xff\xfe check nologin",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		l, ok := ParseLine(line, 0)
		if !ok {
			return
		}
		if (l.Err == nil) == (l.Check == nil) {
			t.Fatalf("%q: Err %v with Check %v", line, l.Err, l.Check)
		}
		if l.Err != nil && l.Code >= 0 {
			t.Fatalf("%q: error with code %d", line, l.Code)
		}
		_ = tomlItem(l)
	})
}

// FuzzFile: any default file and lbaliases load without panic, and
// the converted TOML loads whenever an alias is served.
func FuzzFile(f *testing.F) {
	f.Add("lbalias=test.cern.ch\n", "load constant 50000\n")
	f.Add("lbalias=a\r\nlbalias= b \n", "check nologin\r\n\tload  constant 5\nload constant 3\ncheck daemon {\"port\": 22}\n")
	f.Add("lbalias=x\"y\n", "check command echo \"\\\"\n")
	f.Add("lbalias=\\u0000\n", "check command printf '\x01\x7f'\n")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, aliases, conf string) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "lbaliases"), []byte(aliases), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "lbclient.conf"), []byte(conf), 0o644))
		lc := Load(dir, Options{})
		_ = lc.Compose(make([]lbclient.AliasLoad, len(lc.Aliases())))
		text := Convert(lc)
		if len(lc.Aliases()) == 0 {
			return
		}
		if _, err := lbclient.Parse("converted.toml", []byte(text)); err != nil {
			t.Fatalf("converted TOML does not load: %v\n%s", err, text)
		}
	})
}

// Load describes the directory as an lbclient.Plan (declarative, the
// legacy rule) and compiles it.
func TestPlan(t *testing.T) {
	lc := lgLoad(t, "testdata/two", "")
	require.NotNil(t, lc.Plan)
	assert.Equal(t, lbclient.PerMapping, lc.Plan.Rule)
	assert.Equal(t, lbclient.PerMapping, lc.Rule())
	assert.Equal(t, []string{"test2.cern.ch", "test.cern.ch"}, lc.Plan.Aliases)
	require.Len(t, lc.Plan.Mappings, 2)
	assert.Equal(t, "testdata/two/lbclient.conf.test2.cern.ch:1", lc.Plan.Mappings[0].Steps[0].Key)
	assert.True(t, lc.Plan.Mappings[1].Default)

	// nothing readable: nothing can be served
	lc = lgLoad(t, filepath.Join(t.TempDir(), "missing"), "")
	assert.Equal(t, lbclient.AlwaysConfigError, lc.Plan.Rule)

	// a listed alias without a default file: a failing step
	dir := testenv.WriteTree(t, map[string]string{"lbaliases": "lbalias=a.example\n"})
	lc = lgLoad(t, dir, "")
	require.Len(t, lc.Plan.Mappings, 1)
	require.Len(t, lc.Plan.Mappings[0].Steps, 1)
	f := lc.Plan.Mappings[0].Steps[0].Failure
	require.NotNil(t, f)
	assert.Equal(t, ConfigError, f.Metric)
}

// Every line of lbaliases that is not an alias is reported with its line
// number, and an alias name must be a DNS name (issue 12): "lbalias=bad
// alias with spaces" no longer becomes an alias "bad".
func TestLbaliasesLinesReported(t *testing.T) {
	dir := testenv.WriteTree(t, map[string]string{
		"lbaliases":     "lbalias=good.example.org\ngarbage\n\x00\x01\xff\nlbalias=bad alias with spaces\nlbalias=bad..name\nlbalias=also.good # comment\n",
		"lbclient.conf": "load constant 5\n",
	})
	lc := lgLoad(t, dir, t.TempDir())
	var report []string
	for _, p := range lc.Problems {
		report = append(report, p.String())
	}
	all := strings.Join(report, "\n")
	assert.Contains(t, all, "lbaliases:2: warning: \"garbage\": not an lbalias=NAME line: ignored")
	assert.Contains(t, all, "lbaliases:3: warning: a line with binary bytes: not an lbalias=NAME line: ignored")
	assert.Contains(t, all, "lbaliases:4: error: \"bad alias with spaces\" is not an alias name (it contains blanks): ignored")
	assert.Contains(t, all, "lbaliases:5: error: \"bad..name\" is not a valid DNS name")
	assert.Equal(t, []string{"good.example.org", "also.good"}, lc.Aliases())
}
