package statuspage

import (
	"math"
	"slices"
	"time"

	"github.com/lbd-project/lbd/lbd/history"
	"github.com/lbd-project/lbd/lbd/status"
)

// The timeline's geometry, in SVG user units (pixels at 1:1): it fits a
// 1280 px wide window with the page's margins.
const (
	svgWidth   = 1180
	labelWidth = 260
	rightPad   = 24
	rowHeight  = 22
	barHeight  = 14
	axisHeight = 26
	maxLabel   = 36 // runes of a host name shown before it is cut
)

type timeline struct {
	Width, Height int
	PlotX, PlotW  float64
	PlotEnd       float64
	AxisY         int
	Rows          []timelineRow
	Ticks         []tick
	// NoData is the part of the window before the first change point
	// (lbd was not running, or had not evaluated the alias yet).
	NoData      *bar
	Zone        string
	From, To    string
	HasHistory  bool
	SpanCount   int
	WindowLabel string
}

type timelineRow struct {
	Host, Label string
	Note        string
	Y, TextY    int
	BarY        int
	Published   bool
	Bars        []bar
}

type bar struct {
	X, W  float64
	Title string
}

type tick struct {
	X     float64
	Label string
}

// tickSteps are the candidate distances between labelled ticks.
var tickSteps = []time.Duration{10 * time.Second, 15 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute,
	30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour}

func round1(x float64) float64 { return math.Round(x*10) / 10 }

func buildTimeline(a status.Alias, hist *history.History, now time.Time, window time.Duration) timeline {
	from := now.Add(-window)
	tl := timeline{Width: svgWidth, PlotX: labelWidth, PlotW: svgWidth - labelWidth - rightPad,
		PlotEnd: svgWidth - rightPad, Zone: now.Format("MST"), From: from.Format("2006-01-02 15:04"),
		To: now.Format("2006-01-02 15:04"), WindowLabel: short(window)}
	x := func(t time.Time) float64 {
		return round1(tl.PlotX + tl.PlotW*float64(t.Sub(from))/float64(window))
	}
	var spans []history.Span
	if hist != nil {
		spans = hist.Spans(a.Name, from, now)
		if first, ok := hist.First(a.Name); ok {
			tl.HasHistory = true
			if first.After(from) {
				tl.NoData = &bar{X: tl.PlotX, W: round1(x(first) - tl.PlotX),
					Title: "no history before " + first.Format("15:04:05") + " (lbd not running or the alias not yet evaluated)"}
			}
		} else {
			tl.NoData = &bar{X: tl.PlotX, W: tl.PlotW, Title: "no history yet"}
		}
	}
	tl.SpanCount = len(spans)

	// One row per member, then the hosts published in the window that are
	// no longer members.
	hosts := make([]string, 0, len(a.Members))
	published := map[string]bool{}
	for _, m := range a.Members {
		hosts = append(hosts, m.Host)
		published[m.Host] = m.Published
	}
	members := len(hosts)
	for _, s := range spans {
		if !slices.Contains(hosts, s.Host) {
			hosts = append(hosts, s.Host)
		}
	}
	byHost := map[string][]history.Span{}
	for _, s := range spans {
		byHost[s.Host] = append(byHost[s.Host], s)
	}
	for i, h := range hosts {
		y := 4 + i*rowHeight
		r := timelineRow{Host: h, Label: cut(h), Y: y, TextY: y + rowHeight/2 + 4, BarY: y + (rowHeight-barHeight)/2,
			Published: published[h]}
		if i >= members {
			r.Note = " (no longer a member)"
		}
		for _, s := range byHost[h] {
			b := bar{X: x(s.From), W: round1(x(s.To) - x(s.From)), Title: spanTitle(s, now)}
			if b.W < 1 {
				b.W = 1 // a short span stays visible
			}
			r.Bars = append(r.Bars, b)
		}
		tl.Rows = append(tl.Rows, r)
	}
	tl.AxisY = 4 + len(hosts)*rowHeight + 2
	tl.Height = tl.AxisY + axisHeight

	step := tickSteps[len(tickSteps)-1]
	for _, s := range tickSteps {
		if window/s <= 12 {
			step = s
			break
		}
	}
	_, offset := now.Zone()
	off := time.Duration(offset) * time.Second
	for t := from.Add(off).Truncate(step).Add(-off); !t.After(now); t = t.Add(step) {
		if t.Before(from) {
			continue
		}
		label := t.Format("15:04")
		if step < time.Minute {
			label = t.Format("15:04:05")
		}
		tl.Ticks = append(tl.Ticks, tick{X: x(t), Label: label})
	}
	return tl
}

func spanTitle(s history.Span, now time.Time) string {
	d := s.To.Sub(s.From).Round(time.Second)
	if !s.To.Before(now) {
		return s.Host + ": published since " + s.From.Format("15:04:05") + " (" + d.String() + ")"
	}
	return s.Host + ": published " + s.From.Format("15:04:05") + " – " + s.To.Format("15:04:05") + " (" + d.String() + ")"
}

// cut shortens a long host name for the label column (the full name is in
// the row's title).
func cut(s string) string {
	r := []rune(s)
	if len(r) <= maxLabel {
		return s
	}
	return string(r[:maxLabel-1]) + "…"
}
