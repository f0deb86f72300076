package renderer

import (
	"cmp"
	"net/netip"
	"slices"

	"github.com/lbd-project/lbd/lbd/choice"
	"github.com/lbd-project/lbd/lbd/render"
	"github.com/lbd-project/lbd/lbd/status"
)

// FromSnapshot builds the data of snapshot s, generated at s.At. Pending
// names the aliases without a decision yet (never evaluated, or no DNS
// server could be read): their Published list is empty, which does not
// mean that DNS publishes nothing, so a caller should not render while
// pending is not empty.
func FromSnapshot(s status.Snapshot) (d render.Data, pending []string) {
	d = render.Data{Generated: s.At, Aliases: make([]render.Alias, 0, len(s.Aliases))}
	for _, a := range s.Aliases {
		if a.LastChange.IsZero() {
			pending = append(pending, a.Name)
		}
		al := render.Alias{Name: a.Name, Zone: a.Zone, Fallback: a.Fallback,
			Published: []render.Member{}, Usable: []render.Member{}, Members: []render.Member{}}
		published := map[string]bool{}
		for _, h := range a.Hosts {
			published[h] = true
		}
		for _, m := range a.Members {
			mb := member(m, published[m.Host])
			al.Members = append(al.Members, mb)
			if mb.Usable {
				al.Usable = append(al.Usable, mb)
			}
			if mb.Published {
				al.Published = append(al.Published, mb)
			}
		}
		for _, l := range []*[]render.Member{&al.Published, &al.Usable, &al.Members} {
			slices.SortStableFunc(*l, func(x, y render.Member) int { return cmp.Compare(x.Host, y.Host) })
		}
		d.Aliases = append(d.Aliases, al)
	}
	slices.SortStableFunc(d.Aliases, func(x, y render.Alias) int { return cmp.Compare(x.Name, y.Name) })
	slices.Sort(pending)
	return d, pending
}

func member(m status.Member, published bool) render.Member {
	var addrs []netip.Addr
	for _, s := range m.Addrs {
		if a, err := netip.ParseAddr(s); err == nil {
			addrs = append(addrs, a.Unmap())
		}
	}
	// netip orders IPv4 before IPv6.
	slices.SortFunc(addrs, netip.Addr.Compare)
	addrs = slices.Compact(addrs)
	mb := render.Member{Host: m.Host, Load: m.Load, Published: published || m.Published,
		Addrs: []string{}, IPv4: []string{}, IPv6: []string{}}
	for _, a := range addrs {
		mb.Addrs = append(mb.Addrs, a.String())
		if a.Is4() {
			mb.IPv4 = append(mb.IPv4, a.String())
		} else {
			mb.IPv6 = append(mb.IPv6, a.String())
		}
	}
	mb.Usable = choice.Usable(m.Load) && len(mb.Addrs) > 0
	return mb
}

// FallbackKeep is the fallback rule that leaves DNS as it is (status.Alias
// Fallback "keep").
const FallbackKeep = "keep"

// CarryKept makes next say what DNS serves for the aliases whose fallback
// keep fired (no usable member: DNS is left as it was, and the decision
// publishes nothing): their published members are those of prev, the data
// last rendered, looked up in next's members (prev's copy for a member no
// longer evaluated). Unknown names the aliases for which prev has nothing
// (keep fired before anything was rendered): what DNS serves is not known,
// so a caller should not render yet. prev may be nil. Pure: next is
// copied, not changed.
func CarryKept(prev *render.Data, next render.Data) (render.Data, []string) {
	var unknown []string
	out := next
	out.Aliases = slices.Clone(next.Aliases)
	for i := range out.Aliases {
		a := &out.Aliases[i]
		if a.Fallback != FallbackKeep {
			continue
		}
		var was *render.Alias
		if prev != nil {
			was = prev.Alias(a.Name)
		}
		if was == nil {
			unknown = append(unknown, a.Name)
			continue
		}
		a.Members = slices.Clone(a.Members)
		a.Published = []render.Member{}
		for _, p := range was.Published {
			k := slices.IndexFunc(a.Members, func(m render.Member) bool { return m.Host == p.Host })
			if k < 0 {
				a.Published = append(a.Published, p)
				continue
			}
			a.Members[k].Published = true
			a.Published = append(a.Published, a.Members[k])
		}
	}
	return out, unknown
}
