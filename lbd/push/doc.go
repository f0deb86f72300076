// Package push decides what a push notification from a member's lbclient
// does (docs/design.md §7): a source not allowed is ignored; each alias
// named is made due at once, unless it was pushed less than
// push_min_interval ago (then it is due at the end of that interval: pushes
// are coalesced) or push_max_rate evaluations were made in the current
// second (counted, not acted on: the next polling interval catches up). A
// push is only a hint: lbd polls the members itself.
package push
