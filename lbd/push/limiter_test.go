package push

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/lbd-project/lbd/lbd/status"
)

func TestAdmit(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	lim := Limits{MinInterval: 500 * time.Millisecond, MaxRate: 2}
	type push struct {
		at      time.Duration // after t0
		allowed bool
		aliases []string
		want    Verdict
	}
	for _, tc := range []struct {
		name   string
		pushes []push
		stats  status.PushStats
	}{
		{"not allowed: counted, nothing due", []push{{0, false, []string{"a"}, Verdict{}}}, status.PushStats{Rejected: 1}},
		{"first push of an alias: due now", []push{{0, true, []string{"a"}, Verdict{Due: []string{"a"}}}}, status.PushStats{Accepted: 1}},
		{"again within min interval: due at its end", []push{
			{0, true, []string{"a"}, Verdict{Due: []string{"a"}}},
			{100 * time.Millisecond, true, []string{"a"}, Verdict{Later: map[string]time.Time{"a": t0.Add(500 * time.Millisecond)}}},
		}, status.PushStats{Accepted: 1, Coalesced: 1}},
		{"after min interval: due now again", []push{
			{0, true, []string{"a"}, Verdict{Due: []string{"a"}}},
			{600 * time.Millisecond, true, []string{"a"}, Verdict{Due: []string{"a"}}},
		}, status.PushStats{Accepted: 2}},
		{"rate: the third alias in one second is dropped", []push{
			{0, true, []string{"a", "b", "c"}, Verdict{Due: []string{"a", "b"}}},
		}, status.PushStats{Accepted: 2, RateLimited: 1}},
		{"rate: a new second admits again", []push{
			{0, true, []string{"a", "b", "c"}, Verdict{Due: []string{"a", "b"}}},
			{time.Second, true, []string{"c"}, Verdict{Due: []string{"c"}}},
		}, status.PushStats{Accepted: 3, RateLimited: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l Limiter
			for i, p := range tc.pushes {
				assert.Equal(t, p.want, l.Admit(t0.Add(p.at), p.allowed, p.aliases, lim), "push %d", i)
			}
			assert.Equal(t, tc.stats, l.Stats())
		})
	}
}
