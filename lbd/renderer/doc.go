// Package renderer runs lbd's [[render]] targets (package lbd/render) after
// the daemon's cycles: it is an lbd.Observer that hands the latest
// configuration to one goroutine (Run), which takes the daemon's snapshot,
// builds render.Data from it (FromSnapshot, pure) and applies every target.
// Check and reload commands may take seconds, so they never hold up a
// cycle; cycles that end while a round runs are coalesced into one more
// round.
//
// It renders on every instance, master or slave: both poll every member and
// decide the same membership, so a proxy next to a slave follows it too.
// It does not log: every round's results go to a report function (the
// daemon logs, counts and audits them).
package renderer
