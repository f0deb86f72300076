// Package testenv starts real external components (named, Knot, PowerDNS,
// snmpd, net-snmp tools, HAProxy, Chromium) for tests, on loopback, in
// temporary directories, on free ports.
//
// A test that needs a binary calls Require. When the binary is missing the
// test fails under CI=true and is skipped with a loud message otherwise, so a
// developer without bind9 or snmp installed still sees what was not tested.
//
// HAProxy: StartHAProxy(t, cfg) runs haproxy in the foreground
// (master-worker) with cfg and an admin stats socket, stopped when the test
// ends and its output shown when it fails; a [[render]] test instead takes
// NewHAProxy's paths, port, CheckCmd and ReloadCmd for lbd, which writes
// the configuration, then calls Start. HAProxy.Command sends a stats
// socket command, Stat reads one server's "show stat" row by column name,
// Servers and WaitServers read a backend's servers, Reload re-reads the
// rewritten configuration; CheckHAProxyConfig runs "haproxy -c".
package testenv
