package managed

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/lbd/config"
	"github.com/lbd-project/lbd/lbd/cycle"
)

func compile(t *testing.T, aliases ...string) *config.Compiled {
	t.Helper()
	src := "[lbd]\nrole = \"master\"\n[dns]\nservers = [\"127.0.0.1:5301\"]\ninternal_key = { name = \"int.\", secret = \"aW50ZXJuYWw=\" }\n[snmp]\nversion = \"2c\"\ncommunity = \"public\"\n"
	for _, a := range aliases {
		src += "[[alias]]\nname = \"" + a + "\"\nmembers = [\"192.0.2.1\"]\n"
	}
	cfg, err := config.Parse("m.toml", []byte(src))
	require.NoError(t, err)
	return cfg
}

func TestSaveLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s, err := Load(dir)
	require.NoError(t, err, "no file yet: an empty set")
	assert.Empty(t, s)
	want := Set{{Name: "b.example.org", Zone: "example.org"}: true, {Name: "a.example.org", Zone: "example.org"}: true}
	require.NoError(t, want.Save(dir))
	got, err := Load(dir)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	b, err := os.ReadFile(filepath.Join(dir, File))
	require.NoError(t, err)
	assert.Regexp(t, `(?s)"a\.example\.org".*"b\.example\.org"`, string(b), "sorted by name")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file left")

	require.NoError(t, os.WriteFile(filepath.Join(dir, File), []byte("{not json"), 0o600))
	_, err = Load(dir)
	assert.ErrorContains(t, err, filepath.Join(dir, File))

	require.NoError(t, Set{}.Save(""), "no state_dir: nothing kept")
}

func TestRemovedAndNext(t *testing.T) {
	cfg := compile(t, "a.example.org")
	a := cycle.Managed{Name: "a.example.org", Zone: cfg.Params[0].Zone}
	gone := cycle.Managed{Name: "gone.example.org", Zone: "example.org"}
	s := Set{a: true, gone: true}
	assert.Equal(t, []cycle.Managed{gone}, s.Removed(cfg))

	plan := func(actions ...cycle.Action) cycle.Plan {
		rp := cycle.RemovalPlan{Managed: gone}
		for _, act := range actions {
			rp.Views = append(rp.Views, cycle.ViewPlan{Action: act})
		}
		return cycle.Plan{Removals: []cycle.RemovalPlan{rp}}
	}
	ok := func(int) bool { return false }
	for _, tc := range []struct {
		name    string
		plan    cycle.Plan
		failed  func(int) bool
		want    Set
		changed bool
	}{
		{"deleted everywhere: forgotten", plan(cycle.Write, cycle.InSync), ok, Set{a: true}, true},
		{"one view fenced: kept", plan(cycle.Write, cycle.Fenced), ok, s, false},
		{"apply failed: kept", plan(cycle.Write), func(int) bool { return true }, s, false},
		{"dry run: nothing changes", cycle.Plan{DryRun: true, Removals: plan(cycle.Write).Removals}, ok, s, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, changed := s.Next(cfg, tc.plan, tc.failed)
			assert.Equal(t, tc.want, next)
			assert.Equal(t, tc.changed, changed)
			assert.Len(t, s, 2, "the receiver is not modified")
		})
	}
	next, changed := Set{}.Next(cfg, cycle.Plan{}, ok)
	assert.True(t, changed, "a configured alias is added")
	assert.Equal(t, Set{a: true}, next)
}
