package admin

import (
	"sync"

	"github.com/lbd-project/lbd/lbd/override"
)

// Queue holds the operators' edits waiting for their alias's next cycle.
// The zero value is ready; it is safe for concurrent use.
type Queue struct {
	mu      sync.Mutex
	pending map[string][]pending
}

// pending is one queued edit and whom to tell.
type pending struct {
	edit override.Edit
	done chan error // told the outcome of the cycle that wrote it
}

// Taken is what Take removed from the queue, to settle after the cycle.
type Taken map[string][]pending

// Add queues e for alias. The channel is told the outcome of the cycle that
// writes it (nil: written).
func (q *Queue) Add(alias string, e override.Edit) <-chan error {
	done := make(chan error, 1)
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.pending == nil {
		q.pending = map[string][]pending{}
	}
	q.pending[alias] = append(q.pending[alias], pending{edit: e, done: done})
	return done
}

// Take removes the edits queued for the named aliases and returns them by
// alias (the Edits input of cycle.Decide), with what to Settle.
func (q *Queue) Take(aliases []string) (map[string][]override.Edit, Taken) {
	q.mu.Lock()
	defer q.mu.Unlock()
	edits, taken := map[string][]override.Edit{}, Taken{}
	for _, name := range aliases {
		pes := q.pending[name]
		if len(pes) == 0 {
			continue
		}
		for _, pe := range pes {
			edits[name] = append(edits[name], pe.edit)
		}
		taken[name] = pes
		delete(q.pending, name)
	}
	return edits, taken
}

// Settle tells each taken edit's requester the outcome of its alias's
// cycle (errOf(alias)); the edits of a failed alias are queued again, so
// the next cycle retries them (their requesters were already answered).
func (q *Queue) Settle(taken Taken, errOf func(alias string) error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for alias, pes := range taken {
		err := errOf(alias)
		for _, pe := range pes {
			select {
			case pe.done <- err:
			default:
			}
			if err != nil {
				if q.pending == nil {
					q.pending = map[string][]pending{}
				}
				q.pending[alias] = append(q.pending[alias], pending{edit: pe.edit, done: make(chan error, 1)})
			}
		}
	}
}
