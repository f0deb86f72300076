// Package knotconf writes the configuration of a throwaway Knot DNS
// server (knotd) for the tests and the bench harness: one directory for
// everything (configuration, zone files, journal, timers, control
// socket), loopback only, zones every listed TSIG key may update.
package knotconf
