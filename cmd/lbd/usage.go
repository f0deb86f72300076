package main

import (
	"flag"
	"fmt"
)

// usage is lbd -h: what the command does, two examples, then the flags.
func usage() {
	out := flag.CommandLine.Output()
	fmt.Fprint(out, `lbd keeps DNS aliases pointing at the best members of a pool. It polls
every member's lbclient agent over SNMP, picks the best hosts of each alias
and writes the alias's A/AAAA records to its DNS servers with TSIG-signed
dynamic updates (RFC 2136), owning the records it writes and fencing every
write with the zone's lease. A master writes; a slave takes over while the
master's heartbeat is stale. SIGHUP reloads the configuration (and reopens
-log-file and the audit log); SIGTERM stops.

Examples:
  lbd -config /etc/lbd/lbd.toml                        run the daemon
  lbd -config /etc/lbd/lbd.toml -dry-run               show the changes one cycle would make
  lbd -config /etc/lbd/lbd.toml -drain www.lb.example.org/node1 -for 2h -reason "kernel upgrade"

Flags:
`)
	flag.PrintDefaults()
}
