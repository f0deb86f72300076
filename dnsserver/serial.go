package dnsserver

import "time"

// SOA serial numbers are compared and incremented with RFC 1982 serial
// number arithmetic, SERIAL_BITS = 32 (RFC 1035 §3.3.13). The rule the
// server follows (also in the package documentation):
//
//   - A zone created from the configuration (a first start, or a data
//     directory that was lost) starts at the time-derived serial: the
//     current Unix time in seconds, modulo 2^32 (the plain Unix time until
//     2106), never at a fixed value such as 1.
//   - A change sets the serial to the time-derived value when that is
//     greater (RFC 1982 §3.2) than the current serial, and to the current
//     serial + 1 (RFC 1982 §3.1, so 2^32-1 is followed by 0) otherwise:
//     when the clock is behind the stored serial the serial keeps counting
//     up from the stored one, and a zone loaded from a snapshot and journal
//     whose serial is behind the clock jumps forward to the clock at its
//     next change.
//
// Every serial written is therefore greater (RFC 1982 §3.2) than the one
// before: a jump to the clock is taken only when the clock is greater,
// i.e. less than 2^31 ahead, and +1 is always an increase. A distance of
// exactly 2^31, whose comparison RFC 1982 §3.2 leaves undefined, is never
// produced. Secondaries rely on this: they act on a NOTIFY (RFC 1996 §4.7)
// and transfer (RFC 1995 §2, RFC 5936 §6) only when the primary's serial is
// greater than theirs.

// serialGreater reports a > b in RFC 1982 §3.2 serial number arithmetic.
// Serials exactly 2^31 apart are not comparable: neither is greater.
func serialGreater(a, b uint32) bool { return a != b && int32(a-b) > 0 }

// timeSerial is the time-derived serial: Unix seconds modulo 2^32.
func timeSerial(t time.Time) uint32 { return uint32(t.Unix()) }

// nextSerial is the serial after cur for a change made at now: the
// time-derived serial when it is greater than cur, else cur + 1 (RFC 1982
// §3.1 addition, wrapping from 2^32-1 to 0). The result is always greater
// than cur.
func nextSerial(cur uint32, now time.Time) uint32 {
	if ts := timeSerial(now); serialGreater(ts, cur) {
		return ts
	}
	return cur + 1
}
