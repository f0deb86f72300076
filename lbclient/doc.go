// Package lbclient is the member-node agent: it loads the TOML
// configuration (etc/lbclient.toml documents every key), evaluates each
// alias's checks and loads in the background, composes the answer
// (COMPAT.md §5.7) and serves it over SNMP with package agent.
//
// Mappings. Every [[alias]] that has checks or loads of its own is its own
// mapping, evaluated with checks.Env{Alias: name}. Aliases without either
// share the [default] mapping, evaluated once per round with Env.Alias "".
// Evaluation follows COMPAT.md §5.2: checks in order, the first failing one
// gives -Code and stops; then loads in order, summed, a failing one gives
// -Code and stops; a sum of 0 is replaced by the built-in default load
// (Config.DefaultLoad).
//
// Output. A configuration with exactly one alias answers an INTEGER (that
// alias's metric); otherwise an OCTET STRING "alias1=N1,alias2=N2" with every
// alias, in configuration order, no spaces (COMPAT.md §3.4 item 6). Zero
// aliases is rejected by Validate.
//
// Codes of our own (not used by COMPAT.md, whose codes are 1..19):
// NotReady (-100) is answered for every alias until the first evaluation
// round has finished; CheckHung (-101) is a check or load that did not
// return within its timeout plus a grace period (it is abandoned, the round
// goes on).
//
// Listening. One socket is bound per configured listen address, so the
// reply leaves from the address the request was sent to. A wildcard
// address (0.0.0.0, ::) works on single-address hosts, but on a multi-homed
// host the kernel picks the reply's source address, which a poller using a
// connected socket (the existing CERN lbd) ignores: list the node's
// addresses explicitly there.
package lbclient
