// Package heartbeat decides whether an lbd instance may write DNS.
//
// The master publishes a heartbeat line in the legacy format of
// docs/protocol.md §9 ("<host> : <unix seconds> : I am alive"), over its own
// HTTP listener and, optionally, as a file for a web server and legacy
// slaves. With a shared secret it also publishes an authenticated beat
// (instance, time, counter, HMAC-SHA256; Beat.Sign, PathV2). A slave
// fetches one of them and writes DNS only while it is stale.
//
// Follower is the pure role state machine and Verifier the pure judge of
// authenticated beats: both take observations and `now` as values;
// Publisher, Fetch and FetchSigned are the I/O edges.
package heartbeat
