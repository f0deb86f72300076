package dnsserver

import (
	"fmt"

	"github.com/miekg/dns"
)

// isMeta reports the QTYPE-only and meta types that may not be stored
// (RFC 2136 §3.4.1.2, RFC 6895 §3.1).
func isMeta(t uint16) bool {
	switch t {
	case dns.TypeANY, dns.TypeAXFR, dns.TypeIXFR, dns.TypeMAILA, dns.TypeMAILB,
		dns.TypeOPT, dns.TypeTSIG, dns.TypeTKEY:
		return true
	}
	return t >= 128 && t <= 255
}

// txn is the working copy of an UPDATE: the nodes it touched, copied on
// first touch, so that nothing is visible before the journal is synced.
type txn struct {
	z     *zone
	nodes map[string]node
	soa   *dns.SOA // explicit SOA from the update section, if any
}

func (t *txn) get(name string) node {
	if n, ok := t.nodes[name]; ok {
		return n
	}
	n := t.z.nodes[name].clone()
	t.nodes[name] = n
	return n
}

func withClass(rr dns.RR, class uint16, name string) dns.RR {
	c := dns.Copy(rr)
	c.Header().Class = class
	c.Header().Name = name
	return c
}

// update runs RFC 2136 §3.2–§3.6 for one message under the zone's writer
// lock: prerequisites, update-section prescan, then the changes, which are
// journaled and fsynced before they become visible. owns reports whether a
// name belongs to this zone (not to another, more specific zone). It
// returns the RCODE and whether the zone changed.
func (z *zone) update(prereq, upd []dns.RR, owns func(string) bool) (int, bool, error) {
	z.updMu.Lock()
	defer z.updMu.Unlock()

	if rc := z.checkPrereq(prereq, owns); rc != dns.RcodeSuccess {
		return rc, false, nil
	}
	if rc := prescan(upd, owns); rc != dns.RcodeSuccess {
		return rc, false, nil
	}
	t := &txn{z: z, nodes: map[string]node{}}
	for _, rr := range upd {
		t.apply(rr)
	}

	// The difference, record by record (TTL changes count).
	d := &delta{seq: z.seq + 1, oldSOA: z.soa}
	for name, n := range t.nodes {
		old := z.nodes[name]
		for typ, rrs := range old {
			if typ == dns.TypeSOA {
				continue
			}
			for _, rr := range rrs {
				if !containsExact(n[typ], rr) {
					d.del = append(d.del, rr)
				}
			}
		}
		for typ, rrs := range n {
			if typ == dns.TypeSOA {
				continue
			}
			for _, rr := range rrs {
				if !containsExact(old[typ], rr) {
					d.add = append(d.add, rr)
				}
			}
		}
	}
	if len(d.del) == 0 && len(d.add) == 0 && t.soa == nil {
		return dns.RcodeSuccess, false, nil
	}
	if t.soa != nil {
		d.newSOA = t.soa
	} else {
		// RFC 2136 §3.6 with the time-derived rule of serial.go.
		soa := dns.Copy(z.soa).(*dns.SOA)
		soa.Serial = nextSerial(soa.Serial, z.cfg.now())
		d.newSOA = soa
	}
	if z.jnl == nil {
		return dns.RcodeServerFailure, false, fmt.Errorf("zone %s: journal unavailable", z.name)
	}
	rec, err := encodeDelta(d)
	if err != nil {
		return dns.RcodeServerFailure, false, fmt.Errorf("zone %s: %w", z.name, err)
	}
	if err := z.appendJournal(rec); err != nil {
		return dns.RcodeServerFailure, false, err
	}

	t.get(z.name)[dns.TypeSOA] = []dns.RR{d.newSOA}
	z.mu.Lock()
	for name, n := range t.nodes {
		_, had := z.nodes[name]
		publish(z.nodes, name, n)
		if _, has := z.nodes[name]; has != had {
			z.noteOwner(name, has)
		}
	}
	z.soa, z.seq = d.newSOA, d.seq
	z.addHistory(d)
	z.mu.Unlock()
	return dns.RcodeSuccess, true, nil
}

func containsExact(rrs []dns.RR, rr dns.RR) bool {
	for _, x := range rrs {
		if x.Header().Ttl == rr.Header().Ttl && dns.IsDuplicate(x, rr) {
			return true
		}
	}
	return false
}

// checkPrereq is RFC 2136 §3.2.
func (z *zone) checkPrereq(prereq []dns.RR, owns func(string) bool) int {
	type key struct {
		name string
		typ  uint16
	}
	var order []key
	temp := map[key][]dns.RR{}
	for _, rr := range prereq {
		h := rr.Header()
		name := dns.CanonicalName(h.Name)
		if h.Ttl != 0 {
			return dns.RcodeFormatError
		}
		if !owns(name) {
			return dns.RcodeNotZone
		}
		n := z.nodes[name]
		switch h.Class {
		case dns.ClassANY:
			if h.Rdlength != 0 {
				return dns.RcodeFormatError
			}
			if h.Rrtype == dns.TypeANY {
				if len(n) == 0 {
					return dns.RcodeNameError
				}
			} else if len(n[h.Rrtype]) == 0 {
				return dns.RcodeNXRrset
			}
		case dns.ClassNONE:
			if h.Rdlength != 0 {
				return dns.RcodeFormatError
			}
			if h.Rrtype == dns.TypeANY {
				if len(n) != 0 {
					return dns.RcodeYXDomain
				}
			} else if len(n[h.Rrtype]) != 0 {
				return dns.RcodeYXRrset
			}
		case dns.ClassINET:
			if isMeta(h.Rrtype) {
				return dns.RcodeFormatError
			}
			k := key{name, h.Rrtype}
			if _, ok := temp[k]; !ok {
				order = append(order, k)
			}
			temp[k] = append(temp[k], withClass(rr, dns.ClassINET, name))
		default:
			return dns.RcodeFormatError
		}
	}
	for _, k := range order {
		have := z.nodes[k.name][k.typ]
		want := temp[k]
		for _, rr := range want {
			if !containsRR(have, rr) {
				return dns.RcodeNXRrset
			}
		}
		for _, rr := range have {
			if !containsRR(want, rr) {
				return dns.RcodeNXRrset
			}
		}
	}
	return dns.RcodeSuccess
}

// prescan is RFC 2136 §3.4.1.
func prescan(upd []dns.RR, owns func(string) bool) int {
	for _, rr := range upd {
		h := rr.Header()
		if !owns(dns.CanonicalName(h.Name)) {
			return dns.RcodeNotZone
		}
		switch h.Class {
		case dns.ClassINET:
			if isMeta(h.Rrtype) || h.Rdlength == 0 {
				return dns.RcodeFormatError
			}
			if _, err := appendRR(nil, rr); err != nil {
				return dns.RcodeFormatError
			}
		case dns.ClassANY:
			if h.Ttl != 0 || h.Rdlength != 0 || (isMeta(h.Rrtype) && h.Rrtype != dns.TypeANY) {
				return dns.RcodeFormatError
			}
		case dns.ClassNONE:
			if h.Ttl != 0 || isMeta(h.Rrtype) {
				return dns.RcodeFormatError
			}
		default:
			return dns.RcodeFormatError
		}
	}
	return dns.RcodeSuccess
}

// apply is RFC 2136 §3.4.2 for one prescanned RR: class IN adds,
// class ANY deletes an RRset (or every RRset of the name), class NONE
// deletes one RR.
func (t *txn) apply(rr dns.RR) {
	h := rr.Header()
	name := dns.CanonicalName(h.Name)
	apex := name == t.z.name
	n := t.get(name)
	switch h.Class {
	case dns.ClassINET:
		t.add(n, withClass(rr, dns.ClassINET, name), apex)
	case dns.ClassANY:
		deleteRRsets(n, h.Rrtype, apex)
	case dns.ClassNONE:
		deleteRR(n, rr, name, apex)
	}
}

// add is §3.4.2.2 for one class-IN RR c (already renamed to its
// canonical owner) at node n: CNAME and other data never coexist, an SOA
// only replaces the apex SOA with a greater serial, a CNAME replaces the
// CNAME, anything else joins its RRset.
func (t *txn) add(n node, c dns.RR, apex bool) {
	typ := c.Header().Rrtype
	if cnameConflict(n, typ) {
		return // CNAME and other data (RFC 2136 §3.4.2.2, RFC 1034 §3.6.2)
	}
	switch typ {
	case dns.TypeSOA:
		t.addSOA(c.(*dns.SOA), apex)
	case dns.TypeCNAME:
		n[typ] = []dns.RR{c}
	default:
		n[typ] = addToRRset(n[typ], c)
	}
}

// cnameConflict reports whether adding an RR of type typ to n would put
// a CNAME beside other data.
func cnameConflict(n node, typ uint16) bool {
	if typ != dns.TypeCNAME {
		return len(n[dns.TypeCNAME]) > 0
	}
	for other, rrs := range n {
		if other != dns.TypeCNAME && len(rrs) > 0 {
			return true
		}
	}
	return false
}

// addSOA keeps an explicit apex SOA whose serial is greater than the
// current one (the zone's, or an earlier SOA of this update); others are
// ignored.
func (t *txn) addSOA(soa *dns.SOA, apex bool) {
	cur := t.z.soa
	if t.soa != nil {
		cur = t.soa
	}
	if !apex || !serialGreater(soa.Serial, cur.Serial) {
		return
	}
	t.soa = soa
}

// addToRRset replaces a duplicate of c in rrs, else adds c; the RRset
// takes the new TTL (RFC 2181 §5.2). rrs is not modified.
func addToRRset(rrs []dns.RR, c dns.RR) []dns.RR {
	out := make([]dns.RR, 0, len(rrs)+1)
	for _, x := range rrs {
		if dns.IsDuplicate(x, c) {
			continue
		}
		if x.Header().Ttl != c.Header().Ttl {
			x = dns.Copy(x)
			x.Header().Ttl = c.Header().Ttl
		}
		out = append(out, x)
	}
	return append(out, c)
}

// deleteRRsets is §3.4.2.3 (class ANY): type ANY deletes every RRset of
// the name, except the apex SOA and NS; another type deletes that RRset,
// except at the apex for SOA and NS.
func deleteRRsets(n node, rrtype uint16, apex bool) {
	switch {
	case rrtype == dns.TypeANY:
		for typ := range n {
			if !apex || (typ != dns.TypeSOA && typ != dns.TypeNS) {
				delete(n, typ)
			}
		}
	case apex && (rrtype == dns.TypeSOA || rrtype == dns.TypeNS):
	default:
		delete(n, rrtype)
	}
}

// deleteRR is §3.4.2.4 (class NONE): deletes one RR, never an SOA and
// never the last apex NS.
func deleteRR(n node, rr dns.RR, name string, apex bool) {
	rrtype := rr.Header().Rrtype
	if rrtype == dns.TypeSOA {
		return
	}
	c := withClass(rr, dns.ClassINET, name)
	if apex && rrtype == dns.TypeNS {
		if ns := n[dns.TypeNS]; len(ns) == 1 && dns.IsDuplicate(ns[0], c) {
			return // never delete the last apex NS
		}
	}
	n[rrtype] = removeRR(n[rrtype], c)
}
