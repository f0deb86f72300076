// Package heartbeat decides whether an lbd instance may write DNS.
//
// The master publishes a heartbeat line in the legacy format of COMPAT.md §9
// ("<host> : <unix seconds> : I am alive"), over its own HTTP listener and,
// optionally, as a file for a web server and legacy slaves. A slave fetches
// it and writes DNS only while it is stale.
//
// Follower is the pure role state machine: it takes observations and `now` as
// values; Publisher and Fetch are the I/O edges.
package heartbeat
