package statuspage

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lbd-project/lbd/lbd/history"
	"github.com/lbd-project/lbd/lbd/override"
	"github.com/lbd-project/lbd/lbd/status"
)

var now = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

const hostile = `evil"><script>alert(1)</script>.lb.test`

func fixture() (status.Snapshot, *history.History) {
	snap := status.Snapshot{At: now, Host: "lbd1.test", Instance: "lbd1", Master: false, Writing: true, Fencing: true,
		LastBeat: now.Add(-42 * time.Second),
		Leases:   map[string]map[string]status.Lease{"127.0.0.1:53": {"lb.test": {Writing: true, Holder: "lbd1"}}},
		Shard: &status.Shard{Live: []string{"lbd1", "lbd2"},
			Peers: []status.ShardPeer{{Instance: "lbd2", Live: true, LastBeat: now.Add(-time.Second)}, {Instance: "lbd3", Error: "connection refused"}},
			Zones: []status.ShardZone{{Zone: "lb.test", Owner: "lbd1", Mine: true}, {Zone: "other.test", Owner: "lbd2"}}},
		Aliases: []status.Alias{
			{Name: "www.lb.test", Zone: "lb.test", Hosts: []string{"a.test", "b.test"}, Addrs: []string{"192.0.2.1", "192.0.2.2"},
				Usable: 2, Configured: 3, LastEval: now, LastChange: now.Add(-time.Hour), StaleMembers: 1,
				Overrides: []override.Override{{Alias: "www.lb.test", Member: "c.test", Action: "drain", Reason: "disk swap",
					Author: "ops", Since: now.Add(-time.Hour), Until: now.Add(time.Hour)}},
				Servers: map[string]string{"127.0.0.1:53": "ok"},
				Members: []status.Member{
					{Host: "a.test", Load: 10, Meaning: status.LoadMeaning(10), Addrs: []string{"192.0.2.1"}, Published: true, Why: "published: among the best",
						RegisteredUntil: now.Add(90 * time.Second)},
					{Host: "b.test", Load: 20, Meaning: status.LoadMeaning(20), Addrs: []string{"192.0.2.2"}, Published: true, Why: "published: among the best",
						Stale: true, LoadSince: now.Add(-7 * time.Hour)},
					{Host: "c.test", Load: -1, Meaning: status.LoadMeaning(-1), Addrs: []string{"192.0.2.3"}, Why: "not usable: -1: failed nologin",
						Override: "drained by ops until 13:00: <disk swap>"},
				}},
			{Name: hostile, Zone: "lb.test", Hosts: []string{}, Addrs: []string{}, Configured: 1,
				Error:   `update refused: <b>NOTAUTH</b> & "quotes"`,
				Servers: map[string]string{"127.0.0.1:53": "NOTAUTH <i>"},
				Members: []status.Member{{Host: `<img src=x onerror=alert(2)>`, Load: 100000,
					Meaning: status.LoadMeaning(100000), Why: "not usable"}}},
		},
	}
	h := history.New(history.Options{})
	h.Record(now.Add(-3*time.Hour), "www.lb.test", []string{"a.test", "c.test"})
	h.Record(now.Add(-2*time.Hour), "www.lb.test", []string{"a.test", "old.test"})
	h.Record(now.Add(-time.Hour), "www.lb.test", []string{"a.test", "b.test"})
	h.Record(now.Add(-30*time.Minute), hostile, []string{`<img src=x onerror=alert(2)>`})
	h.Record(now.Add(-10*time.Minute), hostile, nil)
	return snap, h
}

func render(t *testing.T, window time.Duration) string {
	t.Helper()
	snap, h := fixture()
	var b strings.Builder
	if err := Render(&b, snap, h, window); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// svgOf returns the timeline element of alias id (escaped as in HTML).
func svgOf(t *testing.T, page, id string) string {
	t.Helper()
	i := strings.Index(page, `<svg id="timeline-`+id+`"`)
	if i < 0 {
		t.Fatalf("no timeline for %s", id)
	}
	j := strings.Index(page[i:], "</svg>")
	return page[i : i+j]
}

func TestPageShowsHeaderAliasesAndMembers(t *testing.T) {
	page := render(t, 24*time.Hour)
	for _, want := range []string{
		`<span id="host">lbd1.test</span>`, `<span id="instance">lbd1</span>`,
		"slave, writing", "42s ago", "on (zone leases)",
		`id="alias-www.lb.test"`, "<h2>www.lb.test", "a.test, b.test", "192.0.2.1, 192.0.2.2", "2 of 3",
		"failed nologin", "not usable: -1: failed nologin", `<span class="badge yes">published</span>`,
		"Zone leases", "1 with errors",
		"override: drained by ops until 13:00: &lt;disk swap&gt;", "drain c.test by ops: “disk swap”",
		"stale: load unchanged since 2025-03-01 05:00:00 UTC", "1 member with a stuck load",
		"registered until", "Live instances: lbd1, lbd2.", "connection refused", `<span class="badge yes">writes it</span>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script") {
		t.Error("page has a script")
	}
	if regexp.MustCompile(`(?i)(src|href)="(https?:)?//`).MatchString(page) {
		t.Error("page loads an external asset")
	}
}

func TestTimelineHasABarPerSpan(t *testing.T) {
	page := render(t, 24*time.Hour)
	svg := svgOf(t, page, "www.lb.test")
	// a: 3 h continuously; c: 1 h; old: 1 h; b: 1 h → 4 spans.
	if n := strings.Count(svg, `<rect class="bar"`); n != 4 {
		t.Fatalf("%d bars, want 4:\n%s", n, svg)
	}
	if !strings.Contains(svg, `data-spans="4"`) {
		t.Error("data-spans is not 4")
	}
	// One row per member, then the former member old.test.
	rows := regexp.MustCompile(`data-host="([^"]*)"`).FindAllStringSubmatch(svg, -1)
	var got []string
	for _, r := range rows {
		got = append(got, r[1])
	}
	if strings.Join(got, " ") != "a.test b.test c.test old.test" {
		t.Fatalf("rows %v", got)
	}
	if !strings.Contains(svg, "(no longer a member)") {
		t.Error("old.test not marked as a former member")
	}
	// a.test's bar starts 3 h before the end of a 24 h window: at 21/24 of
	// the plot.
	x := labelWidth + float64(svgWidth-labelWidth-rightPad)*21/24
	if !strings.Contains(svg, `x="`+trimFloat(round1(x))+`"`) {
		t.Errorf("no bar at x=%v:\n%s", x, svg)
	}
	// Before the first change point: the no-data shade; time labels.
	if !strings.Contains(svg, `class="nodata"`) {
		t.Error("no no-data region before the first change point")
	}
	for _, lbl := range []string{">12:00<", ">14:00<", ">08:00<"} {
		if !strings.Contains(svg, lbl) {
			t.Errorf("axis lacks label %s", lbl)
		}
	}
}

func trimFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func TestShortWindowClipsAndLabels(t *testing.T) {
	page := render(t, 15*time.Minute)
	svg := svgOf(t, page, "www.lb.test")
	if n := strings.Count(svg, `<rect class="bar"`); n != 2 {
		t.Fatalf("%d bars in the last 15 min, want 2 (a and b)", n)
	}
	if strings.Contains(svg, `class="nodata"`) {
		t.Error("no-data region although history covers the window")
	}
	if !strings.Contains(svg, ">11:50<") {
		t.Error("no 11:50 label on a 15 min axis")
	}
}

func TestHostileNamesAreEscaped(t *testing.T) {
	page := render(t, 24*time.Hour)
	for _, bad := range []string{"<script>alert(1)", "<img src=x", "<b>NOTAUTH</b>", "<i>"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains unescaped %q", bad)
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;img src=x onerror=alert(2)&gt;", "&lt;b&gt;NOTAUTH&lt;/b&gt;"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks the escaped %q", want)
		}
	}
	// The hostile alias still has its section, error and timeline (with a
	// bar for the 20 min its member was published).
	if !strings.Contains(page, `class="alias has-error" id="alias-evil&#34;&gt;&lt;script&gt;`) {
		t.Error("hostile alias's section missing or not marked as an error")
	}
	svg := svgOf(t, page, "evil&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;.lb.test")
	if strings.Count(svg, `<rect class="bar"`) != 1 {
		t.Errorf("hostile alias's timeline:\n%s", svg)
	}
}

func TestSubMinuteTicks(t *testing.T) {
	svg := svgOf(t, render(t, 2*time.Minute), "www.lb.test")
	if !strings.Contains(svg, ">11:59:30<") || !strings.Contains(svg, ">12:00:00<") {
		t.Fatalf("a 2 min axis without 15 s labels:\n%s", svg)
	}
}

func TestShort(t *testing.T) {
	for d, want := range map[time.Duration]string{24 * time.Hour: "24h", 90 * time.Second: "1m30s", 15 * time.Minute: "15m",
		90 * time.Minute: "1h30m", time.Hour + time.Second: "1h1s", 0: "0s"} {
		if got := short(d); got != want {
			t.Errorf("short(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestRoles(t *testing.T) {
	for _, tc := range []struct {
		master, writing bool
		want            string
	}{{true, true, ">master<"}, {false, true, "slave, writing"}, {false, false, "slave, passive"}} {
		snap, h := fixture()
		snap.Master, snap.Writing = tc.master, tc.writing
		var b strings.Builder
		if err := Render(&b, snap, h, time.Hour); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), tc.want) {
			t.Errorf("master=%v writing=%v: no %q", tc.master, tc.writing, tc.want)
		}
	}
}

type fixed status.Snapshot

func (f fixed) Snapshot() status.Snapshot { return status.Snapshot(f) }

func TestHandler(t *testing.T) {
	snap, h := fixture()
	srv := Handler(fixed(snap), h)
	for _, tc := range []struct {
		method, target string
		code           int
	}{
		{"GET", "/", 200}, {"HEAD", "/", 200}, {"GET", "/?window=1h0m0s", 200}, {"GET", "/?window=15m", 200},
		{"GET", "/?window=2m", 200}, {"GET", "/?window=30s", 400}, {"GET", "/?window=x", 400}, {"GET", "/nope", 404}, {"POST", "/", 405},
	} {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.target, nil))
		if rec.Code != tc.code {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.target, rec.Code, tc.code)
		}
		if tc.code == http.StatusOK {
			if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("%s %s: Content-Type %q", tc.method, tc.target, ct)
			}
		}
	}
	// No history at all: the page still renders, timelines say so.
	rec := httptest.NewRecorder()
	Handler(fixed(snap), nil).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `<svg id="timeline-www.lb.test"`) {
		t.Fatalf("without history: %d\n%s", rec.Code, rec.Body.String())
	}
}
