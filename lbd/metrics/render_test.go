package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/lbd"
	"github.com/lbd-project/lbd/lbd/config"
	"github.com/lbd-project/lbd/lbd/render"
)

// lbd_render_total counts rounds by output and result; an output a reload
// removed loses its series.
func TestRenderCounter(t *testing.T) {
	c := New(&fakeSource{})
	a, b := &render.Target{Output: "/etc/haproxy/a.cfg"}, &render.Target{Output: "/etc/haproxy/b.cfg"}
	c.ObserveCycle(t0, &config.Compiled{Renders: []*render.Target{a, b}}, lbd.CycleReport{})
	c.ObserveRender(a.Output, string(render.Replaced))
	c.ObserveRender(a.Output, string(render.Unchanged))
	c.ObserveRender(a.Output, string(render.Unchanged))
	c.ObserveRender(b.Output, string(render.Check))
	want := `# HELP lbd_render_total Rounds of a [[render]] output after a cycle by result (unchanged, replaced, template_error, read_error, write_error, check_failed, reload_failed).
# TYPE lbd_render_total counter
lbd_render_total{output="/etc/haproxy/a.cfg",result="replaced"} 1
lbd_render_total{output="/etc/haproxy/a.cfg",result="unchanged"} 2
lbd_render_total{output="/etc/haproxy/b.cfg",result="check_failed"} 1
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), "lbd_render_total"))
	c.ObserveCycle(t0, &config.Compiled{Renders: []*render.Target{a}}, lbd.CycleReport{})
	want = `# HELP lbd_render_total Rounds of a [[render]] output after a cycle by result (unchanged, replaced, template_error, read_error, write_error, check_failed, reload_failed).
# TYPE lbd_render_total counter
lbd_render_total{output="/etc/haproxy/a.cfg",result="replaced"} 1
lbd_render_total{output="/etc/haproxy/a.cfg",result="unchanged"} 2
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), "lbd_render_total"))
	lint(t, c)
}
