package snmpwire

import (
	"errors"
	"strconv"
	"strings"
)

// ValidOID reports whether v is a well-formed OID content: 1..128
// sub-identifiers in minimal form, each fitting in 32 bits, the last byte
// terminating.
func ValidOID(v []byte) bool {
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
	for len(v) > 0 {
		var x uint64
		x, v = NextSub(v)
		if x > 0xffffffff+80 { // the first one encodes 40*X+Y
			return false
		}
	}
	return true
}

// NextSub decodes the next sub-identifier of an encoded OID and returns
// the remaining content.
func NextSub(v []byte) (uint64, []byte) {
	var x uint64
	for i, c := range v {
		x = x<<7 | uint64(c&0x7f)
		if c&0x80 == 0 {
			return x, v[i+1:]
		}
	}
	return x, nil
}

// CompareOID compares two valid encoded OIDs in numeric (MIB) order. The
// first encoded sub-identifier (40*X+Y) orders like the pair (X, Y).
func CompareOID(a, b []byte) int {
	for len(a) > 0 && len(b) > 0 {
		x, ra := NextSub(a)
		y, rb := NextSub(b)
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

// EncodeOID returns the BER content of a dotted OID such as
// ".1.3.6.1.4.1.96.255.1" (the leading dot is optional).
func EncodeOID(s string) ([]byte, error) {
	parts := strings.Split(strings.TrimPrefix(s, "."), ".")
	if len(parts) < 2 || len(parts) > 128 {
		return nil, errors.New("snmpwire: OID needs 2..128 sub-identifiers: " + s)
	}
	subs := make([]uint64, len(parts))
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return nil, errors.New("snmpwire: bad OID " + s)
		}
		subs[i] = n
	}
	if subs[0] > 2 || subs[0] < 2 && subs[1] > 39 {
		return nil, errors.New("snmpwire: bad OID " + s)
	}
	out := appendSub(nil, subs[0]*40+subs[1])
	for _, x := range subs[2:] {
		out = appendSub(out, x)
	}
	return out, nil
}

func appendSub(b []byte, x uint64) []byte {
	var tmp [10]byte
	i := len(tmp) - 1
	tmp[i] = byte(x & 0x7f)
	for x >>= 7; x > 0; x >>= 7 {
		i--
		tmp[i] = byte(x&0x7f) | 0x80
	}
	return append(b, tmp[i:]...)
}

// FormatOID renders encoded OID content in dotted form with a leading dot;
// invalid content gives "(invalid OID)".
func FormatOID(v []byte) string {
	if !ValidOID(v) {
		return "(invalid OID)"
	}
	first, v := NextSub(v)
	var b strings.Builder
	x, y := first/40, first%40
	if x > 2 {
		x, y = 2, first-80
	}
	b.WriteByte('.')
	b.WriteString(strconv.FormatUint(x, 10))
	b.WriteByte('.')
	b.WriteString(strconv.FormatUint(y, 10))
	for len(v) > 0 {
		var s uint64
		s, v = NextSub(v)
		b.WriteByte('.')
		b.WriteString(strconv.FormatUint(s, 10))
	}
	return b.String()
}
