package render

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Data is what a template is executed with.
type Data struct {
	// Aliases are every configured alias, sorted by name.
	Aliases []Alias
	// Generated is when the data was built. A template that prints it
	// changes at every cycle, so the file is rewritten, checked and the
	// proxy reloaded after every cycle: it defeats change detection.
	Generated time.Time
}

// Alias is one alias and its members.
type Alias struct {
	// Name is the alias's DNS name (lower case, no trailing dot); Zone its
	// zone.
	Name string
	Zone string
	// Published are the members the alias's last decision publishes in
	// DNS (on a passive slave: what it would publish; while the fallback
	// keep leaves DNS as it was, the members published before, see
	// renderer.CarryKept). Usable are the
	// members with a usable load and an address, published or not.
	// Members are every member as last evaluated. All are sorted by host.
	Published []Member
	Usable    []Member
	Members   []Member
	// Fallback names the fallback rule that decided, when no member was
	// usable ("" otherwise).
	Fallback string
}

// Member is one member of an alias.
type Member struct {
	// Host is the member as configured (a host name or an address).
	Host string
	// Addrs are its addresses, IPv4 first, sorted; IPv4 and IPv6 split
	// them by family.
	Addrs []string
	IPv4  []string
	IPv6  []string
	// Load is the load last polled (status.LoadMeaning says what it
	// means). A template that prints it changes whenever a load does.
	Load int
	// Usable: a usable load and at least one address. Published: in the
	// alias's DNS records.
	Usable    bool
	Published bool
}

// Addr is the member's first address ("" when it has none): the IPv4 one
// when it has both.
func (m Member) Addr() string {
	if len(m.Addrs) == 0 {
		return ""
	}
	return m.Addrs[0]
}

// Alias returns the alias named name (compared case-insensitively, a
// trailing dot ignored), or nil. In a template: {{with .Alias "www.example.org"}}.
func (d Data) Alias(name string) *Alias {
	name = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
	for i := range d.Aliases {
		if d.Aliases[i].Name == name {
			return &d.Aliases[i]
		}
	}
	return nil
}

// Sample is example data for checking a template at configuration load:
// each alias of members (name → members) with every member usable and
// published, at documentation addresses.
func Sample(members map[string][]string) Data {
	var d Data
	n := 0
	for name, ms := range members {
		a := Alias{Name: name, Published: []Member{}, Usable: []Member{}, Members: []Member{}}
		for _, h := range ms {
			n++
			v4 := netip.AddrFrom4([4]byte{192, 0, 2, byte(n%254 + 1)}).String()
			v6 := netip.MustParseAddr("2001:db8::1").Next().String()
			m := Member{Host: h, Addrs: []string{v4, v6}, IPv4: []string{v4}, IPv6: []string{v6}, Load: 1, Usable: true, Published: true}
			a.Published, a.Usable, a.Members = append(a.Published, m), append(a.Usable, m), append(a.Members, m)
		}
		d.Aliases = append(d.Aliases, a)
	}
	slices.SortFunc(d.Aliases, func(x, y Alias) int { return cmp.Compare(x.Name, y.Name) })
	return d
}
