// Package sim is a member-farm simulator: N lbclient agents in one process,
// each on its own loopback address (127.x.y.z; Linux routes all of 127/8 to
// lo), answering SNMP v2c and v3 with the real agent responder
// (lbclient/agent), with loads that move over time (a bounded random walk)
// and injected faults: silent, slow and garbage-answering members.
//
// It exists to test and measure lbd at scale (cmd/lbsim, make bench) and
// never sends traffic itself: it only answers.
package sim
