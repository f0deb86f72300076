// Package shard is what several lbd masters need to share the zones of a
// site (docs/design.md §9.7): the assignment of zones to live instances by
// rendezvous hashing (Owner, Assign), the liveness of the peers from their
// heartbeats (Peers, a pure state machine fed by the daemon's fetches),
// and the lease-renewal step (PlanLeases, pure, over the lease rule of
// package lease). Nothing here does I/O or logs.
package shard
