// Package statuspage serves lbd's HTML status page at / on http_listen
// (docs/operations.md, "Status page"): the instance's role and heartbeat,
// every alias with its members (load, what it means, published or not and
// why), and each alias's membership over time as an SVG timeline.
//
// The page is rendered on the server with html/template, so every value is
// escaped; it has no scripts and no external assets (inline CSS and SVG)
// and so works offline.
package statuspage

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"time"

	"github.com/lbd-project/lbd/lbd/history"
	"github.com/lbd-project/lbd/lbd/status"
)

// Source is what the page shows: *lbd.Daemon is one.
type Source interface {
	Snapshot() status.Snapshot
}

// Windows are the time ranges the page links to (?window=), the first
// being the default. Any ?window= from MinWindow up is accepted; a range
// longer than the history's window is cut to it.
var Windows = []time.Duration{24 * time.Hour, 6 * time.Hour, time.Hour, 15 * time.Minute}

// MinWindow is the shortest ?window=.
const MinWindow = time.Minute

//go:embed page.html
var pageHTML string

var page = template.Must(template.New("page").Funcs(template.FuncMap{
	"clock": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.Format("2006-01-02 15:04:05 MST")
	},
	"odd": func(i int) bool { return i%2 == 1 },
	"add": func(a, b int) int { return a + b },
}).Parse(pageHTML))

// Handler serves the page for GET and HEAD of / (any other path is 404: the
// mux routes every unmatched path to /). hist may be nil: no timelines.
func Handler(src Source, hist *history.History) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		window := Windows[0]
		if s := r.URL.Query().Get("window"); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil || d < MinWindow {
				http.Error(w, fmt.Sprintf("window %q: a duration of at least %v (24h, 90m, …)", s, MinWindow), http.StatusBadRequest)
				return
			}
			window = d
		}
		var buf bytes.Buffer
		if err := Render(&buf, src.Snapshot(), hist, window); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
		w.Write(buf.Bytes())
	})
}

// Render writes the page for snap, with timelines over the window that
// ends at snap.At.
func Render(w io.Writer, snap status.Snapshot, hist *history.History, window time.Duration) error {
	if err := page.Execute(w, build(snap, hist, window)); err != nil {
		return fmt.Errorf("status page: %w", err)
	}
	return nil
}
