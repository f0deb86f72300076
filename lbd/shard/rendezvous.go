package shard

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"strings"
)

// weight is the rendezvous weight of instance for zone: the first 8 bytes
// of SHA-256(zone NUL instance). The zone is compared as DNS names are
// (lower case, no trailing dot), so "Lb.Test." and "lb.test" agree.
func weight(zone, instance string) uint64 {
	h := sha256.Sum256([]byte(normZone(zone) + "\x00" + instance))
	return binary.BigEndian.Uint64(h[:8])
}

func normZone(z string) string { return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(z)), ".") }

// Owner is the instance of live that owns zone: the highest weight wins,
// a tie goes to the smaller name. It is "" when live is empty. Every
// instance that sees the same live set computes the same owner, and
// removing an instance from the set moves only the zones it owned.
func Owner(zone string, live []string) string {
	best, bestW := "", uint64(0)
	for _, inst := range live {
		w := weight(zone, inst)
		if best == "" || w > bestW || w == bestW && inst < best {
			best, bestW = inst, w
		}
	}
	return best
}

// Assign maps every zone to its owner among live (Owner).
func Assign(zones, live []string) map[string]string {
	out := make(map[string]string, len(zones))
	for _, z := range zones {
		out[z] = Owner(z, live)
	}
	return out
}

// Owned lists, sorted, the zones of an assignment that instance owns.
func Owned(assign map[string]string, instance string) []string {
	var out []string
	for z, o := range assign {
		if o == instance {
			out = append(out, z)
		}
	}
	slices.Sort(out)
	return out
}

// Moved lists, sorted, the zones whose owner differs between two
// assignments (a zone in only one of them counts as moved).
func Moved(before, after map[string]string) []string {
	var out []string
	for z, o := range after {
		if prev, ok := before[z]; !ok || prev != o {
			out = append(out, z)
		}
	}
	for z := range before {
		if _, ok := after[z]; !ok {
			out = append(out, z)
		}
	}
	slices.Sort(out)
	return out
}
