package dnsupdate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/lbd-project/lbd/internal/tsig"
)

const (
	// DefaultZonesInFlight bounds the zones ApplyFenced updates at once
	// when Client.InFlight is nil. It stays below BIND's update-quota
	// (100 UPDATEs queued, BIND 9.18 and later), past which BIND refuses
	// updates ("too many DNS UPDATEs queued (quota reached)" in its log).
	DefaultZonesInFlight = 64
	// maxUpdateSize is the largest unsigned UPDATE Apply builds: the TCP
	// limit of 64 KiB minus room for the TSIG record.
	maxUpdateSize = dns.MaxMsgSize - 1024
)

// Apply sends the non-empty changes as dynamic updates: one UPDATE per zone
// (split when it would exceed 64 KiB, keeping the records of one name in
// one message), TSIG-signed with Key, over UDP when the signed message fits
// in 512 bytes and over TCP otherwise or when the reply is truncated. Only
// NOERROR with a valid reply TSIG is success; other RCODEs are returned as
// *RcodeError. Transient failures are retried with backoff (Retries,
// Backoff), honouring ctx. Zones are updated concurrently (at most
// Client.InFlight at a time); the result joins the error of each failed zone.
func (c *Client) Apply(ctx context.Context, changes []Change) error {
	each := c.ApplyEach(ctx, changes)
	var errs []error
	for _, z := range zonesOf(changes) {
		errs = append(errs, each[z])
	}
	return errors.Join(errs...)
}

// ApplyEach is Apply reporting each zone's outcome: the map has one entry per
// zone with a non-empty change (canonical zone name, as in Change.Zone after
// canonicalisation), nil for success. Callers that batch the aliases of
// several zones use it to attribute failures.
func (c *Client) ApplyEach(ctx context.Context, changes []Change) map[string]error {
	return c.ApplyFenced(ctx, changes, nil).Zones
}

// Result is the outcome of ApplyFenced.
type Result struct {
	// Zones has one entry per zone with a change or a lease swap: nil when
	// every change of the zone was applied.
	Zones map[string]error
	// Names has one entry per changed name (canonical): nil when applied.
	Names map[string]error
}

// Zone is the outcome of zone (any spelling: compared as DNS names).
func (r Result) Zone(zone string) error { return r.Zones[canonical(zone)] }

// Name is the outcome of the change of name (any spelling).
func (r Result) Name(name string) error { return r.Names[canonical(name)] }

// ApplyFenced is Apply under per-zone leases (nil or a missing zone = no
// fencing): every message to a fenced zone carries its lease prerequisite,
// and the first one swaps the lease when Lease.Set differs from Expect (a
// zone with a swap and no change gets a message of its own). When a
// message with several names fails for a reason other than the lease, each
// name is retried in a message of its own, so that one bad name (a CNAME at
// an alias, a record-count limit) never blocks the others; a lost lease
// fails the whole zone with ErrLeaseLost.
func (c *Client) ApplyFenced(ctx context.Context, changes []Change, leases map[string]Lease) Result {
	zones := zonesOf(changes)
	for z, l := range leases {
		if z = canonical(z); l.Swaps() && !slices.Contains(zones, z) {
			zones = append(zones, z)
		}
	}
	res := Result{Zones: make(map[string]error, len(zones)), Names: map[string]error{}}
	if len(zones) == 0 {
		return res
	}
	byZone := map[string][]Change{}
	for _, ch := range changes {
		if !ch.Empty() {
			z := canonical(ch.Zone)
			byZone[z] = append(byZone[z], ch)
		}
	}
	fail := func(err error) Result {
		for _, z := range zones {
			res.Zones[z] = fmt.Errorf("dns update: %w", err)
		}
		for _, ch := range changes {
			if !ch.Empty() {
				res.Names[canonical(ch.Name)] = res.Zones[canonical(ch.Zone)]
			}
		}
		return res
	}
	key, err := c.key()
	if err != nil {
		return fail(err)
	}
	server, err := ServerAddr(c.Server)
	if err != nil {
		return fail(err)
	}
	byCanonical := make(map[string]Lease, len(leases))
	for lz, l := range leases {
		byCanonical[canonical(lz)] = l
	}
	outs := make([]zoneOutcome, len(zones))
	sem := c.InFlight
	if sem == nil {
		sem = NewInFlight(DefaultZonesInFlight)
	}
	var wg sync.WaitGroup
	for i, z := range zones {
		var lease *Lease
		if l, ok := byCanonical[z]; ok {
			lease = &l
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			outs[i] = c.applyZone(ctx, server, key, z, byZone[z], lease)
		}()
	}
	wg.Wait()
	for i, z := range zones {
		res.Zones[z] = outs[i].err
		for n, err := range outs[i].names {
			res.Names[n] = err
		}
	}
	return res
}

// zonesOf lists the canonical zones of the non-empty changes, in order.
func zonesOf(changes []Change) []string {
	var zones []string
	seen := map[string]bool{}
	for _, ch := range changes {
		if ch.Empty() {
			continue
		}
		z := canonical(ch.Zone)
		if !seen[z] {
			seen[z] = true
			zones = append(zones, z)
		}
	}
	return zones
}

// zoneOutcome is what applyZone did to one zone.
type zoneOutcome struct {
	err   error            // nil when every change was applied
	names map[string]error // per name
}

// applyZone sends the changes of one zone, message after message, under
// lease (nil = unfenced); see ApplyFenced for the isolation of bad names.
func (c *Client) applyZone(ctx context.Context, server string, key *tsig.Key, zone string, changes []Change, lease *Lease) zoneOutcome {
	out := zoneOutcome{names: map[string]error{}}
	batches, err := batchesOf(zone, changes)
	if err != nil {
		out.err = err
		for _, ch := range changes {
			out.names[canonical(ch.Name)] = err
		}
		return out
	}
	if len(batches) == 0 && lease != nil && lease.Swaps() {
		batches = []batch{{}} // the lease swap alone
	}
	send := func(b batch) error {
		l := lease
		_, err := c.do(ctx, server, request{
			op: "update", zone: zone, key: key,
			build: func() *dns.Msg { return updateMsg(zone, b, l) },
			ok:    func(rc int) bool { return rc == dns.RcodeSuccess },
		})
		if err == nil && l != nil {
			*lease = Lease{Expect: l.Set, Set: l.Set} // swapped: later messages expect the new lease
		}
		return err
	}
	var errs []error
	for i, b := range batches {
		err := send(b)
		switch {
		case err == nil:
		case lease != nil && prerequisiteFailed(err) && c.leaseLost(ctx, server, key, zone, *lease):
			err = fmt.Errorf("update zone %s: %w (%w)", zone, ErrLeaseLost, err)
		case len(b.names) > 1 && isolatable(err):
			for _, one := range b.split() {
				e := send(one)
				out.names[one.names[0]] = e
				if e != nil {
					errs = append(errs, fmt.Errorf("%s: %w", one.names[0], e))
				}
			}
			continue
		}
		if err != nil && len(batches) > 1 {
			err = fmt.Errorf("message %d of %d: %w", i+1, len(batches), err)
		}
		for _, n := range b.names {
			out.names[n] = err
		}
		if err != nil {
			errs = append(errs, err)
			if errors.Is(err, ErrLeaseLost) {
				for _, rest := range batches[i+1:] {
					for _, n := range rest.names {
						out.names[n] = err
					}
				}
				break
			}
		}
	}
	out.err = errors.Join(errs...)
	return out
}

// isolatable reports a failure of a whole message that one of its names
// may have caused, so that retrying the names one by one tells them apart.
func isolatable(err error) bool {
	var re *RcodeError
	if !errors.As(err, &re) || re.TSIGError != 0 {
		return false
	}
	switch re.Rcode {
	case dns.RcodeNotAuth, dns.RcodeNotZone:
		return false // the key or the zone, not a name
	}
	return true
}

func prerequisiteFailed(err error) bool {
	rc, ok := Rcode(err)
	return ok && isPrerequisiteRcode(rc)
}

// leaseLost probes the lease alone (a message with only its prerequisite).
func (c *Client) leaseLost(ctx context.Context, server string, key *tsig.Key, zone string, l Lease) bool {
	probe := Lease{Expect: l.Expect, Set: l.Expect}
	_, err := c.do(ctx, server, request{
		op: "update", zone: zone, key: key,
		build: func() *dns.Msg { return updateMsg(zone, batch{}, &probe) },
		ok:    func(rc int) bool { return rc == dns.RcodeSuccess },
	})
	return prerequisiteFailed(err)
}

// batch is one UPDATE message's worth of names: their prerequisites and
// update sections.
type batch struct {
	names    []string
	pre, upd []dns.RR
	perName  [][2][]dns.RR // each name's own prerequisites and updates
	size     int
}

// split returns one batch per name of b.
func (b batch) split() []batch {
	out := make([]batch, len(b.names))
	for i, n := range b.names {
		out[i] = batch{names: []string{n}, pre: b.perName[i][0], upd: b.perName[i][1], perName: b.perName[i : i+1]}
	}
	return out
}

// Batches returns the update sections of the UPDATE messages for changes
// in zone (see batchesOf).
func Batches(zone string, changes []Change) ([][]dns.RR, error) {
	bs, err := batchesOf(zone, changes)
	if err != nil {
		return nil, err
	}
	out := make([][]dns.RR, len(bs))
	for i, b := range bs {
		out[i] = b.upd
	}
	return out, nil
}

// batchesOf groups the changes of zone into UPDATE messages: records
// grouped by owner name (in first-seen order), packed into as few messages
// as fit under 64 KiB. It fails when a change is not in the zone or the
// records of a single name do not fit in one message.
func batchesOf(zone string, changes []Change) ([]batch, error) {
	zone = canonical(zone)
	if _, ok := dns.IsDomainName(zone); !ok || zone == "" {
		return nil, fmt.Errorf("update zone %q: not a valid domain name", zone)
	}
	var names []string
	byName := map[string]*[2][]dns.RR{}
	for _, ch := range changes {
		if canonical(ch.Zone) != zone {
			return nil, fmt.Errorf("update zone %s: change for %s is in zone %q", zone, ch.Name, ch.Zone)
		}
		name := canonical(ch.Name)
		if _, ok := dns.IsDomainName(name); !ok || name == "" {
			return nil, fmt.Errorf("update zone %s: %q is not a valid domain name", zone, ch.Name)
		}
		if !dns.IsSubDomain(zone, name) {
			return nil, fmt.Errorf("update zone %s: %s is not in the zone", zone, name)
		}
		rrs := ch.updates()
		if len(rrs) == 0 {
			continue
		}
		if _, ok := byName[name]; !ok {
			names = append(names, name)
			byName[name] = &[2][]dns.RR{}
		}
		byName[name][0] = append(byName[name][0], ch.prereqs()...)
		byName[name][1] = append(byName[name][1], rrs...)
	}
	// Room for the lease prerequisite and swap of a fenced message.
	room := Lease{Expect: strings.Repeat("x", 255), Set: strings.Repeat("y", 255)}
	bm := updateMsg(zone, batch{}, &room)
	bm.Compress = false
	base := bm.Len()
	var out []batch
	cur := batch{size: base}
	for _, name := range names {
		pu := *byName[name]
		n := 0
		for _, rr := range append(append([]dns.RR(nil), pu[0]...), pu[1]...) {
			n += dns.Len(rr)
		}
		if base+n > maxUpdateSize {
			return nil, fmt.Errorf("update zone %s: the %d records of %s do not fit in one message", zone, len(pu[1]), name)
		}
		if cur.size+n > maxUpdateSize && len(cur.names) > 0 {
			out = append(out, cur)
			cur = batch{size: base}
		}
		cur.names = append(cur.names, name)
		cur.pre = append(cur.pre, pu[0]...)
		cur.upd = append(cur.upd, pu[1]...)
		cur.perName = append(cur.perName, pu)
		cur.size += n
	}
	if len(cur.names) > 0 {
		out = append(out, cur)
	}
	return out, nil
}

// leaseTTL is the TTL of the lease record.
const leaseTTL = 60

// updateMsg builds an UPDATE for zone (RFC 2136 §2.3: the zone section is
// the zone's SOA in class IN) with b's prerequisites (§2.4, the answer
// section) and updates (§2.5, the authority section), under lease (nil =
// unfenced): its prerequisite first, its swap before b's updates.
func updateMsg(zone string, b batch, lease *Lease) *dns.Msg {
	m := new(dns.Msg)
	m.SetUpdate(zone)
	var pre, upd []dns.RR
	if lease != nil {
		pre = append(pre, lease.prereq(zone))
		upd = append(upd, lease.updates(zone, leaseTTL)...)
	}
	m.Answer = append(pre, b.pre...)
	m.Ns = append(upd, b.upd...)
	m.Compress = true
	return m
}
