package checks

import "sort"

// NamesForCode lists the checks and load sources whose failure reports
// -code (docs/protocol.md §5.3), sorted; none for a code no entry has.
func NamesForCode(code int) []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range registry {
		for _, c := range []int{e.Code, e.LegacyCode} {
			if c == code && c != 0 && !seen[e.Name] {
				seen[e.Name] = true
				out = append(out, e.Name)
			}
		}
	}
	sort.Strings(out)
	return out
}
