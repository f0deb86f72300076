package renderer

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/lbd"
	"github.com/lbd-project/lbd/lbd/choice"
	"github.com/lbd-project/lbd/lbd/config"
	"github.com/lbd-project/lbd/lbd/render"
	"github.com/lbd-project/lbd/lbd/status"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func snapshot() status.Snapshot {
	return status.Snapshot{At: t0, Aliases: []status.Alias{
		{Name: "www.example.org", Zone: "example.org", Hosts: []string{"b.example.org", "a.example.org"}, LastChange: t0,
			Members: []status.Member{
				{Host: "c.example.org", Load: choice.LoadNoAnswer, Addrs: []string{"192.0.2.3"}},
				{Host: "b.example.org", Load: 20, Addrs: []string{"2001:db8::2", "192.0.2.2"}, Published: true},
				{Host: "a.example.org", Load: 10, Addrs: []string{"192.0.2.1"}, Published: true},
				{Host: "d.example.org", Load: 30, Addrs: []string{"::ffff:192.0.2.4", "192.0.2.4"}},
				{Host: "e.example.org", Load: 5},
			}},
		{Name: "api.example.org", Zone: "api.example.org", Hosts: []string{}, LastChange: t0, Fallback: "none",
			Members: []status.Member{{Host: "x.example.org", Load: 0, Addrs: []string{"192.0.2.9"}}}},
	}}
}

func hosts(ms []render.Member) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.Host)
	}
	return out
}

func TestFromSnapshot(t *testing.T) {
	d, pending := FromSnapshot(snapshot())
	assert.Empty(t, pending)
	assert.Equal(t, t0, d.Generated)
	require.Len(t, d.Aliases, 2)
	for _, tc := range []struct {
		alias                      string
		published, usable, members []string
	}{
		{"api.example.org", []string{}, []string{}, []string{"x.example.org"}},
		{"www.example.org", []string{"a.example.org", "b.example.org"},
			[]string{"a.example.org", "b.example.org", "d.example.org"},
			[]string{"a.example.org", "b.example.org", "c.example.org", "d.example.org", "e.example.org"}},
	} {
		a := d.Alias(tc.alias)
		require.NotNil(t, a, tc.alias)
		assert.Equal(t, tc.published, hosts(a.Published), tc.alias)
		assert.Equal(t, tc.usable, hosts(a.Usable), tc.alias)
		assert.Equal(t, tc.members, hosts(a.Members), tc.alias)
	}
	assert.Equal(t, "api.example.org", d.Aliases[0].Name, "sorted by name")
	assert.Equal(t, "none", d.Aliases[0].Fallback)
	www := d.Alias("www.example.org")
	b := www.Published[1]
	assert.Equal(t, render.Member{Host: "b.example.org", Addrs: []string{"192.0.2.2", "2001:db8::2"}, IPv4: []string{"192.0.2.2"},
		IPv6: []string{"2001:db8::2"}, Load: 20, Usable: true, Published: true}, b)
	assert.Equal(t, "192.0.2.2", b.Addr(), "IPv4 first")
	dm := www.Members[3]
	assert.Equal(t, []string{"192.0.2.4"}, dm.Addrs, "mapped and duplicate addresses folded")
	e := www.Members[4]
	assert.False(t, e.Usable, "no address: not usable")
	assert.Equal(t, "", e.Addr())
	assert.Equal(t, []string{}, e.Addrs)
}

func TestFromSnapshotIsDeterministic(t *testing.T) {
	s1 := snapshot()
	s2 := snapshot()
	// The same membership in another order, polled later with other loads.
	s2.Aliases[0], s2.Aliases[1] = s2.Aliases[1], s2.Aliases[0]
	ms := s2.Aliases[1].Members
	ms[0], ms[4] = ms[4], ms[0]
	s2.Aliases[1].Hosts = []string{"a.example.org", "b.example.org"}
	s2.At = t0.Add(time.Hour)
	d1, _ := FromSnapshot(s1)
	d2, _ := FromSnapshot(s2)
	d2.Generated = d1.Generated
	assert.Equal(t, d1, d2)
}

func TestFromSnapshotPending(t *testing.T) {
	s := snapshot()
	s.Aliases[0].LastChange = time.Time{}
	_, pending := FromSnapshot(s)
	assert.Equal(t, []string{"www.example.org"}, pending)
}

type fakeSource struct{ s status.Snapshot }

func (f *fakeSource) Snapshot() status.Snapshot { return f.s }

func compiled(t *testing.T, reload string) (*config.Compiled, string) {
	t.Helper()
	dir := t.TempDir()
	tmpl := filepath.Join(dir, "t.tmpl")
	require.NoError(t, os.WriteFile(tmpl, []byte(`{{range .Aliases}}{{.Name}}:{{range .Published}} {{.Addr}}{{end}}
{{end}}`), 0o644))
	tg := &render.Target{Output: filepath.Join(dir, "out")}
	var err error
	tg.Template, err = render.ParseTemplate(tmpl)
	require.NoError(t, err)
	if reload != "" {
		tg.Reload, err = render.ParseCommand(reload)
		require.NoError(t, err)
	}
	return &config.Compiled{Renders: []*render.Target{tg}}, tg.Output
}

func TestOnceWaitsForDecisionsAndRetriesReload(t *testing.T) {
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok")
	cfg, out := compiled(t, "test -e "+ok)
	src := &fakeSource{s: snapshot()}
	src.s.Aliases[1].LastChange = time.Time{}
	r := New(src, nil)
	ctx := context.Background()

	round := r.Once(ctx, cfg)
	assert.Equal(t, []string{"api.example.org"}, round.Pending)
	assert.Empty(t, round.Results)
	assert.NoFileExists(t, out, "nothing written before every alias has a decision")

	src.s = snapshot()
	round = r.Once(ctx, cfg)
	require.Len(t, round.Results, 1)
	assert.Equal(t, render.Reload, round.Results[0].Stage)
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, "api.example.org:\nwww.example.org: 192.0.2.1 192.0.2.2\n", string(b))

	require.NoError(t, os.WriteFile(ok, nil, 0o644))
	round = r.Once(ctx, cfg)
	require.Len(t, round.Results, 1)
	assert.Equal(t, render.Unchanged, round.Results[0].Stage, "the retried reload succeeded")
	assert.NoError(t, round.Results[0].Err)
	assert.Empty(t, r.reload[out])
}

func TestObserveCycleCoalesces(t *testing.T) {
	cfg, out := compiled(t, "")
	rounds := make(chan Round, 10)
	r := New(&fakeSource{s: snapshot()}, func(rd Round) { rounds <- rd })
	// Many cycles before Run starts: one request is kept, the latest.
	for i := 0; i < 5; i++ {
		r.ObserveCycle(t0, cfg, lbd.CycleReport{})
	}
	r.ObserveCycle(t0, &config.Compiled{}, lbd.CycleReport{}) // no [[render]]: ignored
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	select {
	case rd := <-rounds:
		require.Len(t, rd.Results, 1)
		assert.Equal(t, render.Replaced, rd.Results[0].Stage)
	case <-time.After(30 * time.Second):
		t.Fatal("no round")
	}
	cancel()
	<-done
	assert.Empty(t, rounds, "one round for the coalesced cycles")
	assert.FileExists(t, out)
}

func TestCarryKept(t *testing.T) {
	prev, _ := FromSnapshot(snapshot())
	// Every member of www unusable now, fallback keep: DNS keeps a and b.
	s := snapshot()
	w := &s.Aliases[0]
	w.Hosts, w.Fallback = []string{}, FallbackKeep
	for i := range w.Members {
		w.Members[i].Load, w.Members[i].Published = -1, false
	}
	w.Members = w.Members[1:] // c is no longer evaluated (a reload dropped it); it was not published
	next, pending := FromSnapshot(s)
	require.Empty(t, pending)
	require.Empty(t, next.Alias("www.example.org").Published, "the decision publishes nothing")

	for _, tc := range []struct {
		name      string
		prev      *render.Data
		published []string
		unknown   []string
	}{
		{"nothing rendered before", nil, []string{}, []string{"www.example.org"}},
		{"rendered before", &prev, []string{"a.example.org", "b.example.org"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, unknown := CarryKept(tc.prev, next)
			assert.Equal(t, tc.unknown, unknown)
			www := got.Alias("www.example.org")
			assert.Equal(t, tc.published, hosts(www.Published))
			assert.Empty(t, www.Usable)
			for _, m := range www.Published {
				assert.Equal(t, -1, m.Load, "the member as evaluated now")
				assert.True(t, m.Published)
			}
			assert.Equal(t, next.Alias("api.example.org"), got.Alias("api.example.org"), "other aliases as they are")
		})
	}
	assert.Empty(t, next.Alias("www.example.org").Published, "next is not changed")
	for _, m := range next.Alias("www.example.org").Members {
		assert.False(t, m.Published)
	}
}

func TestOnceUnderFallbackKeep(t *testing.T) {
	cfg, out := compiled(t, "")
	src := &fakeSource{s: snapshot()}
	r := New(src, nil)
	ctx := context.Background()
	// Keep fires at start-up: what DNS serves is unknown, nothing is written.
	src.s.Aliases[0].Hosts, src.s.Aliases[0].Fallback = []string{}, FallbackKeep
	round := r.Once(ctx, cfg)
	assert.Equal(t, []string{"www.example.org"}, round.Pending)
	assert.NoFileExists(t, out)
	// Members usable: rendered; then keep fires: the file does not change.
	src.s = snapshot()
	round = r.Once(ctx, cfg)
	require.Len(t, round.Results, 1)
	assert.Equal(t, render.Replaced, round.Results[0].Stage)
	src.s.Aliases[0].Hosts, src.s.Aliases[0].Fallback = []string{}, FallbackKeep
	round = r.Once(ctx, cfg)
	require.Empty(t, round.Pending)
	require.Len(t, round.Results, 1)
	assert.Equal(t, render.Unchanged, round.Results[0].Stage, "DNS is kept, so is the file")
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, "api.example.org:\nwww.example.org: 192.0.2.1 192.0.2.2\n", string(b))
}
