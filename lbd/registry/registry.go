package registry

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lbd-project/lbd/internal/atomicfile"
	"github.com/lbd-project/lbd/internal/register"
	"github.com/lbd-project/lbd/lbd/config"
	"github.com/lbd-project/lbd/lbd/status"
)

// Limits of a registration.
const (
	MaxSkew     = 5 * time.Minute
	MinTTL      = time.Second
	MaxTTL      = 24 * time.Hour
	MaxPerAlias = 10000
	// MaxPerRequest bounds the registrations of one request (a member
	// sends one per alias it serves): each costs an HMAC to check.
	MaxPerRequest = 256
	maxAddrs      = 16
)

// File is the registrations' file name in [lbd] state_dir.
const File = "registrations.json"

// Refusal reasons (the metrics' result label).
const (
	ReasonAlias     = "alias_not_registering" // not configured, or not members_from = "register"
	ReasonNoSecret  = "no_secret"
	ReasonSignature = "bad_signature"
	ReasonClock     = "clock_skew"
	ReasonReplay    = "replay"
	ReasonInvalid   = "invalid"
	ReasonAddress   = "source_address"
	ReasonFull      = "too_many"
)

// Refused is why a registration was not accepted.
type Refused struct {
	Reason string
	Detail string
}

func (e *Refused) Error() string { return e.Reason + ": " + e.Detail }

// Entry is one accepted registration.
type Entry struct {
	Alias   string       `json:"alias"`
	Host    string       `json:"host"`
	Addrs   []netip.Addr `json:"addrs"`
	Since   time.Time    `json:"since"`   // first accepted
	Expires time.Time    `json:"expires"` // without renewal
	Signed  int64        `json:"signed"`  // Time of the last accepted registration
}

// Event is a change of the registered members, for the log and the audit
// log: "added", "changed" (new addresses) or "expired".
type Event struct {
	Kind  string
	Entry Entry
}

// Policy is what the configuration says about registrations.
type Policy struct {
	// Accepts reports whether alias (normalised) takes registrations.
	Accepts func(alias string) bool
	// Secrets maps aliases to their secrets.
	Secrets map[string][]byte
}

type key struct{ alias, host string }

// Registry holds the registrations. Its methods are safe for concurrent
// use.
type Registry struct {
	mu      sync.Mutex
	entries map[key]*Entry
	// gone keeps, after a registration expired, the time of its last
	// accepted renewal for MaxSkew: a captured registration replayed
	// after the expiry is still a replay (anything older than MaxSkew is
	// refused by the clock check).
	gone   map[key]int64
	events []Event
	stats  status.RegisterStats
	dirty  bool // added, changed or expired since the last save
	// renewed: renewals since the last save (saved at most every
	// saveEvery, so that a restart keeps their expiry times).
	renewed  bool
	lastSave time.Time
}

// New is an empty registry.
func New() *Registry { return &Registry{entries: map[key]*Entry{}, gone: map[key]int64{}} }

// Offer checks reg, received at now from source, against pol and
// records it. err is nil when it was accepted, else a *Refused; changed
// says that the alias's registered members changed (a new member, or new
// addresses), not a mere renewal.
func (r *Registry) Offer(now time.Time, source netip.Addr, reg register.Registration, pol Policy) (changed bool, err error) {
	e, err := check(now, source, reg, pol)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		changed, err = r.recordLocked(now, e)
	}
	var ref *Refused
	if errors.As(err, &ref) {
		if r.stats.Refused == nil {
			r.stats.Refused = map[string]uint64{}
		}
		r.stats.Refused[ref.Reason]++
		return false, err
	}
	r.stats.Accepted++
	return changed, nil
}

// check validates reg alone (pure).
func check(now time.Time, source netip.Addr, reg register.Registration, pol Policy) (Entry, error) {
	alias := config.NormName(reg.Alias)
	if pol.Accepts == nil || !pol.Accepts(alias) {
		return Entry{}, &Refused{ReasonAlias, fmt.Sprintf("alias %q does not take registrations (members_from = \"register\")", reg.Alias)}
	}
	secret, ok := pol.Secrets[alias]
	if !ok {
		return Entry{}, &Refused{ReasonNoSecret, fmt.Sprintf("alias %s has no registration secret", alias)}
	}
	if !register.Verify(reg, secret) {
		return Entry{}, &Refused{ReasonSignature, "the MAC does not verify with the alias's secret"}
	}
	signed := time.Unix(reg.Time, 0)
	if d := now.Sub(signed); d > MaxSkew || d < -MaxSkew {
		return Entry{}, &Refused{ReasonClock, fmt.Sprintf("time %s is more than %s from lbd's clock", signed.UTC().Format(time.RFC3339), MaxSkew)}
	}
	ttl := time.Duration(reg.TTLSeconds) * time.Second
	if ttl < MinTTL || ttl > MaxTTL {
		return Entry{}, &Refused{ReasonInvalid, fmt.Sprintf("ttl_seconds %d: want %d to %d", reg.TTLSeconds, int64(MinTTL/time.Second), int64(MaxTTL/time.Second))}
	}
	host := config.NormName(reg.Host)
	if !validHost(host) {
		return Entry{}, &Refused{ReasonInvalid, fmt.Sprintf("host %q is not a valid name", reg.Host)}
	}
	if len(reg.Addrs) > maxAddrs {
		return Entry{}, &Refused{ReasonInvalid, fmt.Sprintf("%d addresses: at most %d", len(reg.Addrs), maxAddrs)}
	}
	source = source.Unmap()
	e := Entry{Alias: alias, Host: host, Expires: now.Add(ttl), Signed: reg.Time}
	fromSource := false
	for _, s := range reg.Addrs {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" || a.IsUnspecified() || a.IsMulticast() {
			return Entry{}, &Refused{ReasonInvalid, fmt.Sprintf("address %q", s)}
		}
		a = a.Unmap()
		fromSource = fromSource || a == source
		if !slices.Contains(e.Addrs, a) {
			e.Addrs = append(e.Addrs, a)
		}
	}
	if len(e.Addrs) == 0 {
		e.Addrs, fromSource = []netip.Addr{source}, true
	}
	if !fromSource {
		return Entry{}, &Refused{ReasonAddress, fmt.Sprintf("sent from %s, which is not one of the addresses it registers", source)}
	}
	slices.SortFunc(e.Addrs, netip.Addr.Compare)
	return e, nil
}

func (r *Registry) recordLocked(now time.Time, e Entry) (changed bool, err error) {
	k := key{e.Alias, e.Host}
	old, ok := r.entries[k]
	if ok && e.Signed <= old.Signed {
		return false, &Refused{ReasonReplay, fmt.Sprintf("time %d is not after the last accepted (%d)", e.Signed, old.Signed)}
	}
	if last, was := r.gone[k]; !ok && was && e.Signed <= last {
		return false, &Refused{ReasonReplay, fmt.Sprintf("time %d is not after the last accepted (%d) before it expired", e.Signed, last)}
	}
	delete(r.gone, k)
	if !ok {
		n := 0
		for k2 := range r.entries {
			if k2.alias == e.Alias {
				n++
			}
		}
		if n >= MaxPerAlias {
			return false, &Refused{ReasonFull, fmt.Sprintf("alias %s has %d registered members already", e.Alias, n)}
		}
		e.Since = now
		r.entries[k] = &e
		r.events = append(r.events, Event{Kind: "added", Entry: e})
		r.dirty = true
		return true, nil
	}
	e.Since = old.Since
	changed = !slices.Equal(e.Addrs, old.Addrs)
	if changed {
		r.events = append(r.events, Event{Kind: "changed", Entry: e})
		r.dirty = true
	}
	r.renewed = true
	*old = e
	return changed, nil
}

// Expire forgets the registrations whose TTL passed at now, and those of
// aliases that no longer take registrations (pol), recording an
// "expired" event for each.
func (r *Registry) Expire(now time.Time, pol Policy) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, e := range r.entries {
		if !now.Before(e.Expires) || pol.Accepts == nil || !pol.Accepts(k.alias) {
			delete(r.entries, k)
			r.gone[k] = e.Signed
			r.events = append(r.events, Event{Kind: "expired", Entry: *e})
			r.dirty = true
		}
	}
	for k, signed := range r.gone {
		if now.Sub(time.Unix(signed, 0)) > MaxSkew {
			delete(r.gone, k)
		}
	}
}

// refuseBody counts a request whose body could not be read.
func (r *Registry) refuseBody() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stats.Refused == nil {
		r.stats.Refused = map[string]uint64{}
	}
	r.stats.Refused[ReasonInvalid]++
}

// Events returns and forgets the events since the last call, in order.
func (r *Registry) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev := r.events
	r.events = nil
	return ev
}

// Members lists alias's registrations, by host.
func (r *Registry) Members(alias string) []Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Entry
	for k, e := range r.entries {
		if k.alias == alias {
			out = append(out, *e)
		}
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Host, b.Host) })
	return out
}

// All lists every registration, by alias then host.
func (r *Registry) All() []Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Entry, 0, len(r.entries))
	for _, e := range r.entries {
		out = append(out, *e)
	}
	slices.SortFunc(out, func(a, b Entry) int {
		return cmp.Or(strings.Compare(a.Alias, b.Alias), strings.Compare(a.Host, b.Host))
	})
	return out
}

// ByAlias is All grouped by alias (each group sorted by host).
func (r *Registry) ByAlias() map[string][]Entry {
	out := map[string][]Entry{}
	for _, e := range r.All() {
		out[e.Alias] = append(out[e.Alias], e)
	}
	return out
}

// Stats returns the counters.
func (r *Registry) Stats() status.RegisterStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.Refused = make(map[string]uint64, len(r.stats.Refused))
	for k, v := range r.stats.Refused {
		s.Refused[k] = v
	}
	s.Registered = len(r.entries)
	return s
}

// Load reads the registrations kept in dir ("" or no file: none).
func Load(dir string) (*Registry, error) {
	r := New()
	if dir == "" {
		return r, nil
	}
	path := filepath.Join(dir, File)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("registrations: %w", err)
	}
	var list []Entry
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("registrations %s: %w", path, err)
	}
	for _, e := range list {
		e := e
		r.entries[key{e.Alias, e.Host}] = &e
	}
	return r, nil
}

// saveEvery bounds how often renewals alone are written.
const saveEvery = 10 * time.Second

// SaveIfChanged writes the registrations to dir atomically at now when
// one was added, changed or expired since the last save, or, at most every
// saveEvery, when some were renewed (so that after a restart each expires
// when it would have, give or take saveEvery).
func (r *Registry) SaveIfChanged(dir string, now time.Time) error {
	r.mu.Lock()
	if dir == "" || !r.dirty && !(r.renewed && now.Sub(r.lastSave) >= saveEvery) {
		r.mu.Unlock()
		return nil
	}
	list := make([]Entry, 0, len(r.entries))
	for _, e := range r.entries {
		list = append(list, *e)
	}
	r.dirty, r.renewed, r.lastSave = false, false, now
	r.mu.Unlock()
	slices.SortFunc(list, func(a, b Entry) int {
		return cmp.Or(strings.Compare(a.Alias, b.Alias), strings.Compare(a.Host, b.Host))
	})
	b, err := json.MarshalIndent(list, "", "  ")
	if err == nil {
		err = atomicfile.WriteState(dir, File, append(b, '\n'))
	}
	if err != nil {
		r.mu.Lock()
		r.dirty = true
		r.mu.Unlock()
		return fmt.Errorf("registrations: %w", err)
	}
	return nil
}

// validHost: an address literal or a host name (config.ValidHostName).
func validHost(h string) bool {
	_, err := netip.ParseAddr(h)
	return err == nil || config.ValidHostName(h)
}
