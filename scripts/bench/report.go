package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// table is one result table: printed aligned on stdout, as markdown in the
// results file.
type table struct {
	title  string
	cols   []string
	rows   [][]string
	notes  []string
	failed bool
}

func (t *table) row(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) note(format string, args ...any) {
	t.notes = append(t.notes, fmt.Sprintf(format, args...))
}

// fail records a failed measurement as a note and marks the table.
func (t *table) fail(format string, args ...any) {
	t.failed = true
	t.notes = append(t.notes, "FAILED: "+fmt.Sprintf(format, args...))
	progress("%s: FAILED: %s", t.title, fmt.Sprintf(format, args...))
}

func (t *table) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n## %s\n", t.title)
	if len(t.cols) > 0 && len(t.rows) > 0 {
		w := make([]int, len(t.cols))
		for i, c := range t.cols {
			w[i] = utf8.RuneCountInString(c)
		}
		for _, r := range t.rows {
			for i, c := range r {
				if i < len(w) {
					w[i] = max(w[i], utf8.RuneCountInString(c))
				}
			}
		}
		line := func(cells []string) {
			for i := range w {
				c := ""
				if i < len(cells) {
					c = cells[i]
				}
				pad := w[i] - utf8.RuneCountInString(c)
				if i > 0 {
					b.WriteString("  ")
				}
				if i == 0 {
					b.WriteString(c + strings.Repeat(" ", pad))
				} else {
					b.WriteString(strings.Repeat(" ", pad) + c)
				}
			}
			b.WriteString("\n")
		}
		line(t.cols)
		seps := make([]string, len(w))
		for i := range w {
			seps[i] = strings.Repeat("-", w[i])
		}
		line(seps)
		for _, r := range t.rows {
			line(r)
		}
	}
	for _, n := range t.notes {
		fmt.Fprintf(&b, "  * %s\n", n)
	}
	return b.String()
}

func (t *table) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "## %s\n\n", t.title)
	if len(t.cols) > 0 && len(t.rows) > 0 {
		b.WriteString("| " + strings.Join(t.cols, " | ") + " |\n")
		b.WriteString("|" + strings.Repeat("---|", len(t.cols)) + "\n")
		for _, r := range t.rows {
			b.WriteString("| " + strings.Join(r, " | ") + " |\n")
		}
		b.WriteString("\n")
	}
	for _, n := range t.notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	b.WriteString("\n")
	return b.String()
}

type report struct {
	header string
	tables []*table
}

func (r *report) add(t *table) { r.tables = append(r.tables, t) }

func (r *report) markdown() string {
	var b strings.Builder
	b.WriteString(r.header)
	for _, t := range r.tables {
		b.WriteString(t.markdown())
	}
	return b.String()
}

// Formatting helpers.

func secs(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

func fsecs(s float64) string { return fmt.Sprintf("%.3f", s) }

func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	case v < 100:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

func rate(n float64) string {
	if math.IsInf(n, 0) || math.IsNaN(n) {
		return "-"
	}
	if n >= 100 {
		return fmt.Sprintf("%.0f", n)
	}
	return fmt.Sprintf("%.1f", n)
}

// percentile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	i = min(max(i, 0), len(sorted)-1)
	return sorted[i]
}

// stats returns median and max of ds (nil-safe).
func stats(ds []time.Duration) (median, maxd time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		median = s[n/2]
	} else {
		median = (s[n/2-1] + s[n/2]) / 2
	}
	return median, s[n-1]
}

func list(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = fmt.Sprintf("%.2f", d.Seconds())
	}
	return strings.Join(parts, " ")
}
