// Package lbd is the load-balancing daemon: its configuration (TOML,
// compiled once into a Compiled value), the cycle, and the daemon loop with
// its HTTP endpoints (heartbeat, status, health). The SNMP manager is
// package lbd/snmp; the existing lbd's configuration files are read by
// package lbd/legacyconf.
//
// A cycle is a pure plan followed by an apply step (docs/design.md):
//
//   - Due (plan.go) says which aliases are due at now;
//   - the daemon polls their members (lbd/snmp) and reads what every DNS
//     server and view serves (ReadServed, apply.go);
//   - Decide (plan.go) turns those inputs, the compiled configuration and
//     the role into a Plan: per alias the members' loads, the selection
//     (choice.Select, package lbd/choice), and per view the diff and what
//     to do with it (write, passive, dry run, unread, kept, foreign,
//     fenced);
//   - Apply (apply.go) sends the plan's writes (one batched UPDATE per zone
//     per view, then a read-back) and returns a Report;
//   - Reschedule (plan.go) says when each alias is due next (polling
//     interval, or a backoff after a failure).
//
// Due, Decide, Reschedule and choice.Select are pure functions of their inputs and
// now; only Daemon.Run owns tickers, sockets and goroutines.
package lbd
