// Package legacyconf reads the existing lbd's configuration (docs/protocol.md §6):
// the text format (any path not ending in ".yaml") and the YAML format. Both are read into one model and
// converted to the TOML configuration; `lbd -convert-legacy FILE` prints it.
//
// Differences from the existing lbd, on purpose (docs/protocol.md §10):
//   - D7: text lines are split on any run of blanks, CRLF is accepted, a
//     short line is reported instead of crashing, and parameters never carry
//     over from one alias to the next.
//   - D11: an alias with a missing or 0 best_hosts, an unknown or empty
//     metric, or the rejected "cmsweb" metric is reported as an error and
//     left out (its DNS is left unchanged), instead of being emptied or
//     re-polled every tick; a missing polling_interval gets the documented
//     default (5 minutes) with a warning.
//   - D12: dns_manager may be "[v6]:port".
package legacyconf
