package lbd

import (
	"io"
	"path/filepath"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/lbd-project/lbd/lbd/snmp"
)

// EngineFile, in [lbd] state_dir, keeps the SNMPv3 engines of the members
// (snmp.Engine) from one run of lbd to the next, so that a restart does not
// discover every agent again (docs/design.md §8).
const EngineFile = "snmp-engines"

// engineKeeper is the part of *snmp.Poller that keeps engines.
type engineKeeper interface {
	Engines() []snmp.Engine
	AddEngines(es []snmp.Engine, now time.Time) int
}

// loadEngines gives the poller the engines saved by the last run.
func (d *Daemon) loadEngines(dir string, p Poller) {
	k, ok := p.(engineKeeper)
	if !ok {
		return
	}
	d.readState(dir, EngineFile, "SNMP engines", func(r io.Reader) error {
		es, bad, err := snmp.ReadEngines(r)
		if err != nil {
			return err
		}
		n := k.AddEngines(es, time.Now())
		f := d.log.WithFields(logrus.Fields{"file": filepath.Join(dir, EngineFile), "engines": n, "expired": len(es) - n})
		if bad > 0 {
			f.WithField("bad_lines", bad).Warn("SNMP engines loaded; lines that did not parse were skipped")
		} else {
			f.Debug("SNMP engines loaded")
		}
		return nil
	})
}

// saveEngines writes the poller's engines to state_dir for the next run.
func (d *Daemon) saveEngines() {
	d.mu.Lock()
	cfg, p := d.cfg, d.poller
	d.mu.Unlock()
	k, ok := p.(engineKeeper)
	if !ok {
		return
	}
	es := k.Engines()
	if len(es) == 0 {
		return
	}
	d.writeState(cfg.LBD.StateDir, EngineFile, "SNMP engines", func(w io.Writer) error { return snmp.WriteEngines(w, es) })
}
