package snmpwire

// BER tags used by SNMP (X.690 universal tags, RFC 2578 application tags,
// RFC 3416 context tags).
const (
	TagInteger     = 0x02
	TagOctetString = 0x04
	TagNull        = 0x05
	TagOID         = 0x06
	TagSequence    = 0x30

	TagIPAddress = 0x40
	TagCounter32 = 0x41
	TagGauge32   = 0x42
	TagTimeTicks = 0x43
	TagOpaque    = 0x44
	TagCounter64 = 0x46

	// Varbind exception values (RFC 3416 §3).
	TagNoSuchObject   = 0x80
	TagNoSuchInstance = 0x81
	TagEndOfMibView   = 0x82

	// PDU types (RFC 3416 §3).
	PDUGetRequest     = 0xa0
	PDUGetNextRequest = 0xa1
	PDUResponse       = 0xa2
	PDUSetRequest     = 0xa3
	PDUGetBulkRequest = 0xa5
	PDUInformRequest  = 0xa6
	PDUTrapV2         = 0xa7
	PDUReport         = 0xa8
)

// SNMP message versions (the msgVersion INTEGER).
const (
	Version1  = 0
	Version2c = 1
	Version3  = 3
)

// SNMPv3 msgFlags bits (RFC 3412 §6.4).
const (
	FlagAuth       = 0x01
	FlagPriv       = 0x02
	FlagReportable = 0x04
)

// SecurityModelUSM is msgSecurityModel for the User-based Security Model.
const SecurityModelUSM = 3

// ReadTLV splits one TLV off b. Only single-byte tags and definite lengths
// of at most 3 length bytes are accepted (an SNMP message over UDP is
// < 64 KiB). val and rest alias b (val's capacity extends into rest, so
// never append to val).
func ReadTLV(b []byte) (tag byte, val, rest []byte, ok bool) {
	if len(b) < 2 {
		return 0, nil, nil, false
	}
	tag = b[0]
	if tag&0x1f == 0x1f {
		return 0, nil, nil, false
	}
	l, i := int(b[1]), 2
	if l&0x80 != 0 {
		n := l & 0x7f
		if n == 0 || n > 3 || len(b) < 2+n {
			return 0, nil, nil, false
		}
		l = 0
		for _, c := range b[2 : 2+n] {
			l = l<<8 | int(c)
		}
		i += n
	}
	if l > len(b)-i {
		return 0, nil, nil, false
	}
	return tag, b[i : i+l], b[i+l:], true
}

// Offset returns the offset of sub within whole, where sub was obtained by
// slicing whole (as every value ReadTLV returns is): cap(whole)-cap(sub).
// It is how a receiver finds msgAuthenticationParameters to zero it for the
// HMAC check.
func Offset(whole, sub []byte) int { return cap(whole) - cap(sub) }

// Expect reads one TLV that must carry tag.
func Expect(b []byte, tag byte) (val, rest []byte, ok bool) {
	t, v, r, ok := ReadTLV(b)
	if !ok || t != tag {
		return nil, nil, false
	}
	return v, r, true
}

// ParseInt decodes a two's-complement INTEGER content of 1..8 bytes.
func ParseInt(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 8 {
		return 0, false
	}
	n := int64(int8(v[0]))
	for _, c := range v[1:] {
		n = n<<8 | int64(c)
	}
	return n, true
}

// ParseUint32 decodes the content of an unsigned 32-bit application type
// (Counter32, Gauge32, TimeTicks): 1..5 bytes, non-negative, < 2^32.
func ParseUint32(v []byte) (uint32, bool) {
	if len(v) == 0 || len(v) > 5 || v[0]&0x80 != 0 {
		return 0, false
	}
	if len(v) == 5 && v[0] != 0 {
		return 0, false
	}
	var n uint64
	for _, c := range v {
		n = n<<8 | uint64(c)
	}
	return uint32(n), true
}

// ExpectInt reads an INTEGER TLV and checks lo <= value <= hi. raw is the
// content as sent (to echo an ID byte for byte).
func ExpectInt(b []byte, lo, hi int64) (n int64, raw, rest []byte, ok bool) {
	v, r, ok := Expect(b, TagInteger)
	if !ok {
		return 0, nil, nil, false
	}
	n, ok = ParseInt(v)
	if !ok || n < lo || n > hi {
		return 0, nil, nil, false
	}
	return n, v, r, true
}

// Encoder appends BER to B. Constructed values are written with Open and
// Close: the length is patched when the content is known, shifting the
// content right when a long-form length is needed. Reusing B (B = B[:0])
// makes encoding allocation-free once B has grown.
type Encoder struct{ B []byte }

// AppendLen appends a definite length in minimal form.
func (e *Encoder) AppendLen(n int) {
	switch {
	case n < 0x80:
		e.B = append(e.B, byte(n))
	case n < 0x100:
		e.B = append(e.B, 0x81, byte(n))
	case n < 0x10000:
		e.B = append(e.B, 0x82, byte(n>>8), byte(n))
	default:
		e.B = append(e.B, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
}

// Open starts a constructed value (or an OCTET STRING wrapping encoded
// content) and returns the offset of its content, for Close.
func (e *Encoder) Open(tag byte) int {
	e.B = append(e.B, tag, 0)
	return len(e.B)
}

// Close sets the length of the value opened at start and returns how many
// bytes were inserted at start (0 for short lengths), so that callers
// holding offsets into the content can adjust them.
func (e *Encoder) Close(start int) int {
	n := len(e.B) - start
	if n < 0x80 {
		e.B[start-1] = byte(n)
		return 0
	}
	k := 1
	for x := n >> 8; x > 0; x >>= 8 {
		k++
	}
	for i := 0; i < k; i++ {
		e.B = append(e.B, 0)
	}
	copy(e.B[start+k:], e.B[start:start+n])
	e.B[start-1] = 0x80 | byte(k)
	for i := k - 1; i >= 0; i-- {
		e.B[start+i] = byte(n)
		n >>= 8
	}
	return k
}

// Raw writes a primitive TLV with content v.
func (e *Encoder) Raw(tag byte, v []byte) {
	e.B = append(e.B, tag)
	e.AppendLen(len(v))
	e.B = append(e.B, v...)
}

// String writes an OCTET STRING from a string without converting it.
func (e *Encoder) String(s string) {
	e.B = append(e.B, TagOctetString)
	e.AppendLen(len(s))
	e.B = append(e.B, s...)
}

// Int writes an INTEGER-like value (tag 0x02, 0x41, ...) in minimal
// two's-complement form.
func (e *Encoder) Int(tag byte, v int64) {
	n := 1
	for x := v; x > 127 || x < -128; x >>= 8 {
		n++
	}
	e.B = append(e.B, tag, byte(n))
	for i := n - 1; i >= 0; i-- {
		e.B = append(e.B, byte(v>>(8*uint(i))))
	}
}

// Uint writes an unsigned 32-bit value (Counter32, Gauge32) in minimal
// two's-complement form (a leading zero byte when the high bit is set).
func (e *Encoder) Uint(tag byte, v uint32) { e.Int(tag, int64(v)) }

// Null writes a NULL.
func (e *Encoder) Null() { e.B = append(e.B, TagNull, 0) }
