// Package lbd is the load-balancing daemon: configuration (TOML), the SNMP
// poller, host selection (a pure function, select.go), the daemon loop and its
// HTTP endpoints (heartbeat, health).
//
// The decision core is pure: Select takes the members' polled loads and the
// addresses DNS currently publishes and returns what to publish; the DNS diff
// is dnsupdate.Diff; the master/slave role is heartbeat.Follower. Only
// Daemon.Run owns tickers, sockets and goroutines.
package lbd
