// Package e2e holds the end-to-end tests of the whole loop with real
// processes: lbclient agents (built binaries) answering SNMP on 127.0.0.x,
// lbd (built binary) polling them, and a real named receiving the updates.
package e2e
