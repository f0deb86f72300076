package agent

// A minimal BER reader and writer for the handful of SNMP structures the
// responder needs. The reader never panics on short or malformed input: every
// function reports ok=false instead. The writer produces minimal (DER-style)
// length encodings, which every SNMP stack decodes.

const (
	tagInteger     = 0x02
	tagOctetString = 0x04
	tagNull        = 0x05
	tagOID         = 0x06
	tagSequence    = 0x30
	tagCounter32   = 0x41

	tagNoSuchObject   = 0x80
	tagNoSuchInstance = 0x81
	tagEndOfMibView   = 0x82

	pduGet      = 0xa0
	pduGetNext  = 0xa1
	pduResponse = 0xa2
	pduSet      = 0xa3
	pduGetBulk  = 0xa5
	pduReport   = 0xa8
)

// readTLV splits one TLV off b. Only single-byte tags and definite lengths of
// at most 3 length bytes are accepted (an SNMP message over UDP is < 64 KiB).
func readTLV(b []byte) (tag byte, val, rest []byte, ok bool) {
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

// expect reads one TLV that must carry tag.
func expect(b []byte, tag byte) (val, rest []byte, ok bool) {
	t, v, r, ok := readTLV(b)
	if !ok || t != tag {
		return nil, nil, false
	}
	return v, r, true
}

// parseInt decodes a two's-complement INTEGER content of 1..8 bytes.
func parseInt(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 8 {
		return 0, false
	}
	n := int64(int8(v[0]))
	for _, c := range v[1:] {
		n = n<<8 | int64(c)
	}
	return n, true
}

// expectInt reads an INTEGER TLV and checks lo <= value <= hi.
func expectInt(b []byte, lo, hi int64) (n int64, raw, rest []byte, ok bool) {
	v, r, ok := expect(b, tagInteger)
	if !ok {
		return 0, nil, nil, false
	}
	n, ok = parseInt(v)
	if !ok || n < lo || n > hi {
		return 0, nil, nil, false
	}
	return n, v, r, true
}

// validOID reports whether v is a well-formed OID content: 1..128
// sub-identifiers, each fitting in 32 bits, last byte terminating.
func validOID(v []byte) bool {
	if len(v) == 0 || v[len(v)-1]&0x80 != 0 {
		return false
	}
	subs, n := 0, 0
	for _, c := range v {
		if n == 0 && c == 0x80 {
			return false // non-minimal sub-identifier
		}
		n++
		if n > 5 {
			return false
		}
		if c&0x80 == 0 {
			subs++
			n = 0
		}
	}
	if subs > 128 {
		return false
	}
	// every sub-identifier must fit in 32 bits
	for len(v) > 0 {
		var x uint64
		x, v = nextSub(v)
		if x > 0xffffffff+80 { // the first one encodes 40*X+Y
			return false
		}
	}
	return true
}

// nextSub decodes the next sub-identifier of an encoded OID.
func nextSub(v []byte) (uint64, []byte) {
	var x uint64
	for i, c := range v {
		x = x<<7 | uint64(c&0x7f)
		if c&0x80 == 0 {
			return x, v[i+1:]
		}
	}
	return x, nil
}

// compareOID compares two valid encoded OIDs in numeric (MIB) order. The
// first encoded sub-identifier (40*X+Y) orders like the pair (X, Y).
func compareOID(a, b []byte) int {
	for len(a) > 0 && len(b) > 0 {
		x, ra := nextSub(a)
		y, rb := nextSub(b)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		a, b = ra, rb
	}
	switch {
	case len(a) == 0 && len(b) == 0:
		return 0
	case len(a) == 0:
		return -1
	}
	return 1
}

// enc appends BER to b. Constructed values are written with open/close: the
// length is patched when the content is known, shifting the content right
// when a long-form length is needed.
type enc struct{ b []byte }

func (e *enc) appendLen(n int) {
	switch {
	case n < 0x80:
		e.b = append(e.b, byte(n))
	case n < 0x100:
		e.b = append(e.b, 0x81, byte(n))
	case n < 0x10000:
		e.b = append(e.b, 0x82, byte(n>>8), byte(n))
	default:
		e.b = append(e.b, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
}

// open starts a constructed value and returns the offset of its content.
func (e *enc) open(tag byte) int {
	e.b = append(e.b, tag, 0)
	return len(e.b)
}

// close sets the length of the value opened at start and returns how many
// bytes were inserted at start (0 for short lengths).
func (e *enc) close(start int) int {
	n := len(e.b) - start
	if n < 0x80 {
		e.b[start-1] = byte(n)
		return 0
	}
	k := 1
	for x := n >> 8; x > 0; x >>= 8 {
		k++
	}
	for i := 0; i < k; i++ {
		e.b = append(e.b, 0)
	}
	copy(e.b[start+k:], e.b[start:start+n])
	e.b[start-1] = 0x80 | byte(k)
	for i := k - 1; i >= 0; i-- {
		e.b[start+i] = byte(n)
		n >>= 8
	}
	return k
}

// raw writes a primitive TLV.
func (e *enc) raw(tag byte, v []byte) {
	e.b = append(e.b, tag)
	e.appendLen(len(v))
	e.b = append(e.b, v...)
}

// str writes an OCTET STRING from a string without converting it.
func (e *enc) str(s string) {
	e.b = append(e.b, tagOctetString)
	e.appendLen(len(s))
	e.b = append(e.b, s...)
}

// int writes an INTEGER-like value (tag 0x02, 0x41...) in minimal form.
func (e *enc) int(tag byte, v int64) {
	n := 1
	for x := v; x > 127 || x < -128; x >>= 8 {
		n++
	}
	e.b = append(e.b, tag, byte(n))
	for i := n - 1; i >= 0; i-- {
		e.b = append(e.b, byte(v>>(8*uint(i))))
	}
}

// uint writes an unsigned value (Counter32) in minimal two's-complement form.
func (e *enc) uint(tag byte, v uint32) { e.int(tag, int64(v)) }
