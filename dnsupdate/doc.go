// Package dnsupdate is the DNS client of lbd: it reads the A/AAAA records an
// alias currently has, computes the minimal change towards the desired set
// (Diff, pure), and applies changes with TSIG-signed dynamic updates.
//
// Protocol references:
//
//   - RFC 2136 (DNS UPDATE). §2.3 the zone section names the zone's SOA;
//     §2.5 the update section: an RR of class ZCLASS adds it, class ANY with
//     TTL 0 and empty RDATA deletes an RRset (§2.5.2), class NONE with TTL 0
//     deletes one RR (§2.5.4). §3 describes the server side: the update
//     section is processed in order and the whole message is atomic, so a
//     change for one name is never half applied. Prerequisites (§2.4, the
//     answer section) fence the writers: the zone's lease must hold the
//     expected value (§2.4.2) or not exist yet (§2.4.3), and a name's
//     ownership record must be the writer's (ApplyFenced, owner.go); when a
//     prerequisite fails the server applies nothing of the message
//     (§3.2.5) and answers NXRRSET / YXRRSET / NXDOMAIN / YXDOMAIN.
//   - RFC 8945 (TSIG). Every UPDATE is signed; a reply only counts as a
//     success when its RCODE is NOERROR and its own TSIG verifies against
//     the request MAC (§5.3). A server that rejects the key or signature
//     answers NOTAUTH with a TSIG error (BADKEY, BADSIG, BADTIME) and an
//     unsigned TSIG record; that error is reported as an *RcodeError.
//   - RFC 1035 §4.2. A UDP message is limited to 512 bytes (without EDNS0)
//     and a reply that does not fit has TC set; such exchanges are repeated
//     over TCP (§4.2.2, two-byte length prefix, 64 KiB maximum). An UPDATE
//     whose signed form exceeds 512 bytes is sent over TCP directly, and a
//     batch that would exceed 64 KiB is split between messages, keeping all
//     records of one name in the same message.
//
// Failures are returned as wrapped errors that name the zone; the package
// never logs. Timeouts, network errors and SERVFAIL are transient and
// retried with exponential backoff; every other RCODE (REFUSED, NOTAUTH,
// NOTZONE, FORMERR, TSIG errors…) is returned at once. Message IDs are
// random.
package dnsupdate
