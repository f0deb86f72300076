package dnsserver

import (
	"os"
	"sort"
	"sync"

	"github.com/miekg/dns"
)

// node is the data at one owner name: RRsets by type. A published node is
// never modified: an update builds a new node and swaps it in, so readers
// may keep using a node after releasing the zone lock.
type node map[uint16][]dns.RR

func (n node) clone() node {
	c := make(node, len(n)+1)
	for t, rrs := range n {
		c[t] = rrs
	}
	return c
}

// delta is one committed change (one accepted UPDATE): the IXFR unit of
// RFC 1995 §4 and one journal record.
type delta struct {
	seq    uint64
	oldSOA *dns.SOA
	newSOA *dns.SOA
	del    []dns.RR // without the SOA
	add    []dns.RR // without the SOA
}

const (
	historyMemory = 256 // deltas kept in memory for IXFR
	historyDisk   = 64  // already-compacted deltas kept in the journal for IXFR
)

// zone is one authoritative zone.
type zone struct {
	name string // canonical
	cfg  compiledZone

	// updMu serialises writers (UPDATE, compaction). The data below is
	// only modified with updMu held AND mu write-locked, so a writer may
	// read it without mu.
	updMu sync.Mutex
	mu    sync.RWMutex
	nodes map[string]node
	// below counts, for every name of the zone, the owner names strictly
	// below it: a name without records but with a count is an empty
	// non-terminal (RFC 8020 §2: NODATA, not NXDOMAIN).
	below map[string]int
	soa   *dns.SOA
	seq   uint64   // sequence number of the last applied delta
	hist  []*delta // recent deltas, oldest first, chained by serial

	// storage, under updMu
	dir, base  string
	jnl        *os.File
	jnlPending int    // journal records not yet covered by the snapshot
	snapSeq    uint64 // seq the current snapshot covers
}

// allRRs returns every RR of the zone: SOA first, then the rest ordered by
// name and type (deterministic for snapshots and AXFR).
func allRRs(nodes map[string]node, soa *dns.SOA) []dns.RR {
	names := make([]string, 0, len(nodes))
	for n := range nodes {
		names = append(names, n)
	}
	sort.Strings(names)
	out := []dns.RR{soa}
	for _, n := range names {
		nd := nodes[n]
		types := make([]int, 0, len(nd))
		for t := range nd {
			if t != dns.TypeSOA {
				types = append(types, int(t))
			}
		}
		sort.Ints(types)
		for _, t := range types {
			out = append(out, nd[uint16(t)]...)
		}
	}
	return out
}

// applyDelta applies d to nodes in place (used while loading) and returns
// the new SOA.
func applyDelta(nodes map[string]node, d *delta) {
	touched := map[string]node{}
	get := func(name string) node {
		if n, ok := touched[name]; ok {
			return n
		}
		n := nodes[name].clone()
		touched[name] = n
		return n
	}
	for _, rr := range d.del {
		n := get(rr.Header().Name)
		n[rr.Header().Rrtype] = removeRR(n[rr.Header().Rrtype], rr)
	}
	for _, rr := range d.add {
		n := get(rr.Header().Name)
		t := rr.Header().Rrtype
		n[t] = append(removeRR(n[t], rr), rr)
	}
	apex := d.newSOA.Hdr.Name
	n := get(apex)
	n[dns.TypeSOA] = []dns.RR{d.newSOA}
	for name, n := range touched {
		publish(nodes, name, n)
	}
}

// publish stores n at name, dropping empty RRsets and empty nodes.
func publish(nodes map[string]node, name string, n node) {
	for t, rrs := range n {
		if len(rrs) == 0 {
			delete(n, t)
		}
	}
	if len(n) == 0 {
		delete(nodes, name)
		return
	}
	nodes[name] = n
}

// removeRR returns rrs without the RRs equal to rr (RDATA compared, TTL
// ignored), as a new slice.
func removeRR(rrs []dns.RR, rr dns.RR) []dns.RR {
	out := make([]dns.RR, 0, len(rrs))
	for _, x := range rrs {
		if !dns.IsDuplicate(x, rr) {
			out = append(out, x)
		}
	}
	return out
}

// containsRR reports whether rrs has an RR equal to rr (TTL ignored).
func containsRR(rrs []dns.RR, rr dns.RR) bool {
	for _, x := range rrs {
		if dns.IsDuplicate(x, rr) {
			return true
		}
	}
	return false
}

// countBelow counts, for every name at or below apex, the owner names of
// nodes strictly below it.
func countBelow(nodes map[string]node, apex string) map[string]int {
	below := map[string]int{}
	for name := range nodes {
		forAncestors(name, apex, func(a string) { below[a]++ })
	}
	return below
}

// forAncestors calls f for every name strictly above name, up to and
// including apex (names are canonical, name at or below apex).
func forAncestors(name, apex string, f func(string)) {
	for off, end := 0, false; name[off:] != apex; {
		if off, end = dns.NextLabel(name, off); end {
			return
		}
		f(name[off:])
	}
}

// noteOwner updates below when name gains its first record (has) or loses
// its last one. Called with mu write-locked.
func (z *zone) noteOwner(name string, has bool) {
	if z.below == nil {
		z.below = map[string]int{}
	}
	forAncestors(name, z.name, func(a string) {
		if has {
			z.below[a]++
		} else if z.below[a]--; z.below[a] <= 0 {
			delete(z.below, a)
		}
	})
}
