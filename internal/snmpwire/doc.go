// Package snmpwire is a minimal SNMP wire toolkit shared by the lbd poller,
// its push listener and the lbclient agent: a BER reader and writer for the
// few structures SNMP needs, one parser for SNMP messages (message.go:
// ParseV2c, ParseV3, ParseScopedPDU, ParsePDU, NextVarBind), a writer for
// SNMPv3 messages (write.go: BeginV3, EndV3), and the SNMPv3 User-based
// Security Model primitives.
//
// It implements only what a GET of one scalar and an SNMPv2c notification
// need, from:
//
//   - RFC 3416 (SNMPv2 protocol operations: PDU layout, varbind exception
//     values, SNMPv2-Trap and InformRequest) and the BER subset of X.690
//     used by RFC 3417; RFC 1901 (the SNMPv2c community message);
//   - RFC 3412 (SNMPv3 message header: msgID, msgMaxSize, msgFlags,
//     msgSecurityModel; ScopedPDU);
//   - RFC 3414 (USM: password to key, key localization, HMAC-MD5-96 and
//     HMAC-SHA-96, the usmStats report counters, the 150 s time window);
//   - RFC 7860 (HMAC-SHA-2 authentication: SHA-224/256/384/512 with
//     128/192/256/384-bit MACs);
//   - RFC 3826 (AES-128 in CFB-128 mode for USM, IV = boots ‖ time ‖ salt),
//     and for AES-192/256 the key extension of draft-blumenthal-aes-usm-04
//     (Kul ‖ H(Kul) ‖ …), which is what net-snmp's "AES-256" uses.
//
// The reader never panics on malformed input: every function reports
// ok=false, or one of the static errors ErrMalformed, ErrVersion, ...,
// instead. The writer produces minimal (DER-style) length
// encodings, which every SNMP stack decodes. Nothing here does I/O.
package snmpwire
