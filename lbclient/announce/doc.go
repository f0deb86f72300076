// Package announce is lbclient's side of member self-registration
// (docs/operations.md, "Self-registration"; the wire format is package
// internal/register): Request builds the signed registrations of this
// member for each alias that has a secret, and Send posts them to one lbd
// and reads its verdicts. The agent (package lbclient) runs them every
// [agent] register_interval against every address of [agent] register.
package announce
