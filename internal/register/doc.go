// Package register is the wire format of member self-registration
// (docs/protocol.md §9.2): lbclient announces itself, per alias, to every
// lbd it is told of, and lbd adds the member to aliases configured with
// members_from = "register".
//
// A request is an HTTP POST of a JSON Request to Path. Each Registration
// names one alias and is signed with that alias's secret: MAC is the
// lower-case hex HMAC-SHA256 (RFC 2104, FIPS 180-4) of Canonical, the
// registration's fields in a fixed text form, so both ends sign the same
// bytes whatever their JSON encoders do. Time is the signer's clock in Unix
// seconds: a receiver refuses a registration whose time is too far from its
// own clock, or not newer than the last one it accepted for the same alias
// and host (a replay).
//
// Secrets are read from a secret file shared by the two ends
// (ParseSecrets): one "alias secret" pair per line.
package register
