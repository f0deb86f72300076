// Package faults is the fault matrix (issue 12, item 8) as a test suite:
// real named, lbd master and slave processes, simulated members (package
// lbclient/sim, the code bin/lbsim runs, in the test process where a case
// changes loads, and the lbsim binary for the farm with dead and garbage
// members), and faults injected from the test: a stopped server, a zone
// that refuses lbd's key, a delaying proxy, a blackholed server, kill -9,
// a cut heartbeat, an invalid configuration on SIGHUP, a full disk and
// exhausted file descriptors.
//
// Every case prints one line "FAULT <case>: <figure>" on stdout. The
// figures are printed, not asserted; the assertions are correctness
// bounds only (docs/design.md §5–§9 say what must hold). The short form
// (the default, run by `make test`) runs a fast subset; LBD_FAULTS=long
// (`make faults`) runs every case.
package faults
