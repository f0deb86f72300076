// Package registry is lbd's side of member self-registration
// (docs/operations.md, "Self-registration"; the wire format is package
// internal/register): it checks each signed registration against the
// configuration and the alias's secret, keeps the accepted ones until
// their TTL passes without renewal, counts the refused ones, and persists
// the set in [lbd] state_dir (registrations.json) so that a restart does
// not drop the members until they renew.
//
// A registration is accepted when its alias is configured with
// members_from = "register" and has a secret, its MAC verifies, its time
// is within MaxSkew of lbd's clock and newer than the last accepted one of
// the same alias and host (no replay), its TTL is from MinTTL to MaxTTL,
// its host is a valid name, and the request came from one of the addresses
// it registers (or it names none: then the source address is registered).
// The daemon adds each alias's registered hosts to its members for the
// cycle (config.Compiled.WithMembers) and polls them at the registered
// addresses, as it polls static members.
package registry
