package cycle

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/lbd-project/lbd/dnsupdate"
	"github.com/lbd-project/lbd/lbd/config"
	"github.com/lbd-project/lbd/lbd/lease"
	"github.com/miekg/dns"
)

// ZoneCache keeps, per view and zone, what earlier reads found there, with
// the zone's SOA serial as read just before them (docs/design.md §9.8).
// A primary increments a zone's serial with every change (RFC 1035
// §3.3.13; RFC 2136 §3.6 for dynamic updates), so while the serial is
// the same the records are too: a cycle then reads the zone's SOA alone and
// takes each alias's addresses, its metadata records and the zone's lease
// from here. A record older than [dns] serial_cache is read again whatever
// the serial says, which bounds how long a change made without a new
// serial (a hand edit that forgot it) goes unseen.
//
// A view whose serial did not move when this instance wrote to one of its
// zones (PowerDNS without SOA-EDIT-DNSUPDATE) is never cached again: its
// serial says nothing about its content. The zero value is not usable; a
// nil *ZoneCache caches nothing.
type ZoneCache struct {
	mu     sync.Mutex
	zones  map[zoneKey]*zoneEntry
	frozen map[string]bool // by View.String(): the serial does not follow changes
}

// NewZoneCache returns an empty cache.
func NewZoneCache() *ZoneCache {
	return &ZoneCache{zones: map[zoneKey]*zoneEntry{}, frozen: map[string]bool{}}
}

type zoneKey struct{ view, zone string }

// zoneEntry is what is known of one zone in one view. With known unset
// the serial was not read before the records (the zone's first read, or
// after a write of ours): nothing is taken from it, but its next read
// starts with the serial.
type zoneEntry struct {
	serial uint32
	known  bool
	names  map[string]cachedName // by canonical alias name
	lease  *cachedLease
}

type cachedName struct {
	state dnsupdate.State
	meta  []string
	at    time.Time
}

type cachedLease struct {
	records []string
	at      time.Time
}

// serialCheck is a batch's reading of one zone's serial.
type serialCheck struct {
	serial uint32
	// same: the entry's records may be used (serial unchanged).
	same bool
}

// Reads are the DNS reads of one batch of a cycle, through Cache: Served,
// then Leases. Their zero value reads everything and caches nothing.
type Reads struct {
	Cache *ZoneCache
	Now   time.Time
	// MaxAge is [dns] serial_cache: records read longer ago are read
	// again; 0 disables the cache.
	MaxAge time.Duration
	// Fresh[view][zone] (zone as configured) are the zones this batch
	// writes without reading them (FreshZones): their aliases are Served
	// with Fresh set, their lease as absent.
	Fresh map[int]map[string]bool

	mu      sync.Mutex
	checked map[zoneKey]serialCheck
	hits    atomic.Int64
}

// Hits is how many reads (an alias's records in a view, a zone's lease)
// the cache answered.
func (r *Reads) Hits() int {
	if r == nil {
		return 0
	}
	return int(r.hits.Load())
}

func (r *Reads) on() bool { return r != nil && r.Cache != nil && r.MaxAge > 0 }

// fresh says whether zone is presumed empty in view v this batch.
func (r *Reads) fresh(v int, zone string) bool { return r != nil && r.Fresh[v][zone] }

func keyOf(v *config.View, zone string) zoneKey {
	return zoneKey{v.String(), dns.CanonicalName(zone)}
}

// needsSerial says whether the zone's serial must be read before its
// records this batch: the cache knows the zone, and its view's serial
// follows changes.
func (r *Reads) needsSerial(k zoneKey) bool {
	if !r.on() {
		return false
	}
	c := r.Cache
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.zones[k]
	return ok && !c.frozen[k.view]
}

// noteSerial records the serial read for k before its records and whether
// the entry still holds.
func (r *Reads) noteSerial(k zoneKey, serial uint32) {
	c := r.Cache
	c.mu.Lock()
	e := c.zones[k]
	same := e != nil && e.known && e.serial == serial
	c.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.checked == nil {
		r.checked = map[zoneKey]serialCheck{}
	}
	r.checked[k] = serialCheck{serial: serial, same: same}
}

func (r *Reads) check(k zoneKey) (serialCheck, bool) {
	if !r.on() {
		return serialCheck{}, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	sc, ok := r.checked[k]
	return sc, ok
}

// name returns the cached read of name in zone k, if the zone's serial
// was found unchanged this batch and the read is recent enough.
func (r *Reads) name(k zoneKey, name string) (Served, bool) {
	if sc, ok := r.check(k); !ok || !sc.same {
		return Served{}, false
	}
	c := r.Cache
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.zones[k]
	if e == nil {
		return Served{}, false
	}
	n, ok := e.names[dns.CanonicalName(name)]
	if !ok || r.Now.Sub(n.at) >= r.MaxAge {
		return Served{}, false
	}
	r.hits.Add(1)
	return Served{State: n.state, Meta: n.meta}, true
}

// storeNames keeps the reads of one batch for the zones of one view:
// reads[k] are the names read (successfully) in zone k after its serial.
func (r *Reads) storeNames(reads map[zoneKey]map[string]Served) {
	if !r.on() {
		return
	}
	c := r.Cache
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, names := range reads {
		sc, checked := r.check(k)
		e := c.zones[k]
		switch {
		case !checked && e == nil:
			// First read: the serial was not read before these records,
			// so they are not kept; the next read starts with it.
			c.zones[k] = &zoneEntry{}
			continue
		case !checked:
			continue // an entry of another batch's making: leave it
		case !sc.same:
			e = &zoneEntry{serial: sc.serial, known: true}
			c.zones[k] = e
		}
		if e.names == nil {
			e.names = map[string]cachedName{}
		}
		for name, s := range names {
			e.names[dns.CanonicalName(name)] = cachedName{state: s.State, meta: s.Meta, at: r.Now}
		}
	}
}

// lease returns the cached lease of zone k, under the same conditions as
// name.
func (r *Reads) lease(k zoneKey) (lease.State, bool) {
	if sc, ok := r.check(k); !ok || !sc.same {
		return lease.State{}, false
	}
	c := r.Cache
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.zones[k]
	if e == nil || e.lease == nil || r.Now.Sub(e.lease.at) >= r.MaxAge {
		return lease.State{}, false
	}
	r.hits.Add(1)
	return lease.State{Records: e.lease.records}, true
}

// storeLease keeps a lease read after the zone's serial this batch.
func (r *Reads) storeLease(k zoneKey, records []string) {
	sc, ok := r.check(k)
	if !ok {
		return
	}
	c := r.Cache
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.zones[k]
	if e == nil || !e.known || e.serial != sc.serial {
		return
	}
	e.lease = &cachedLease{records: records, at: r.Now}
}

// SerialWanted says whether a write's read-back should read the zone's
// serial: always for the audit log (audit), else when the cache holds
// records of the zone read under a serial, to see whether the write moved
// it (Forget).
func (r *Reads) SerialWanted(cfg *config.Compiled, audit bool) func(view int, zone string) bool {
	return func(view int, zone string) bool {
		if audit {
			return true
		}
		if !r.on() {
			return false
		}
		c := r.Cache
		c.mu.Lock()
		defer c.mu.Unlock()
		e := c.zones[keyOf(cfg.Views[view], zone)]
		return e != nil && e.known
	}
}

// Forget drops what the cache holds of every zone the plan wrote or
// swapped a lease in: the next read of each starts with its serial and
// reads everything. When the report has a zone's serial after the write
// and it equals the one the entry was read under, the view's serial does
// not follow changes, and the view is no longer cached.
func (c *ZoneCache) Forget(cfg *config.Compiled, plan Plan, rep Report) (frozen []string) {
	if c == nil || plan.DryRun {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	drop := func(v int, zone string, after uint32, haveAfter bool) {
		view := cfg.Views[v]
		k := keyOf(view, zone)
		e := c.zones[k]
		if e == nil {
			return
		}
		if haveAfter && e.known && e.serial == after && !c.frozen[k.view] {
			c.frozen[k.view] = true
			frozen = append(frozen, k.view)
		}
		c.zones[k] = &zoneEntry{}
	}
	for i, ap := range plan.Aliases {
		for _, vp := range ap.Views {
			if vp.Action != Write {
				continue
			}
			var after uint32
			var ok bool
			if i < len(rep.Aliases) {
				after, ok = rep.Aliases[i].Serials[vp.View]
			}
			drop(vp.View, cfg.Params[ap.Alias].Zone, after, ok)
		}
	}
	for _, rp := range plan.Removals {
		for _, vp := range rp.Views {
			if vp.Action == Write {
				drop(vp.View, rp.Zone, 0, false)
			}
		}
	}
	for v, zones := range plan.Leases {
		for zone, lp := range zones {
			if lp.Lease.Swaps() {
				drop(v, zone, 0, false)
			}
		}
	}
	return frozen
}
