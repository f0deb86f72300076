// Package cycle is one lbd cycle as a pure plan followed by an apply step
// (docs/design.md §8):
//
//   - Due (plan.go) says which aliases are due at now;
//   - the daemon polls their members (lbd/snmp), and Reads.Served,
//     Reads.Leases and ReadRemoved (apply.go) read what every DNS server
//     and view serves, the zone leases and the records of removed names;
//     a ZoneCache (zonecache.go) lets a zone whose SOA serial is unchanged
//     be read with that one query (docs/design.md §9.8), and FreshZones
//     (fresh.go) picks the zones a master has never seen, written without
//     a read under prerequisites that they are empty; Unconfirmed and
//     Merge read and decide again those that were not (§9.9);
//   - Decide (plan.go) turns those inputs, the compiled configuration and
//     the role into a Plan: per alias the members' loads, the selection
//     (choice.Select, package lbd/choice), and per view the diff and what
//     to do with it (write, passive, dry run, unread, kept, foreign,
//     fenced), with the leases to take or hand back and the removals;
//   - Apply (apply.go) sends the plan's writes (one batched UPDATE per zone
//     per view, then a read-back) and returns a Report;
//   - Reschedule (plan.go) says when each alias is due next (polling
//     interval, or a backoff after a failure; OutcomeOf classifies it).
//
// Due, FreshZones, Decide, Unconfirmed, Merge, Reschedule and OutcomeOf are pure functions of their
// arguments and now; the Read functions and Apply do the I/O and nothing
// else. Neither logs: the daemon (package lbd) logs and keeps the state.
package cycle
