package lbd

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
)

// SilentFile, in [lbd] state_dir, keeps the member addresses whose last
// poll failed (with when) from one run of lbd to the next: the first cycle
// after a restart polls them apart from the others (splitSilent), as the
// running daemon did, instead of letting them hold the answering members'
// polls behind their deadlines (docs/design.md §8).
const SilentFile = "silent-members"

// silentFileHeader opens a silent-members file.
const silentFileHeader = "lbd-silent-members 1"

// writeSilent writes one line per address: the address and the Unix time
// (ns) of its failed poll.
func writeSilent(w io.Writer, silent map[netip.Addr]time.Time) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, silentFileHeader)
	for a, t := range silent {
		fmt.Fprintf(bw, "%s %d\n", a, t.UnixNano())
	}
	return bw.Flush()
}

// readSilent reads what writeSilent wrote, keeping the addresses that
// failed within silentMemory of now; a line that does not parse is skipped
// and counted in bad.
func readSilent(r io.Reader, now time.Time) (out map[netip.Addr]time.Time, bad int, err error) {
	sc := bufio.NewScanner(r)
	if !sc.Scan() || sc.Text() != silentFileHeader {
		if err := sc.Err(); err != nil {
			return nil, 0, err
		}
		return nil, 0, fmt.Errorf("not a silent-members file (first line %.40q, want %q)", sc.Text(), silentFileHeader)
	}
	out = map[netip.Addr]time.Time{}
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			bad++
			continue
		}
		a, err1 := netip.ParseAddr(f[0])
		ns, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			bad++
			continue
		}
		if t := time.Unix(0, ns); now.Sub(t) <= silentMemory && !t.After(now.Add(time.Minute)) {
			out[a] = t
		}
	}
	return out, bad, sc.Err()
}

// loadSilent reads state_dir's silent-members file, if any.
func (d *Daemon) loadSilent(dir string) {
	d.readState(dir, SilentFile, "silent members", func(r io.Reader) error {
		silent, bad, err := readSilent(r, time.Now())
		if err != nil {
			return err
		}
		if bad > 0 {
			d.log.WithFields(logrus.Fields{"file": filepath.Join(dir, SilentFile), "bad_lines": bad}).
				Warn("silent members loaded; lines that did not parse were skipped")
		}
		d.mu.Lock()
		d.silent = silent
		d.mu.Unlock()
		return nil
	})
}

// saveSilent writes the silent addresses to state_dir (an empty set gives
// a file that lists none).
func (d *Daemon) saveSilent() {
	d.mu.Lock()
	dir, silent := d.cfg.LBD.StateDir, maps.Clone(d.silent)
	d.mu.Unlock()
	d.writeState(dir, SilentFile, "silent members", func(w io.Writer) error { return writeSilent(w, silent) })
}
