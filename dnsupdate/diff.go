package dnsupdate

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// State is what DNS currently holds for a name: its A and AAAA addresses,
// sorted and without duplicates, and their TTL.
type State struct {
	A, AAAA []netip.Addr
	// TTL is the TTL of the records present (the smaller one when the A
	// and AAAA RRsets differ), 0 when there are none.
	TTL uint32
	// ATTL and AAAATTL are the TTLs of each RRset as read by Query. When a
	// State is built by hand they may be left 0: TTL is used instead.
	ATTL, AAAATTL uint32
}

// Addrs returns every address of the state, A first.
func (s State) Addrs() []netip.Addr {
	return append(slices.Clone(s.A), s.AAAA...)
}

// Change is the update of one name's A/AAAA records. Diff builds minimal
// changes; a Change may also be built by hand.
type Change struct {
	Zone string // zone apex the update is addressed to
	Name string // owner name, at or below Zone
	TTL  uint32 // TTL of added records
	// Add and Remove are the individual addresses to add and to delete.
	Add, Remove []netip.Addr
	// Replace rewrites whole RRsets instead (for example when the TTL
	// changes): for each family (A, AAAA) that has addresses in Desired or
	// in Remove, the RRset is deleted and every Desired address of that
	// family is added with TTL. Add and Remove then only describe the
	// difference for humans.
	Replace bool
	// Desired is the complete set wanted after the change, sorted.
	Desired []netip.Addr

	// Meta is the name's metadata RRset: the TXT records at OwnerName
	// (its ownership record and its overrides, docs/design.md §9, §10).
	// With MetaSet the update replaces that RRset with Meta; with
	// MetaRequire the message requires it to be exactly MetaExpect (RFC
	// 2136 §2.4.2; an empty MetaExpect: that it does not exist, §2.4.3),
	// so that lbd changes only names it owns, and no two writers' edits of
	// the overrides cross.
	Meta, MetaExpect     []string
	MetaSet, MetaRequire bool
	// AddrsAbsent makes the message require that Name has neither an A
	// nor an AAAA RRset (RFC 2136 §2.4.3): a name written without being
	// read first, on the presumption that it holds nothing (with
	// MetaRequire and an empty MetaExpect, nor metadata). If anything is
	// there, the server applies nothing and answers YXRRSET.
	AddrsAbsent bool
	// Delete removes the name's A and AAAA RRsets and its metadata
	// (a name lbd no longer manages); Add, Remove and Replace are ignored.
	Delete bool
}

// Diff returns the minimal change that turns cur into desired with the
// given TTL: individual records no longer wanted are deleted and new ones
// added; when records that stay have a TTL other than ttl, the RRsets are
// rewritten (Replace). Duplicate and IPv4-mapped addresses in desired are
// collapsed, invalid ones ignored. Diff is pure.
func Diff(zone, name string, cur State, desired []netip.Addr, ttl uint32) Change {
	want := normAddrs(desired)
	have := normAddrs(cur.Addrs())
	c := Change{Zone: canonical(zone), Name: canonical(name), TTL: ttl, Desired: want}
	c.Add, c.Remove = delta(have, want)
	for _, fam := range []struct {
		is4 bool
		ttl uint32
	}{{true, cur.ATTL}, {false, cur.AAAATTL}} {
		t := fam.ttl
		if t == 0 {
			t = cur.TTL
		}
		if t == ttl {
			continue
		}
		for _, a := range want {
			if a.Is4() != fam.is4 {
				continue
			}
			if _, found := slices.BinarySearchFunc(have, a, netip.Addr.Compare); found {
				c.Replace = true
			}
		}
	}
	return c
}

// Delta lists the addresses of want that have lacks and those of have
// that want lacks, each sorted (both normalised as by Diff). Pure.
func Delta(have, want []netip.Addr) (add, remove []netip.Addr) {
	return delta(normAddrs(have), normAddrs(want))
}

// delta is Delta of normalised sets.
func delta(have, want []netip.Addr) (add, remove []netip.Addr) {
	for _, a := range want {
		if _, found := slices.BinarySearchFunc(have, a, netip.Addr.Compare); !found {
			add = append(add, a)
		}
	}
	for _, a := range have {
		if _, found := slices.BinarySearchFunc(want, a, netip.Addr.Compare); !found {
			remove = append(remove, a)
		}
	}
	return add, remove
}

// Empty reports whether the change does nothing.
func (c Change) Empty() bool {
	return !c.Replace && len(c.Add) == 0 && len(c.Remove) == 0 && !c.MetaSet && !c.Delete
}

// prereqs returns the change's prerequisites (RFC 2136 §2.4).
func (c Change) prereqs() []dns.RR {
	if c.Empty() {
		return nil
	}
	var out []dns.RR
	if c.AddrsAbsent {
		out = append(out, typeAbsent(c.Name, dns.TypeA), typeAbsent(c.Name, dns.TypeAAAA))
	}
	switch {
	case !c.MetaRequire:
	case len(c.MetaExpect) == 0:
		out = append(out, rrsetAbsent(OwnerName(c.Name)))
	default:
		for _, t := range c.MetaExpect {
			out = append(out, txtEquals(OwnerName(c.Name), t))
		}
	}
	return out
}

// String renders the operations the change sends, one per line, e.g.
// "add www.lb.example.org. 60 IN A 127.0.0.2" or
// "delete www.lb.example.org. IN AAAA ::1". An empty change renders as "".
func (c Change) String() string {
	var b strings.Builder
	for _, rr := range c.updates() {
		h := rr.Header()
		typ := dns.TypeToString[h.Rrtype]
		switch h.Class {
		case dns.ClassANY:
			fmt.Fprintf(&b, "delete %s %s (whole RRset)\n", h.Name, typ)
		case dns.ClassNONE:
			fmt.Fprintf(&b, "delete %s IN %s %s\n", h.Name, typ, rdata(rr))
		default:
			fmt.Fprintf(&b, "add %s %d IN %s %s\n", h.Name, h.Ttl, typ, rdata(rr))
		}
	}
	for _, rr := range c.prereqs() {
		h := rr.Header()
		if h.Class == dns.ClassNONE { // RRset does not exist (RFC 2136 §2.4.3)
			fmt.Fprintf(&b, "require no %s IN %s\n", h.Name, dns.TypeToString[h.Rrtype])
			continue
		}
		fmt.Fprintf(&b, "require %s IN %s %s\n", h.Name, dns.TypeToString[h.Rrtype], rdata(rr))
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func rdata(rr dns.RR) string {
	switch r := rr.(type) {
	case *dns.A:
		if r.A != nil {
			return r.A.String()
		}
	case *dns.AAAA:
		if r.AAAA != nil {
			return r.AAAA.String()
		}
	case *dns.TXT:
		return strconv.Quote(strings.Join(r.Txt, ""))
	}
	return ""
}

// updates returns the RFC 2136 update section for the change, in order:
// RRset deletions (class ANY), RR deletions (class NONE), additions.
func (c Change) updates() []dns.RR {
	if c.Empty() {
		return nil
	}
	name := canonical(c.Name)
	if c.Delete {
		return []dns.RR{
			&dns.ANY{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassANY}},
			&dns.ANY{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeAAAA, Class: dns.ClassANY}},
			deleteTXT(OwnerName(name)),
		}
	}
	return append(c.addrUpdates(name), c.metaUpdates()...)
}

// metaUpdates rewrite the metadata RRset (MetaSet).
func (c Change) metaUpdates() []dns.RR {
	if !c.MetaSet {
		return nil
	}
	out := []dns.RR{deleteTXT(OwnerName(c.Name))}
	for _, t := range c.Meta {
		out = append(out, txtRR(OwnerName(c.Name), dns.ClassINET, c.TTL, t))
	}
	return out
}

// Families says which address families the change touches: those with an
// address in Desired or Remove (A for IPv4, IPv4-mapped included; AAAA
// for the others). Replace rewrites exactly their RRsets.
func (c Change) Families() (v4, v6 bool) {
	for _, a := range normAddrs(slices.Concat(c.Desired, c.Remove)) {
		if a.Is4() {
			v4 = true
		} else {
			v6 = true
		}
	}
	return v4, v6
}

// addrUpdates are the A/AAAA operations of the change.
func (c Change) addrUpdates(name string) []dns.RR {
	var dels, adds []dns.RR
	if c.Replace {
		want := normAddrs(c.Desired)
		v4, v6 := c.Families()
		for _, fam := range []struct {
			is4 bool
			t   uint16
		}{{true, dns.TypeA}, {false, dns.TypeAAAA}} {
			if fam.is4 && !v4 || !fam.is4 && !v6 {
				continue
			}
			dels = append(dels, &dns.ANY{Hdr: dns.RR_Header{Name: name, Rrtype: fam.t, Class: dns.ClassANY}})
			for _, a := range want {
				if a.Is4() == fam.is4 {
					adds = append(adds, addrRR(name, a, dns.ClassINET, c.TTL))
				}
			}
		}
		return append(dels, adds...)
	}
	for _, a := range normAddrs(c.Remove) {
		dels = append(dels, addrRR(name, a, dns.ClassNONE, 0))
	}
	for _, a := range normAddrs(c.Add) {
		adds = append(adds, addrRR(name, a, dns.ClassINET, c.TTL))
	}
	return append(dels, adds...)
}

func addrRR(name string, a netip.Addr, class uint16, ttl uint32) dns.RR {
	h := dns.RR_Header{Name: name, Class: class, Ttl: ttl}
	if a.Is4() {
		h.Rrtype = dns.TypeA
		b := a.As4()
		return &dns.A{Hdr: h, A: net.IP(b[:])}
	}
	h.Rrtype = dns.TypeAAAA
	b := a.As16()
	return &dns.AAAA{Hdr: h, AAAA: net.IP(b[:])}
}

// normAddrs unmaps IPv4-mapped addresses, drops zones and invalid
// addresses, sorts (IPv4 first) and removes duplicates.
func normAddrs(in []netip.Addr) []netip.Addr {
	out := make([]netip.Addr, 0, len(in))
	for _, a := range in {
		if !a.IsValid() {
			continue
		}
		out = append(out, a.Unmap().WithZone(""))
	}
	slices.SortFunc(out, netip.Addr.Compare)
	out = slices.Compact(out)
	if len(out) == 0 {
		return nil
	}
	return out
}

// canonical returns a domain name in lower case and fully qualified.
func canonical(name string) string {
	name = strings.TrimSpace(name)
	if name == "" {
		return ""
	}
	return dns.CanonicalName(name)
}
