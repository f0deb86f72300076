// Package choice is host selection, pure and deterministic (docs/design.md
// §5, docs/protocol.md §7): MemberFor derives a member's load for an alias
// from the replies of its addresses, and Select picks the hosts to publish
// from the members' loads and what DNS serves now (best_hosts, hysteresis,
// sticky ties, the fallback when no member is usable).
package choice
