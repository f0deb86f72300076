package dnsserver

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/lbd-project/lbd/internal/atomicfile"
	"github.com/miekg/dns"
)

// On-disk format (all integers big-endian), per zone in DataDir:
//
//	<zone>.snap  "LBDSNAP1" | seq u64 | count u32 | count × (len u32 | RR) | crc32c u32
//	<zone>.jnl   "LBDJNL01" | records…
//	record       len u32 | crc32c(payload) u32 | payload
//	payload      seq u64 | ndel u32 | nadd u32 | ndel × (len u32 | RR) | nadd × (len u32 | RR)
//
// RR is the uncompressed wire form (RFC 1035 §3.2.1, RFC 3597 for unknown
// types). In a journal payload the first deleted RR is the SOA before the
// change and the first added RR the SOA after it, as in an IXFR difference
// sequence (RFC 1995 §4). seq numbers every change of the zone, 1, 2, 3…;
// the snapshot carries the seq it includes, and replay skips records with
// seq ≤ that, so a snapshot and any journal (the one before compaction or
// the one after) load to the same zone.

const (
	snapMagic    = "LBDSNAP1"
	jnlMagic     = "LBDJNL01"
	maxRecordLen = 64 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

func fileBase(zone string) string {
	if zone == "." {
		return "root"
	}
	var b strings.Builder
	for _, c := range []byte(strings.TrimSuffix(zone, ".")) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '.', c == '_':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02x", c)
		}
	}
	return b.String()
}

func appendRR(b []byte, rr dns.RR) ([]byte, error) {
	// Packed as the only RR of an uncompressed message: dns.PackRR would
	// write Rdlength into rr, which readers share.
	m := &dns.Msg{Answer: []dns.RR{rr}}
	w, err := m.Pack()
	if err != nil {
		return b, fmt.Errorf("pack %s: %w", rr.Header().Name, err)
	}
	w = w[12:] // header
	b = binary.BigEndian.AppendUint32(b, uint32(len(w)))
	return append(b, w...), nil
}

// rrReader decodes length-prefixed RRs.
type rrReader struct {
	b   []byte
	err error
}

func (r *rrReader) u32() uint32 {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 4 {
		r.err = io.ErrUnexpectedEOF
		return 0
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *rrReader) u64() uint64 {
	hi := uint64(r.u32())
	return hi<<32 | uint64(r.u32())
}

func (r *rrReader) rr() dns.RR {
	n := int(r.u32())
	if r.err != nil {
		return nil
	}
	if n > len(r.b) {
		r.err = io.ErrUnexpectedEOF
		return nil
	}
	rr, off, err := dns.UnpackRR(r.b[:n], 0)
	if err == nil && off != n {
		err = errors.New("trailing bytes after RR")
	}
	if err == nil && rr == nil {
		err = errors.New("empty RR")
	}
	if err != nil {
		r.err = err
		return nil
	}
	r.b = r.b[n:]
	rr.Header().Name = dns.CanonicalName(rr.Header().Name)
	return rr
}

func encodeDelta(d *delta) ([]byte, error) {
	p := binary.BigEndian.AppendUint64(nil, d.seq)
	p = binary.BigEndian.AppendUint32(p, uint32(len(d.del)+1))
	p = binary.BigEndian.AppendUint32(p, uint32(len(d.add)+1))
	var err error
	for _, list := range [][]dns.RR{{d.oldSOA}, d.del, {d.newSOA}, d.add} {
		for _, rr := range list {
			if p, err = appendRR(p, rr); err != nil {
				return nil, err
			}
		}
	}
	rec := binary.BigEndian.AppendUint32(nil, uint32(len(p)))
	rec = binary.BigEndian.AppendUint32(rec, crc32.Checksum(p, crcTable))
	return append(rec, p...), nil
}

func decodeDelta(p []byte) (*delta, error) {
	r := &rrReader{b: p}
	d := &delta{seq: r.u64()}
	ndel, nadd := r.u32(), r.u32()
	if r.err == nil && (ndel == 0 || nadd == 0 || uint64(ndel)+uint64(nadd) > uint64(len(p))) {
		return nil, errors.New("journal record: bad counts")
	}
	var rrs []dns.RR
	for i := uint64(0); r.err == nil && i < uint64(ndel)+uint64(nadd); i++ {
		rrs = append(rrs, r.rr())
	}
	if r.err != nil {
		return nil, fmt.Errorf("journal record: %w", r.err)
	}
	var ok1, ok2 bool
	d.oldSOA, ok1 = rrs[0].(*dns.SOA)
	d.newSOA, ok2 = rrs[ndel].(*dns.SOA)
	if !ok1 || !ok2 {
		return nil, errors.New("journal record: no SOA")
	}
	// Every change increases the serial (RFC 1982 §3.2, serial.go); IXFR
	// chains (RFC 1995 §4) and secondaries depend on it.
	if !serialGreater(d.newSOA.Serial, d.oldSOA.Serial) {
		return nil, fmt.Errorf("journal record: serial %d -> %d is not an increase (RFC 1982)", d.oldSOA.Serial, d.newSOA.Serial)
	}
	d.del, d.add = rrs[1:ndel], rrs[ndel+1:]
	return d, nil
}

// frame is one raw journal record: its seq and bytes (header included).
type frame struct {
	seq uint64
	raw []byte
}

// readFrames parses a journal image; it returns the valid frames and the
// length of the valid prefix. Parsing stops at the first record that is
// incomplete or fails its checksum: that is a torn write of a record that
// was never acknowledged.
func readFrames(b []byte) ([]frame, int, error) {
	if len(b) < len(jnlMagic) || string(b[:len(jnlMagic)]) != jnlMagic {
		return nil, 0, errors.New("journal: bad header")
	}
	off := len(jnlMagic)
	var frames []frame
	for {
		if len(b)-off < 8 {
			return frames, off, nil
		}
		n := int(binary.BigEndian.Uint32(b[off:]))
		sum := binary.BigEndian.Uint32(b[off+4:])
		if n < 8 || n > maxRecordLen || len(b)-off-8 < n {
			return frames, off, nil
		}
		p := b[off+8 : off+8+n]
		if crc32.Checksum(p, crcTable) != sum {
			return frames, off, nil
		}
		frames = append(frames, frame{seq: binary.BigEndian.Uint64(p), raw: b[off : off+8+n]})
		off += 8 + n
	}
}

func encodeSnapshot(seq uint64, rrs []dns.RR) ([]byte, error) {
	b := append([]byte(snapMagic), make([]byte, 12)...)
	binary.BigEndian.PutUint64(b[8:], seq)
	binary.BigEndian.PutUint32(b[16:], uint32(len(rrs)))
	var err error
	for _, rr := range rrs {
		if b, err = appendRR(b, rr); err != nil {
			return nil, err
		}
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, crcTable)), nil
}

func decodeSnapshot(b []byte) (uint64, []dns.RR, error) {
	if len(b) < len(snapMagic)+16 || string(b[:len(snapMagic)]) != snapMagic {
		return 0, nil, errors.New("snapshot: bad header")
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, crcTable) != sum {
		return 0, nil, errors.New("snapshot: checksum mismatch")
	}
	r := &rrReader{b: body[len(snapMagic):]}
	seq := r.u64()
	n := r.u32()
	if uint64(n) > uint64(len(body)) {
		return 0, nil, errors.New("snapshot: bad count")
	}
	rrs := make([]dns.RR, 0, n)
	for i := uint32(0); r.err == nil && i < n; i++ {
		rrs = append(rrs, r.rr())
	}
	if r.err != nil {
		return 0, nil, fmt.Errorf("snapshot: %w", r.err)
	}
	if len(r.b) != 0 {
		return 0, nil, errors.New("snapshot: trailing bytes")
	}
	return seq, rrs, nil
}

func (z *zone) snapPath() string { return filepath.Join(z.dir, z.base+".snap") }
func (z *zone) jnlPath() string  { return filepath.Join(z.dir, z.base+".jnl") }

// newZoneData is the content of a zone created from the configuration,
// its serial derived from the time (serial.go): a zone whose data
// directory was lost must not restart below the serial its secondaries
// hold, or they would keep the old data (RFC 1996 §4.7, RFC 1995 §2).
func newZoneData(cz compiledZone) []dns.RR {
	ns := cz.ns
	if len(ns) == 0 {
		ns = []string{"ns1." + cz.name}
		if cz.name == "." {
			ns = []string{"ns1."}
		}
	}
	hm := "hostmaster." + cz.name
	if cz.name == "." {
		hm = "hostmaster."
	}
	rrs := []dns.RR{&dns.SOA{
		Hdr:     dns.RR_Header{Name: cz.name, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 300},
		Ns:      ns[0],
		Mbox:    hm,
		Serial:  timeSerial(cz.now()),
		Refresh: 3600, Retry: 600, Expire: 86400, Minttl: 60,
	}}
	for _, n := range ns {
		rrs = append(rrs, &dns.NS{Hdr: dns.RR_Header{Name: cz.name, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: 300}, Ns: n})
	}
	return rrs
}

// loadZone opens (or creates) the zone's files: snapshot + journal replay.
func loadZone(dir string, cz compiledZone) (*zone, error) {
	z := &zone{name: cz.name, cfg: cz, dir: dir, base: fileBase(cz.name)}
	os.Remove(z.snapPath() + ".tmp")
	os.Remove(z.jnlPath() + ".tmp")

	snap, err := os.ReadFile(z.snapPath())
	if errors.Is(err, os.ErrNotExist) {
		if _, jerr := os.Stat(z.jnlPath()); jerr == nil {
			return nil, fmt.Errorf("zone %s: journal %s without snapshot", cz.name, z.jnlPath())
		}
		if snap, err = encodeSnapshot(0, newZoneData(cz)); err != nil {
			return nil, fmt.Errorf("zone %s: %w", cz.name, err)
		}
		if err := atomicfile.Write(z.snapPath(), snap, 0o644); err != nil {
			return nil, fmt.Errorf("zone %s: create snapshot: %w", cz.name, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("zone %s: %w", cz.name, err)
	}
	seq, rrs, err := decodeSnapshot(snap)
	if err != nil {
		return nil, fmt.Errorf("zone %s: %s: %w", cz.name, z.snapPath(), err)
	}
	z.nodes = map[string]node{}
	for _, rr := range rrs {
		h := rr.Header()
		if !dns.IsSubDomain(z.name, h.Name) {
			return nil, fmt.Errorf("zone %s: snapshot has out-of-zone name %s", cz.name, h.Name)
		}
		n := z.nodes[h.Name]
		if n == nil {
			n = node{}
			z.nodes[h.Name] = n
		}
		n[h.Rrtype] = append(n[h.Rrtype], rr)
	}
	soas := z.nodes[z.name][dns.TypeSOA]
	if len(soas) != 1 {
		return nil, fmt.Errorf("zone %s: snapshot has %d SOA records at the apex", cz.name, len(soas))
	}
	z.soa = soas[0].(*dns.SOA)
	z.seq, z.snapSeq = seq, seq

	jb, err := os.ReadFile(z.jnlPath())
	if errors.Is(err, os.ErrNotExist) {
		jb = []byte(jnlMagic)
		if err := atomicfile.Write(z.jnlPath(), jb, 0o644); err != nil {
			return nil, fmt.Errorf("zone %s: create journal: %w", cz.name, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("zone %s: %w", cz.name, err)
	}
	frames, valid, err := readFrames(jb)
	if err != nil {
		return nil, fmt.Errorf("zone %s: %s: %w", cz.name, z.jnlPath(), err)
	}
	for _, fr := range frames {
		d, err := decodeDelta(fr.raw[8:])
		if err != nil {
			return nil, fmt.Errorf("zone %s: %s: seq %d: %w", cz.name, z.jnlPath(), fr.seq, err)
		}
		if d.seq <= z.seq {
			z.addHistory(d)
			continue
		}
		if d.seq != z.seq+1 || d.oldSOA.Serial != z.soa.Serial {
			return nil, fmt.Errorf("zone %s: %s: record seq %d (serial %d) does not follow seq %d (serial %d)",
				cz.name, z.jnlPath(), d.seq, d.oldSOA.Serial, z.seq, z.soa.Serial)
		}
		applyDelta(z.nodes, d)
		z.soa, z.seq = d.newSOA, d.seq
		z.jnlPending++
		z.addHistory(d)
	}
	z.below = countBelow(z.nodes, z.name)
	f, err := os.OpenFile(z.jnlPath(), os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("zone %s: %w", cz.name, err)
	}
	if valid < len(jb) {
		// Drop the torn tail so that new records follow valid ones.
		if err = f.Truncate(int64(valid)); err == nil {
			err = f.Sync()
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("zone %s: truncate torn journal tail: %w", cz.name, err)
		}
	}
	if _, err := f.Seek(int64(valid), io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("zone %s: %w", cz.name, err)
	}
	z.jnl = f
	return z, nil
}

// addHistory appends d to the in-memory IXFR history (caller holds the
// write locks or owns z).
func (z *zone) addHistory(d *delta) {
	h := append(z.hist, d)
	if len(h) > historyMemory {
		h = append([]*delta(nil), h[len(h)-historyMemory:]...)
	}
	z.hist = h
}

// appendJournal writes one record and fsyncs it (caller holds updMu). On
// failure the file is cut back to its previous length so that a later
// record does not follow a partial one.
func (z *zone) appendJournal(rec []byte) error {
	off, err := z.jnl.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	if _, err = z.jnl.Write(rec); err == nil {
		err = z.jnl.Sync()
	}
	if err != nil {
		// Cut the unacknowledged record off. If that fails too, a torn
		// record may stay in the file and replay would stop there, losing
		// every later record: refuse further updates (SERVFAIL) instead.
		if terr := z.jnl.Truncate(off); terr != nil {
			z.jnl.Close()
			z.jnl = nil
			return fmt.Errorf("zone %s: journal: %w (and cutting the torn record failed: %v; updates refused)", z.name, err, terr)
		}
		if _, serr := z.jnl.Seek(off, io.SeekStart); serr != nil {
			z.jnl.Close()
			z.jnl = nil
			return fmt.Errorf("zone %s: journal: %w (and seeking back failed: %v; updates refused)", z.name, err, serr)
		}
		return fmt.Errorf("zone %s: journal: %w", z.name, err)
	}
	z.jnlPending++
	return nil
}

// compact writes a snapshot of the current zone and rewrites the journal
// without the records it covers (keeping the last historyDisk of them for
// IXFR). Every step leaves a loadable pair of files:
//
//  1. new snapshot written to .snap.tmp, fsynced, renamed, directory
//     fsynced: before the rename the old snapshot + the full journal load;
//     after it the new snapshot loads and replay skips the covered records;
//  2. the journal is rewritten the same way (.jnl.tmp, fsync, rename,
//     fsync dir): old or new journal, both load with the new snapshot.
//
// Updates are blocked only while the zone is copied and while the journal
// is rewritten, not while the snapshot is written.
func (z *zone) compact() error {
	z.updMu.Lock()
	if z.jnlPending == 0 {
		z.updMu.Unlock()
		return nil
	}
	nodes, soa, seq := z.nodes, z.soa, z.seq
	copied := make(map[string]node, len(nodes))
	for k, v := range nodes {
		copied[k] = v
	}
	z.updMu.Unlock()

	snap, err := encodeSnapshot(seq, allRRs(copied, soa))
	if err != nil {
		return fmt.Errorf("zone %s: snapshot: %w", z.name, err)
	}
	if err := atomicfile.Write(z.snapPath(), snap, 0o644); err != nil {
		return fmt.Errorf("zone %s: snapshot: %w", z.name, err)
	}

	z.updMu.Lock()
	defer z.updMu.Unlock()
	z.snapSeq = seq
	jb, err := os.ReadFile(z.jnlPath())
	if err != nil {
		return fmt.Errorf("zone %s: compact journal: %w", z.name, err)
	}
	frames, _, err := readFrames(jb)
	if err != nil {
		return fmt.Errorf("zone %s: compact journal: %w", z.name, err)
	}
	var covered, pending []frame
	for _, fr := range frames {
		if fr.seq <= seq {
			covered = append(covered, fr)
		} else {
			pending = append(pending, fr)
		}
	}
	if len(covered) > historyDisk {
		covered = covered[len(covered)-historyDisk:]
	}
	var out bytes.Buffer
	out.WriteString(jnlMagic)
	for _, fr := range append(covered, pending...) {
		out.Write(fr.raw)
	}
	if err := atomicfile.Write(z.jnlPath(), out.Bytes(), 0o644); err != nil {
		return fmt.Errorf("zone %s: compact journal: %w", z.name, err)
	}
	f, err := os.OpenFile(z.jnlPath(), os.O_WRONLY, 0)
	if err == nil {
		_, err = f.Seek(0, io.SeekEnd)
	}
	if err != nil {
		// The old handle points at the replaced file: appending there
		// would lose records. Refuse further updates by closing it.
		z.jnl.Close()
		z.jnl = nil
		if f != nil {
			f.Close()
		}
		return fmt.Errorf("zone %s: reopen journal: %w", z.name, err)
	}
	z.jnl.Close()
	z.jnl = f
	z.jnlPending = len(pending)
	return nil
}
