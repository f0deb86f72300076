// Package dnsserver is an authoritative DNS server for a few small zones
// that accepts TSIG-signed dynamic updates, as written by nsupdate or by
// lbd's own RFC 2136 client, and keeps every acknowledged change across
// crashes. It is built on github.com/miekg/dns for the wire format; the
// sockets, TSIG handling and zone logic are its own.
//
// Protocol references:
//
//   - RFC 1034 §4.3.2 / RFC 1035: authoritative answers (AA set) for the
//     configured zones, REFUSED for names outside them. A name with a
//     CNAME is answered with the CNAME, followed within the zone (at most
//     8 links). No wildcards, no delegations below the apex (an NS RRset
//     below the apex is plain data), no additional-section processing.
//   - RFC 2308 §2: NXDOMAIN and NODATA carry the SOA in the authority
//     section, its TTL capped by the SOA MINIMUM; empty non-terminals are
//     NODATA.
//   - RFC 6891: EDNS(0). The client's UDP payload size is honoured (512
//     without OPT, at most 4096, which is also what we advertise); version
//     other than 0 gets BADVERS. RFC 2181 §9 / RFC 1035 §4.2.1: an answer
//     that does not fit is truncated with TC set, and the client retries
//     over TCP (RFC 1035 §4.2.2, RFC 7766; see Limits below).
//   - RFC 2136: UPDATE. §3.1 the zone section must name one of our zones
//     (NOTAUTH otherwise). The request must carry a valid TSIG (RFC 8945)
//     from a key listed in the zone's UpdateKeys: unsigned or another key →
//     REFUSED. §3.2 prerequisites (yxrrset value-independent and
//     value-dependent, nxrrset, yxdomain, nxdomain) and §3.4 the update
//     section (add, delete RRset, delete all RRsets at a name, delete one
//     RR; SOA only replaced by a larger serial, apex SOA/NS never removed,
//     CNAME and other data never coexist) run atomically under the zone's
//     writer lock. §3.6 the SOA serial is advanced on every change (see
//     Serials below) unless the update set a larger one itself; an update
//     that changes nothing does not change the serial. §3.8 the reply is
//     signed with the request's key.
//   - RFC 8945: TSIG with hmac-md5, hmac-sha1, hmac-sha224, hmac-sha256,
//     hmac-sha384, hmac-sha512 (internal/tsig's provider, shared with
//     dnsupdate: the library's lacks md5).
//     §5.2 an unknown key gets NOTAUTH/BADKEY, a wrong MAC NOTAUTH/BADSIG
//     (both with an unsigned TSIG, §5.3.2), a time outside the fudge
//     NOTAUTH/BADTIME (signed, our time in Other Data). Only full-length
//     MACs are accepted.
//   - RFC 1996: NOTIFY is sent to every configured secondary after each
//     change and once at start (3 tries, 1 s timeout each; changes during a
//     round are coalesced).
//   - RFC 5936 (AXFR, TCP only) and RFC 1995 (IXFR, from the in-memory
//     history of the last 256 changes, which survives restarts through the
//     journal's last 64 compacted records plus the uncompacted ones; the
//     AXFR form is sent when the client's serial is not in it; over UDP
//     only the SOA is sent). Allowed from a secondary's IP address or with
//     a valid TSIG key listed in the zone's TransferKeys, REFUSED otherwise
//     (an UpdateKeys entry is not a transfer key; RFC 5936 §6 leaves the
//     policy to the server). Signed transfers sign every message (RFC 8945
//     §5.3.1).
//
// Serials. SOA serials are compared and incremented with RFC 1982 §3
// serial number arithmetic (32 bits, so 2^32-1 is followed by 0), never
// with a plain <; the IXFR history and the journal are keyed by serial
// equality and by the journal's own sequence number, and a journal record
// whose serial does not increase is refused as corrupt. The serial is
// derived from Config.SerialClock (time.Now by default):
//
//   - a zone created from the configuration — on the first start, or
//     after its data directory was lost — starts at the current Unix time
//     in seconds modulo 2^32 (the plain Unix time until 2106), not at 1;
//   - a change sets the serial to that time when it is greater (RFC 1982
//     §3.2) than the current serial, and to the current serial + 1
//     otherwise. A clock behind the stored serial therefore never moves it
//     backwards, and a zone loaded from a snapshot and journal with a
//     serial behind the clock (e.g. one written by a version that counted
//     from 1) jumps forward to the clock at its next change.
//
// Each serial is thus greater than the one before, at most 2^31-1 ahead
// (a distance of 2^31, undefined in RFC 1982 §3.2, is never produced), so
// a secondary acts on our NOTIFY (RFC 1996 §4.7) and transfers (RFC 1995
// §2, RFC 5936) even after the data directory was recreated: it would
// otherwise keep answering with the lost zone, "up to date". Limit: the
// serial runs ahead of the clock while changes come faster than one per
// second; a data directory lost then is recreated below the old serial
// until the clock has caught up with it, i.e. for about as many seconds as
// the serial was ahead.
//
// Durability. Each accepted change is appended to the zone's journal as
// one record (length, CRC-32C, payload = the IXFR difference sequence) and
// fsynced before the NOERROR reply is sent and before the change becomes
// visible to queries. A zone is its snapshot (which records the sequence
// number of the last change it includes) plus the journal records with a
// higher sequence number. Loading stops at the first incomplete or
// corrupt record — a torn write that was never acknowledged — and cuts
// the file there. Compaction writes the snapshot to a temporary file,
// fsyncs it, renames it over the old one and fsyncs the directory, then
// rewrites the journal the same way without the covered records (keeping
// the last 64 for IXFR). Every crash point leaves either the old or the
// new snapshot with either the old or the new journal, and each of these
// combinations loads to the same zone. DataDir is flock'ed so that two
// servers never share it. See store.go for the byte layout.
//
// Limits (docs/design.md, "Embedded DNS server limits"). The TCP accept
// loop and the UDP read loop never end while the server runs: an error
// that is not a timeout (EMFILE, ENFILE, ECONNABORTED, ...) is retried
// with backoff, 5 ms doubling to 1 s, and Server.Healthy reports it for
// as long as it persists. TCP connections are capped in total
// (Config.TCPMax, 128) and per source address (TCPPerSource, 16, below
// the total; IPv6 per /64): a connection over its source's cap is closed
// at once, and one arriving at the global cap replaces the connection idle
// for the longest time (RFC 7766 §6.2.3). A connection without a complete
// message for TCPIdleTimeout (10 s) is closed. UDP responses are rate
// limited per source prefix (Config.RRL: /24 or /56, 100 responses/s,
// burst 200, every 2nd dropped response sent truncated so that a real
// client retries over TCP); TCP and requests with a valid TSIG are not
// limited.
//
// The package never logs: errors are returned wrapped, and Config.Log
// receives diagnostics from background work (NOTIFY, compaction, a
// recovered panic while handling a request, an accept or read error
// starting and ending).
package dnsserver
