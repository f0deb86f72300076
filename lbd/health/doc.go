// Package health is per-server isolation (docs/design.md §8): every DNS
// server (and view) is read by its own workers; a server that answers none of a cycle's reads
// for [dns] stall is cut off for that cycle, marked down, and then only
// probed (one read, with backoff) until it answers again, so a dead or
// slow server never holds up the others.
package health
