package choice

import (
	"hash/fnv"
	"net/netip"
	"sort"
	"strconv"

	"github.com/lbd-project/lbd/lbd/config"
	"github.com/lbd-project/lbd/lbd/snmp"
)

// Usable load range (docs/protocol.md §2): 1..99999, lower is better.
const (
	MinUsable = 1
	MaxUsable = 99999
	// LoadNoAnswer is what a member gets for an alias when no address gave
	// a value for it: a timeout, a failure, or the alias missing from the
	// reply string.
	LoadNoAnswer = 100000
	// LoadNoAddress is a member that resolved to no address.
	LoadNoAddress = -200
	// LoadDrained is a member an operator drained (an override).
	LoadDrained = -300
)

// Usable reports whether load is in the usable range.
func Usable(load int) bool { return load >= MinUsable && load <= MaxUsable }

// Member is one member host as seen for one alias after polling.
type Member struct {
	Host string
	// Load is the best (lowest) usable per-address value for the alias; when
	// no address gave a usable one, an unusable value saying why (the first
	// negative code seen, LoadNoAnswer, or LoadNoAddress).
	Load int
	// Addrs are the addresses that answered usably for the alias, in
	// resolver order: what is published when the member is chosen.
	Addrs []netip.Addr
	// All are every resolved address, for the all-random fallback.
	All []netip.Addr
}

// Usable reports whether the member can be published.
func (m Member) Usable() bool { return Usable(m.Load) && len(m.Addrs) > 0 }

// MemberFor derives a member's load and publishable addresses for alias from
// the replies of each of its resolved addresses (docs/protocol.md §3.3 with D2
// fixed): the minimum usable value; publishable are the addresses that
// answered usably for this alias. A missing reply counts as no answer.
func MemberFor(alias, host string, resolved []netip.Addr, replies map[netip.Addr]snmp.Reply) Member {
	m := Member{Host: host, All: resolved}
	if len(resolved) == 0 {
		m.Load = LoadNoAddress
		return m
	}
	best, unusable := 0, 0
	for _, a := range resolved {
		r, ok := replies[a]
		v := LoadNoAnswer
		if ok && r.Err == nil {
			if n, found := r.Value.LoadFor(alias); found {
				v = n
			}
		}
		if Usable(v) {
			m.Addrs = append(m.Addrs, a)
			if best == 0 || v < best {
				best = v
			}
		} else if unusable == 0 || (unusable == LoadNoAnswer && v != LoadNoAnswer) {
			unusable = v // prefer an explicit code from the agent over "no answer"
		}
	}
	if best > 0 {
		m.Load = best
	} else {
		m.Load = unusable
	}
	return m
}

// Input is everything Select decides on.
type Input struct {
	Alias      string
	BestHosts  int // -1 = every usable member
	Fallback   config.Fallback
	Hysteresis float64 // relative margin to replace a published member
	Members    []Member
	// Published is what DNS serves for the alias now (A and AAAA); members
	// owning one of these addresses count as currently published.
	Published []netip.Addr
}

// Decision is what to publish.
type Decision struct {
	// Keep means leave DNS as it is (fallback keep fired).
	Keep bool
	// Hosts chosen, best first, and their addresses in that order.
	Hosts []string
	Addrs []netip.Addr
	// Fallback is set when no member was usable and a fallback decided.
	Fallback config.Fallback
	// Usable counts the usable members.
	Usable int
}

// Select picks the hosts to publish (docs/design.md §5, docs/protocol.md §7). It is
// pure and deterministic: equal inputs give equal outputs.
//
// Usable members are ranked by load; a currently published member competes
// with its load reduced by the hysteresis margin, so a newcomer must beat it
// by that margin to replace it; ties prefer published members, then a stable
// hash of alias and host. The first N are taken (N = BestHosts, -1 = all)
// and all their usable addresses published.
//
// With no usable member: keep → Keep; none → nothing; all-random → N
// members (ranked published first, then by the stable hash, so the set does
// not churn between cycles) with every resolved address.
func Select(in Input) Decision {
	pub := make(map[netip.Addr]bool, len(in.Published))
	for _, a := range in.Published {
		pub[a] = true
	}
	isPub := func(m Member) bool {
		for _, a := range m.All {
			if pub[a] {
				return true
			}
		}
		return false
	}
	type cand struct {
		m    Member
		eff  float64
		pub  bool
		hash uint64
	}
	var usable, all []cand
	for _, m := range in.Members {
		c := cand{m: m, pub: isPub(m), hash: stableHash(in.Alias, m.Host)}
		c.eff = float64(m.Load)
		if c.pub {
			c.eff *= 1 - in.Hysteresis
		}
		all = append(all, c)
		if m.Usable() {
			usable = append(usable, c)
		}
	}
	less := func(s []cand) func(i, j int) bool {
		return func(i, j int) bool {
			a, b := s[i], s[j]
			if a.eff != b.eff {
				return a.eff < b.eff
			}
			if a.pub != b.pub {
				return a.pub
			}
			if a.hash != b.hash {
				return a.hash < b.hash
			}
			return a.m.Host < b.m.Host
		}
	}
	d := Decision{Usable: len(usable)}
	if len(usable) > 0 {
		sort.SliceStable(usable, less(usable))
		n := clamp(in.BestHosts, len(usable))
		for _, c := range usable[:n] {
			d.Hosts = append(d.Hosts, c.m.Host)
			d.Addrs = append(d.Addrs, c.m.Addrs...)
		}
		return d
	}
	d.Fallback = in.Fallback
	switch in.Fallback {
	case config.FallbackNone:
		return d
	case config.FallbackAllRandom:
		// Members that resolved to no address cannot be published: they
		// must not take one of the N places.
		withAddr := all[:0]
		for _, c := range all {
			if len(c.m.All) > 0 {
				c.eff = 0 // loads mean nothing here
				withAddr = append(withAddr, c)
			}
		}
		sort.SliceStable(withAddr, less(withAddr))
		n := clamp(in.BestHosts, len(withAddr))
		for _, c := range withAddr[:n] {
			d.Hosts = append(d.Hosts, c.m.Host)
			d.Addrs = append(d.Addrs, c.m.All...)
		}
		return d
	default: // keep
		d.Keep = true
		return d
	}
}

func clamp(best, n int) int {
	if best < 0 || best > n {
		return n
	}
	return best
}

func stableHash(alias, host string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(alias))
	h.Write([]byte{0})
	h.Write([]byte(host))
	return h.Sum64()
}

// String renders a decision for logs.
func (d Decision) String() string {
	switch {
	case d.Keep:
		return "keep current records (no usable member)"
	case len(d.Hosts) == 0 && d.Fallback != "":
		return "publish nothing (no usable member, fallback " + string(d.Fallback) + ")"
	}
	s := strconv.Itoa(len(d.Hosts)) + " hosts"
	for i, h := range d.Hosts {
		if i == 0 {
			s += ": "
		} else {
			s += ", "
		}
		s += h
	}
	return s
}
