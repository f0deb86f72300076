package snmp

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Engine is what the poller knows of one agent's SNMPv3 engine (RFC 3414
// §2.3: its ID, boots and time), so that a reload or a restart of lbd does
// not discover every agent again: with 100,000 members that is 100,000
// more exchanges before the first GET. The keys localized to the ID are
// not kept; they are derived again on first use. An entry that is wrong by
// now (the agent restarted: another boots, or another engine ID) costs
// what it costs any running lbd: the agent's Report resynchronises it and
// the GET is sent again (RFC 3414 §3.2 steps 3 and 7).
type Engine struct {
	Addr      netip.AddrPort
	ID        []byte
	Boots     uint32
	Time      uint32    // the engine's time …
	At        time.Time // … at this local time
	Confirmed time.Time // the last authenticated reply (or discovery)
}

// Engines returns the engines the poller knows, sorted by address (none
// for SNMPv2c).
func (p *Poller) Engines() []Engine {
	c := p.client
	c.emu.Lock()
	out := make([]Engine, 0, len(c.engines))
	for ap, e := range c.engines {
		out = append(out, Engine{Addr: ap, ID: slices.Clone(e.id), Boots: e.boots, Time: e.time, At: e.at, Confirmed: e.confirmed})
	}
	c.emu.Unlock()
	slices.SortFunc(out, func(a, b Engine) int { return a.Addr.Compare(b.Addr) })
	return out
}

// AddEngines gives the poller engines known from elsewhere (the poller of
// the configuration before a reload, or the state file of the last run):
// those confirmed within the engine cache's lifetime (10 minutes) of now
// and not already known. It returns how many it took; an SNMPv2c poller
// takes none.
func (p *Poller) AddEngines(es []Engine, now time.Time) int {
	c := p.client
	if !c.cfg.v3 {
		return 0
	}
	c.emu.Lock()
	defer c.emu.Unlock()
	n := 0
	for _, e := range es {
		if _, ok := c.engines[e.Addr]; ok || len(e.ID) == 0 || now.Sub(e.Confirmed) > engineTTL || e.Confirmed.After(now.Add(time.Minute)) {
			continue
		}
		c.engines[e.Addr] = &engine{id: slices.Clone(e.ID), boots: e.Boots, time: e.Time, at: e.At, confirmed: e.Confirmed}
		n++
	}
	return n
}

// engineFileHeader opens an engine file (WriteEngines).
const engineFileHeader = "lbd-snmp-engines 1"

// WriteEngines writes es as text: a header line, then one line per engine
// — address, engine ID in hex, boots, time, and the Unix times (ns) of At
// and Confirmed.
func WriteEngines(w io.Writer, es []Engine) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, engineFileHeader)
	for _, e := range es {
		fmt.Fprintf(bw, "%s %x %d %d %d %d\n", e.Addr, e.ID, e.Boots, e.Time, e.At.UnixNano(), e.Confirmed.UnixNano())
	}
	return bw.Flush()
}

// ReadEngines reads what WriteEngines wrote. A file with another header
// is an error; a line that does not parse is skipped and counted in bad.
func ReadEngines(r io.Reader) (es []Engine, bad int, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 4096)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return nil, 0, err
		}
		return nil, 0, fmt.Errorf("empty engine file, want the line %q", engineFileHeader)
	}
	if sc.Text() != engineFileHeader {
		return nil, 0, fmt.Errorf("not an engine file: first line %.40q, want %q", sc.Text(), engineFileHeader)
	}
	for sc.Scan() {
		if e, ok := parseEngineLine(sc.Text()); ok {
			es = append(es, e)
		} else {
			bad++
		}
	}
	return es, bad, sc.Err()
}

func parseEngineLine(line string) (Engine, bool) {
	f := strings.Fields(line)
	if len(f) != 6 {
		return Engine{}, false
	}
	ap, err := netip.ParseAddrPort(f[0])
	if err != nil {
		return Engine{}, false
	}
	id, err := hex.DecodeString(f[1])
	// RFC 3411 §5: an snmpEngineID is 5 to 32 octets.
	if err != nil || len(id) < 5 || len(id) > 32 {
		return Engine{}, false
	}
	var n [4]uint64
	for i, s := range f[2:] {
		bits := 32
		if i >= 2 {
			bits = 63
		}
		v, err := strconv.ParseUint(s, 10, bits)
		if err != nil {
			return Engine{}, false
		}
		n[i] = v
	}
	return Engine{Addr: ap, ID: id, Boots: uint32(n[0]), Time: uint32(n[1]),
		At: time.Unix(0, int64(n[2])), Confirmed: time.Unix(0, int64(n[3]))}, true
}
