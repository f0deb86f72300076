package snmp

import (
	"strconv"
	"strings"
)

// Value is an agent's reply to the load OID: an INTEGER for every alias of the
// node, or an OCTET STRING "alias=N,alias2=M".
type Value struct {
	IsString bool
	Int      int
	Str      string
}

// LoadFor returns the load the value gives alias, and false when the value
// says nothing about it. Strings are split on "," then on the first "=",
// names compared exactly (case-insensitively, trailing dot ignored) and the
// value read as a signed integer (docs/protocol.md §3.5 and D1). An entry with a
// malformed number is skipped; the alias then counts as absent unless a
// later well-formed entry names it.
func (v Value) LoadFor(alias string) (int, bool) {
	if !v.IsString {
		return v.Int, true
	}
	want := strings.TrimSuffix(alias, ".")
	s := v.Str
	for len(s) > 0 {
		var item string
		if i := strings.IndexByte(s, ','); i >= 0 {
			item, s = s[:i], s[i+1:]
		} else {
			item, s = s, ""
		}
		eq := strings.IndexByte(item, '=')
		if eq < 0 {
			continue
		}
		name := strings.TrimSuffix(strings.TrimSpace(item[:eq]), ".")
		if !strings.EqualFold(name, want) {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(item[eq+1:]))
		if err != nil {
			continue
		}
		return n, true
	}
	return 0, false
}
