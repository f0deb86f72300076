package history

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/lbd-project/lbd/lbd"
	"github.com/lbd-project/lbd/lbd/choice"
	"github.com/lbd-project/lbd/lbd/config"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func at(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

type rec struct {
	min   int
	hosts []string
}

func TestSpans(t *testing.T) {
	for _, tc := range []struct {
		name     string
		recs     []rec
		from, to int
		want     []Span
	}{
		{name: "nothing recorded", from: 0, to: 60},
		{name: "one set until to", recs: []rec{{0, []string{"b", "a"}}}, from: 0, to: 60,
			want: []Span{{"a", at(0), at(60)}, {"b", at(0), at(60)}}},
		{name: "unknown before the first point", recs: []rec{{10, []string{"a"}}}, from: 0, to: 60,
			want: []Span{{"a", at(10), at(60)}}},
		{name: "a host leaves and returns",
			recs: []rec{{0, []string{"a", "b"}}, {10, []string{"b"}}, {20, []string{"a", "b"}}}, from: 0, to: 30,
			want: []Span{{"a", at(0), at(10)}, {"a", at(20), at(30)}, {"b", at(0), at(30)}}},
		{name: "same set again makes no point",
			recs: []rec{{0, []string{"a"}}, {5, []string{"a"}}, {10, []string{"a"}}}, from: 0, to: 30,
			want: []Span{{"a", at(0), at(30)}}},
		{name: "clipped to the range",
			recs: []rec{{0, []string{"a"}}, {10, []string{"b"}}, {20, []string{"a"}}}, from: 5, to: 15,
			want: []Span{{"a", at(5), at(10)}, {"b", at(10), at(15)}}},
		{name: "points after to are ignored",
			recs: []rec{{0, []string{"a"}}, {40, []string{"b"}}}, from: 0, to: 30,
			want: []Span{{"a", at(0), at(30)}}},
		{name: "empty set publishes nothing",
			recs: []rec{{0, []string{"a"}}, {10, nil}, {20, []string{"a"}}}, from: 0, to: 30,
			want: []Span{{"a", at(0), at(10)}, {"a", at(20), at(30)}}},
		{name: "empty range", recs: []rec{{0, []string{"a"}}}, from: 30, to: 30},
		{name: "duplicates collapse", recs: []rec{{0, []string{"a", "a"}}}, from: 0, to: 10,
			want: []Span{{"a", at(0), at(10)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := New(Options{})
			for _, r := range tc.recs {
				h.Record(at(r.min), "www", r.hosts)
			}
			got := h.Spans("www", at(tc.from), at(tc.to))
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Spans:\n got %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestWindowKeepsThePointInForceAtItsStart(t *testing.T) {
	h := New(Options{Window: time.Hour})
	h.Record(at(0), "www", []string{"a"})
	h.Record(at(30), "www", []string{"b"})
	h.Record(at(100), "www", []string{"c"}) // window starts at 40: "b" was in force then
	got := h.Changes("www")
	if len(got) != 2 || got[0].At != at(30) || got[1].At != at(100) {
		t.Fatalf("changes %v, want the points of 30 and 100 min", got)
	}
	// A repeat long after still expires what ended before the window.
	h.Record(at(200), "www", []string{"c"})
	if got := h.Changes("www"); len(got) != 1 || got[0].At != at(100) {
		t.Fatalf("changes %v, want only the point of 100 min", got)
	}
	spans := h.Spans("www", at(140), at(200))
	if want := []Span{{"c", at(140), at(200)}}; !reflect.DeepEqual(spans, want) {
		t.Fatalf("spans %v, want %v", spans, want)
	}
}

func TestMaxChangesPerAlias(t *testing.T) {
	h := New(Options{MaxChanges: 3})
	for i := 0; i < 10; i++ {
		h.Record(at(i), "www", []string{fmt.Sprint("h", i)})
	}
	h.Record(at(0), "other", []string{"x"})
	got := h.Changes("www")
	if len(got) != 3 || got[0].At != at(7) || got[2].At != at(9) {
		t.Fatalf("changes %v, want the last 3 (7, 8, 9 min)", got)
	}
	if len(h.Changes("other")) != 1 {
		t.Fatal("another alias's points were dropped")
	}
}

func TestByteBudgetDropsTheOldestFirst(t *testing.T) {
	h := New(Options{MaxBytes: 1000})
	// Each point: 64 + 16 + 2 = 82 bytes; each alias 128 + 1.
	for i := 0; i < 20; i++ {
		h.Record(at(i), "a", []string{fmt.Sprintf("%02d", i)})
		h.Record(at(i).Add(time.Second), "b", []string{fmt.Sprintf("%02d", i)})
	}
	if b := h.Bytes(); b > 1000 {
		t.Fatalf("%d bytes held, budget 1000", b)
	}
	a, b := h.Changes("a"), h.Changes("b")
	if len(a) == 0 || len(b) == 0 {
		t.Fatalf("an alias lost every point: a %d, b %d", len(a), len(b))
	}
	if a[len(a)-1].At != at(19) || b[len(b)-1].At != at(19).Add(time.Second) {
		t.Fatal("the newest points were dropped")
	}
	// Oldest first across aliases: the two keep about as many points each.
	if d := len(a) - len(b); d < -1 || d > 1 {
		t.Fatalf("unfair eviction: a %d points, b %d", len(a), len(b))
	}
	want := 2*(128+1) + (len(a)+len(b))*82
	if h.Bytes() != want {
		t.Fatalf("Bytes %d, want %d", h.Bytes(), want)
	}
}

func TestClockSteppingBack(t *testing.T) {
	h := New(Options{})
	h.Record(at(10), "www", []string{"a"})
	h.Record(at(5), "www", []string{"b"})
	if got := h.Changes("www"); len(got) != 2 || got[1].At != at(10) {
		t.Fatalf("changes %v: a point earlier than the last", got)
	}
}

func TestObserveCycle(t *testing.T) {
	h := New(Options{})
	cfg := &config.Compiled{Params: []config.Params{{Name: "www"}, {Name: "api"}}}
	h.ObserveCycle(at(0), cfg, lbd.CycleReport{Aliases: []lbd.AliasResult{
		{Alias: "www", Decided: true, Decision: choice.Decision{Hosts: []string{"a", "b"}}},
		{Alias: "api", Decided: false},
		{Alias: "old", Decided: true, Decision: choice.Decision{Hosts: []string{"z"}}},
	}})
	h.ObserveCycle(at(10), cfg, lbd.CycleReport{Aliases: []lbd.AliasResult{
		{Alias: "www", Decided: true, Decision: choice.Decision{Keep: true}},
		{Alias: "api", Decided: true, Decision: choice.Decision{Hosts: []string{"c"}}},
	}})
	if got := h.Spans("www", at(0), at(20)); len(got) != 2 || got[0].To != at(20) {
		t.Fatalf("www spans %v: keep must not end them", got)
	}
	if got := h.Spans("api", at(0), at(20)); !reflect.DeepEqual(got, []Span{{"c", at(10), at(20)}}) {
		t.Fatalf("api spans %v: an undecided cycle must record nothing", got)
	}
	// "old" is not in the configuration: forgotten.
	h.ObserveCycle(at(20), &config.Compiled{Params: cfg.Params}, lbd.CycleReport{})
	if h.Changes("old") != nil {
		t.Fatal("an alias the configuration no longer has is kept")
	}
	if h.Changes("www") == nil {
		t.Fatal("a configured alias was forgotten")
	}
}
