package push

import (
	"time"

	"github.com/lbd-project/lbd/lbd/status"
)

// Limiter is the push rate limiter's state. The zero value is ready; it
// is not safe for concurrent use (the daemon holds its lock).
type Limiter struct {
	last   map[string]time.Time // alias → last push-triggered evaluation
	window time.Time            // start of the current one-second window
	inWin  int                  // evaluations in it
	stats  status.PushStats
}

// Limits are the [lbd] push settings the limiter applies.
type Limits struct {
	MinInterval time.Duration // push_min_interval
	MaxRate     int           // push_max_rate, evaluations per second
}

// Verdict is what to do with one push.
type Verdict struct {
	// Due are the aliases to evaluate now.
	Due []string
	// Later are coalesced aliases: due no later than the time given.
	Later map[string]time.Time
}

// Admit decides, at now, what a push naming aliases (normalised, known to
// the configuration) does; allowed is whether its source may push. It
// updates the limiter's state and counters.
func (l *Limiter) Admit(now time.Time, allowed bool, aliases []string, lim Limits) Verdict {
	var v Verdict
	if !allowed {
		l.stats.Rejected++
		return v
	}
	if l.last == nil {
		l.last = map[string]time.Time{}
	}
	if now.Sub(l.window) >= time.Second {
		l.window, l.inWin = now, 0
	}
	for _, name := range aliases {
		switch last, seen := l.last[name]; {
		case seen && now.Sub(last) < lim.MinInterval:
			l.stats.Coalesced++
			if v.Later == nil {
				v.Later = map[string]time.Time{}
			}
			v.Later[name] = last.Add(lim.MinInterval)
		case l.inWin >= lim.MaxRate:
			l.stats.RateLimited++
		default:
			l.inWin++
			l.last[name] = now
			l.stats.Accepted++
			v.Due = append(v.Due, name)
		}
	}
	return v
}

// Stats returns the counters.
func (l *Limiter) Stats() status.PushStats { return l.stats }
