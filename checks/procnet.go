package checks

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Kernel socket states as printed in /proc/net/{tcp,tcp6,udp,udp6}.
const (
	sockStateListen = 0x0A // TCP_LISTEN
	sockStateClose  = 0x07 // TCP_CLOSE: a bound, unconnected UDP socket
)

// sockEntry is one row of a /proc/net socket table.
type sockEntry struct {
	Local  netip.AddrPort
	Remote netip.AddrPort
	State  int
}

// parseProcNet parses the text of /proc/net/tcp, tcp6, udp or udp6. The
// first line is the header. Rows that cannot be decoded are returned as an
// error naming the line; the caller decides.
func parseProcNet(text string) ([]sockEntry, error) {
	lines := strings.Split(text, "\n")
	var out []sockEntry
	for i, line := range lines {
		if i == 0 {
			continue // header: "  sl  local_address rem_address   st ..."
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < 4 {
			return out, fmt.Errorf("line %d: too few fields", i+1)
		}
		local, err := parseProcNetAddr(f[1])
		if err != nil {
			return out, fmt.Errorf("line %d: local address: %w", i+1, err)
		}
		remote, err := parseProcNetAddr(f[2])
		if err != nil {
			return out, fmt.Errorf("line %d: remote address: %w", i+1, err)
		}
		st, err := strconv.ParseUint(f[3], 16, 8)
		if err != nil {
			return out, fmt.Errorf("line %d: state %q: %w", i+1, f[3], err)
		}
		out = append(out, sockEntry{Local: local, Remote: remote, State: int(st)})
	}
	return out, nil
}

// parseProcNetAddr decodes "ADDR:PORT" as the kernel prints it: the port
// is big-endian hex; the address is the in-memory bytes of one (IPv4) or
// four (IPv6) 32-bit words, each printed with %08X on a little-endian host,
// so every 4-byte group is byte-reversed.
func parseProcNetAddr(s string) (netip.AddrPort, error) {
	a, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("%q: no port", s)
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil || len(p) != 4 {
		return netip.AddrPort{}, fmt.Errorf("%q: bad port", s)
	}
	if len(a) != 8 && len(a) != 32 {
		return netip.AddrPort{}, fmt.Errorf("%q: bad address length", s)
	}
	raw, err := hex.DecodeString(a)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%q: bad address", s)
	}
	for w := 0; w < len(raw); w += 4 {
		binary.BigEndian.PutUint32(raw[w:], binary.LittleEndian.Uint32(raw[w:]))
	}
	addr, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(addr, uint16(port)), nil
}
