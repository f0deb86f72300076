package dnsupdate

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/miekg/dns"

	"github.com/lbd-project/lbd/internal/tsig"
)

const (
	// maxZonesInFlight bounds the zones updated concurrently by Apply.
	maxZonesInFlight = 4
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
// Backoff), honouring ctx. Zones are updated concurrently (at most 4 at a
// time); the result joins the error of each failed zone.
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
	zones := zonesOf(changes)
	out := make(map[string]error, len(zones))
	if len(zones) == 0 {
		return out
	}
	byZone := map[string][]Change{}
	for _, ch := range changes {
		if !ch.Empty() {
			z := canonical(ch.Zone)
			byZone[z] = append(byZone[z], ch)
		}
	}
	key, err := c.key()
	if err == nil {
		_, err = ServerAddr(c.Server)
	}
	if err != nil {
		for _, z := range zones {
			out[z] = fmt.Errorf("dns update: %w", err)
		}
		return out
	}
	server, _ := ServerAddr(c.Server)
	errs := make([]error, len(zones))
	sem := make(chan struct{}, maxZonesInFlight)
	var wg sync.WaitGroup
	for i, z := range zones {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = c.applyZone(ctx, server, key, z, byZone[z])
		}()
	}
	wg.Wait()
	for i, z := range zones {
		out[z] = errs[i]
	}
	return out
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

// applyZone sends the changes of one zone, message after message; it stops
// at the first failed message.
func (c *Client) applyZone(ctx context.Context, server string, key *tsig.Key, zone string, changes []Change) error {
	batches, err := Batches(zone, changes)
	if err != nil {
		return err
	}
	for i, batch := range batches {
		_, err := c.do(ctx, server, request{
			op: "update", zone: zone, key: key,
			build: func() *dns.Msg { return updateMsg(zone, batch) },
			ok:    func(rc int) bool { return rc == dns.RcodeSuccess },
		})
		if err != nil {
			if len(batches) > 1 {
				return fmt.Errorf("message %d of %d: %w", i+1, len(batches), err)
			}
			return err
		}
	}
	return nil
}

// Batches returns the update sections of the UPDATE messages for changes
// in zone: records grouped by owner name (in first-seen order), packed into
// as few messages as fit under 64 KiB. It fails when a change is not in the
// zone or the records of a single name do not fit in one message.
func Batches(zone string, changes []Change) ([][]dns.RR, error) {
	zone = canonical(zone)
	if _, ok := dns.IsDomainName(zone); !ok || zone == "" {
		return nil, fmt.Errorf("update zone %q: not a valid domain name", zone)
	}
	var names []string
	byName := map[string][]dns.RR{}
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
		}
		byName[name] = append(byName[name], rrs...)
	}
	base := updateMsg(zone, nil).Len()
	var out [][]dns.RR
	var cur []dns.RR
	size := base
	for _, name := range names {
		rrs := byName[name]
		n := 0
		for _, rr := range rrs {
			n += dns.Len(rr)
		}
		if base+n > maxUpdateSize {
			return nil, fmt.Errorf("update zone %s: the %d records of %s do not fit in one message", zone, len(rrs), name)
		}
		if size+n > maxUpdateSize && len(cur) > 0 {
			out = append(out, cur)
			cur, size = nil, base
		}
		cur = append(cur, rrs...)
		size += n
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out, nil
}

// updateMsg builds an UPDATE for zone (RFC 2136 §2.3: the zone section is
// the zone's SOA in class IN) with the given update section.
func updateMsg(zone string, rrs []dns.RR) *dns.Msg {
	m := new(dns.Msg)
	m.SetUpdate(zone)
	m.Ns = rrs
	m.Compress = true
	return m
}
