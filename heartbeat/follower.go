package heartbeat

import "time"

// Follower is the slave's view of the master: a pure state machine. Feed it
// the result of every heartbeat fetch with Observe; ask Active whether the
// slave must write DNS now.
//
// The heartbeat is stale when the newest beat seen is older than StaleAfter,
// or none was ever seen. A failed fetch (master unreachable) brings no news:
// the last good beat keeps ageing, so the slave takes over at most StaleAfter
// after the master's last beat, and one lost fetch does not make both write.
// Beats are compared with the local clock, as the legacy slave does, so
// clock skew between the two counts against StaleAfter.
type Follower struct {
	StaleAfter time.Duration

	last   time.Time // newest beat seen
	active bool
	seen   bool // Active was called at least once
}

// Grace treats now as a beat: a slave that just started gives the master
// StaleAfter to show up before it takes over, instead of writing at once
// because it has not fetched anything yet.
func (f *Follower) Grace(now time.Time) {
	if now.After(f.last) {
		f.last = now
	}
}

// Observe records one fetch made at now: the beat's time when it
// succeeded. A beat from the future (the master's clock is ahead) counts as
// a beat at now: it proves the master alive now, and must not keep the
// slave passive for the skew after the master stops.
func (f *Follower) Observe(now, beat time.Time, ok bool) {
	if beat.After(now) {
		beat = now
	}
	if ok && beat.After(f.last) {
		f.last = beat
	}
}

// LastBeat is the newest beat seen (zero if none).
func (f *Follower) LastBeat() time.Time { return f.last }

// Stale reports whether the heartbeat is stale at now (the slave should
// write), without recording anything.
func (f *Follower) Stale(now time.Time) bool {
	return f.last.IsZero() || now.Sub(f.last) > f.StaleAfter
}

// Active reports whether the slave should write DNS at now, and whether
// that changed since the previous call (for one log line per change).
func (f *Follower) Active(now time.Time) (active, changed bool) {
	a := f.Stale(now)
	changed = !f.seen || a != f.active
	f.active, f.seen = a, true
	return a, changed
}
