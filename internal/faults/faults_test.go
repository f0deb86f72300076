package faults

import (
	"testing"
)

// A case of the fault matrix; short ones also run in the short form.
type faultCase struct {
	name  string
	short bool
	run   func(t *testing.T)
}

var matrix = []faultCase{
	{"dns-down-and-back", true, dnsDownAndBack},
	{"refused", true, refused},
	{"slow-server", false, slowServer},
	{"one-of-two-dead", true, oneOfTwoDead},
	{"dead-and-garbage-members", false, deadAndGarbageMembers},
	{"master-kill9", false, masterKill9},
	{"heartbeat-partition", false, heartbeatPartition},
	{"sighup-invalid-config", true, sighupInvalidConfig},
	{"embedded-kill9-burst", true, embeddedKill9Burst},
	{"embedded-disk-full", false, embeddedDiskFull},
	{"fd-exhaustion", false, fdExhaustion},
}

// TestFaults runs the fault matrix: the short form by default, every case
// with LBD_FAULTS=long.
func TestFaults(t *testing.T) {
	for _, c := range matrix {
		t.Run(c.name, func(t *testing.T) {
			if !c.short && !longForm() {
				t.Skip("long form only (LBD_FAULTS=long, make faults)")
			}
			c.run(t)
		})
	}
}
