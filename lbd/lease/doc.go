// Package lease is the zone lease rule of fencing (docs/design.md §9):
// every UPDATE lbd sends to a zone carries the zone's lease as a
// prerequisite, so that the DNS server itself rejects the writes of an
// instance that lost the zone. The lease is a TXT record at
// _lbd-lease.<zone> naming its holder:
//
//	lbd-lease v=1 holder=<instance> epoch=<n> [until=<unix seconds>]
//	lbd-lease v=1 released epoch=<n>
//
// The master holds its leases without expiry; a slave that takes over holds
// them until `until` and renews them while it stays active; a slave that
// sees the master's heartbeat fresh again releases them (hand-back), and the
// master takes a released or expired lease back. Taking a lease is a
// compare-and-swap in the same message as the first write, so of several
// standbys only one wins.
package lease
