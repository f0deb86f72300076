// Package testenv starts real external components (named, snmpd, net-snmp
// tools) for tests, on loopback, in temporary directories, on free ports.
//
// A test that needs a binary calls Require. When the binary is missing the
// test fails under CI=true and is skipped with a loud message otherwise, so a
// developer without bind9 or snmp installed still sees what was not tested.
package testenv
