// Package lbd is the load-balancing daemon: Daemon.Run owns the tickers,
// sockets and goroutines, serves HTTP (heartbeat, status, health, the admin
// API), beats (master) or watches the master (slave), and runs a cycle when
// aliases are due; Daemon.Cycle wires one cycle and keeps each alias's
// state (schedule, decision, loads, overrides) between cycles.
//
// The parts are packages of their own: the configuration (lbd/config), one
// cycle as a pure plan and an apply step (lbd/cycle), the SNMP manager
// (lbd/snmp), host selection (lbd/choice), leases (lbd/lease), sharding
// across instances (lbd/shard; the daemon's side in sharding.go), DNS server
// health (lbd/health), overrides (lbd/override), the managed names
// (lbd/managed), the admin API (lbd/admin), push admission (lbd/push), the
// status types (lbd/status) and what observes cycles (lbd/metrics,
// lbd/history, lbd/audit, lbd/statuspage). The existing lbd's configuration
// files are read by lbd/legacyconf.
package lbd
