// Package tsig holds the TSIG keys (RFC 8945, Secret Key Transaction
// Authentication for DNS) shared by the lbd DNS UPDATE client (dnsupdate)
// and the built-in authoritative server (dnsserver): algorithm names, key
// compilation and a dns.TsigProvider.
//
// The algorithms are those of RFC 8945 §6: hmac-md5.sig-alg.reg.int.,
// hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384 and hmac-sha512, with
// full-length MACs (truncated MACs, §5.2.2.1, are not accepted). The
// package has its own provider because github.com/miekg/dns no longer
// accepts hmac-md5 in its own, and existing deployments use it
// (docs/protocol.md §8).
//
// Time checks (the fudge window) and the message digest layout are the
// library's (dns.TsigGenerateWithProvider, dns.TsigVerifyWithProvider);
// this package only computes and compares the HMACs.
package tsig
