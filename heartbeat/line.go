package heartbeat

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Path is where the legacy heartbeat line is served (docs/protocol.md §9).
const Path = "/load-balancing/heartbeat"

// Line returns the legacy heartbeat line for host at t, newline included.
func Line(host string, t time.Time) string {
	return fmt.Sprintf("%s : %d : I am alive\n", host, t.Unix())
}

// Parse finds "<master> : <digits> : I am alive" anywhere in body (as the
// legacy slave does, unanchored) and returns its time. The master name is
// matched literally.
func Parse(body, master string) (time.Time, error) {
	re, err := regexp.Compile(regexp.QuoteMeta(master) + ` : ([0-9]+) : I am alive`)
	if err != nil {
		return time.Time{}, fmt.Errorf("heartbeat pattern: %w", err)
	}
	m := re.FindStringSubmatch(strings.TrimSpace(body))
	if m == nil {
		return time.Time{}, fmt.Errorf("no heartbeat line for %q in %q", master, truncate(body, 80))
	}
	sec, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("heartbeat time %q: %w", m[1], err)
	}
	return time.Unix(sec, 0), nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
