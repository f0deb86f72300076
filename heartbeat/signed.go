package heartbeat

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// PathV2 is where the master serves the authenticated beat
// (docs/protocol.md §9.1); the legacy line stays at Path.
const PathV2 = "/load-balancing/heartbeat.v2"

// tagV2 opens every authenticated beat. It is covered by the HMAC, so a
// signature can never be taken for one of another message format.
const tagV2 = "lbd-heartbeat-v2"

// MinKeyLen is the shortest secret accepted. RFC 2104 §3 discourages keys
// shorter than the hash output (32 bytes for SHA-256); 16 bytes is the
// floor below which a key is refused outright.
const MinKeyLen = 16

// ErrRejected wraps every reason an authenticated beat is not believed:
// bad form, wrong HMAC, foreign instance, time out of the window, replay.
// Such a beat is no beat for the Follower.
var ErrRejected = errors.New("heartbeat rejected")

// Beat is one authenticated heartbeat (docs/protocol.md §9.1).
type Beat struct {
	// Instance names the master: its [lbd] master setting, or its host
	// name when that is unset.
	Instance string
	// Time is when the master beat; whole milliseconds on the wire.
	Time time.Time
	// Counter increases strictly from one beat to the next, across
	// restarts of the master too (see Counter).
	Counter uint64
}

// message is the signed part of the line: every field but the MAC, as
// sent.
func (b Beat) message() string {
	return fmt.Sprintf("%s %s %d %d", tagV2, b.Instance, b.Time.UnixMilli(), b.Counter)
}

// Sign returns b's wire line, newline included:
//
//	lbd-heartbeat-v2 <instance> <unix milliseconds> <counter> <hex HMAC-SHA256>
//
// The HMAC (RFC 2104, with SHA-256) is computed with key over the line's
// bytes before its last space.
func (b Beat) Sign(key []byte) string {
	msg := b.message()
	return msg + " " + hex.EncodeToString(mac(key, msg)) + "\n"
}

func mac(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

// Verify checks body, which must hold exactly one authenticated beat line
// (surrounding white space aside), and its HMAC under key. It does not
// judge freshness or order: that is Verifier's job. Errors wrap
// ErrRejected.
func Verify(body string, key []byte) (Beat, error) {
	if len(key) == 0 {
		return Beat{}, fmt.Errorf("%w: no key to verify with", ErrRejected)
	}
	line := strings.TrimSpace(body)
	f := strings.Split(line, " ")
	if len(f) != 5 || f[0] != tagV2 {
		return Beat{}, fmt.Errorf("%w: not an authenticated beat: %q", ErrRejected, truncate(line, 80))
	}
	got, err := hex.DecodeString(f[4])
	if err != nil || len(got) != sha256.Size {
		return Beat{}, fmt.Errorf("%w: malformed HMAC %q", ErrRejected, truncate(f[4], 80))
	}
	// The MAC is checked before any field is interpreted: nothing of an
	// unauthenticated line is believed.
	if !hmac.Equal(got, mac(key, line[:strings.LastIndexByte(line, ' ')])) {
		return Beat{}, fmt.Errorf("%w: HMAC does not verify (wrong secret or altered beat)", ErrRejected)
	}
	ms, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil || ms < 0 {
		return Beat{}, fmt.Errorf("%w: bad time %q", ErrRejected, f[2])
	}
	n, err := strconv.ParseUint(f[3], 10, 64)
	if err != nil {
		return Beat{}, fmt.Errorf("%w: bad counter %q", ErrRejected, f[3])
	}
	if f[1] == "" {
		return Beat{}, fmt.Errorf("%w: empty instance", ErrRejected)
	}
	return Beat{Instance: f[1], Time: time.UnixMilli(ms), Counter: n}, nil
}

// Counter numbers a master's beats without persisting anything: the
// counter is the wall-clock time of its first use in nanoseconds plus the
// number of beats since. A restarted master starts above every counter of
// its previous run as long as its clock at restart is later than the
// previous run's start plus one nanosecond per beat sent — that is, unless
// the clock was set back by about as long as the previous run lasted
// (docs/protocol.md §9.1 says what a slave then does).
type Counter struct {
	mu   sync.Mutex
	base uint64
	n    uint64
}

// Next returns the next counter; the first call fixes the base at now.
func (c *Counter) Next(now time.Time) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.base == 0 {
		if ns := now.UnixNano(); ns > 0 {
			c.base = uint64(ns)
		}
	}
	c.n++
	return c.base + c.n
}

// Verifier is the slave's judge of authenticated beats: a pure state
// machine (now is a value) remembering the newest beat it accepted.
type Verifier struct {
	// Key is the shared secret.
	Key []byte
	// Instance, when set, is the only master whose beats are accepted.
	Instance string
	// MaxSkew bounds how far a beat's time may be from now, either way.
	// It must be positive.
	MaxSkew time.Duration

	last Beat // newest accepted (highest counter)
	seen bool
}

// Accept verifies body at now and returns its beat, or an error wrapping
// ErrRejected: a wrong HMAC, another instance, a time more than MaxSkew
// away from now, or a counter below the highest seen (a replay). The beat
// with the highest counter seen so far is accepted again as itself: a
// slave may fetch it twice, and it brings no fresher time.
func (v *Verifier) Accept(body string, now time.Time) (Beat, error) {
	if v.MaxSkew <= 0 {
		return Beat{}, fmt.Errorf("%w: no time window (MaxSkew) set", ErrRejected)
	}
	b, err := Verify(body, v.Key)
	if err != nil {
		return Beat{}, err
	}
	if v.Instance != "" && b.Instance != v.Instance {
		return Beat{}, fmt.Errorf("%w: beat from %q, not from the master %q", ErrRejected, b.Instance, v.Instance)
	}
	if age := now.Sub(b.Time); age > v.MaxSkew {
		return Beat{}, fmt.Errorf("%w: beat %s old, more than %s", ErrRejected, age.Round(time.Millisecond), v.MaxSkew)
	}
	if ahead := b.Time.Sub(now); ahead > v.MaxSkew {
		return Beat{}, fmt.Errorf("%w: beat %s in the future, more than %s (clocks apart?)", ErrRejected, ahead.Round(time.Millisecond), v.MaxSkew)
	}
	if v.seen {
		switch {
		case b.Counter < v.last.Counter:
			return Beat{}, fmt.Errorf("%w: counter %d below the highest seen %d (replay)", ErrRejected, b.Counter, v.last.Counter)
		case b.Counter == v.last.Counter:
			if b.Instance != v.last.Instance || !b.Time.Equal(v.last.Time) {
				return Beat{}, fmt.Errorf("%w: counter %d reused by a different beat", ErrRejected, b.Counter)
			}
			return b, nil
		}
	}
	v.last, v.seen = b, true
	return b, nil
}

// Highest is the highest counter accepted so far (0 if none).
func (v *Verifier) Highest() uint64 { return v.last.Counter }
