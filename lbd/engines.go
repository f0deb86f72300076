package lbd

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/lbd-project/lbd/internal/atomicfile"
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
	if !ok || dir == "" {
		return
	}
	path := filepath.Join(dir, EngineFile)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		d.log.WithField("file", path).Warn("SNMP engines not loaded: ", err)
		return
	}
	defer f.Close()
	es, bad, err := snmp.ReadEngines(f)
	if err != nil {
		d.log.WithField("file", path).Warn("SNMP engines not loaded: ", err)
		return
	}
	n := k.AddEngines(es, time.Now())
	f2 := d.log.WithFields(logrus.Fields{"file": path, "engines": n, "expired": len(es) - n})
	if bad > 0 {
		f2.WithField("bad_lines", bad).Warn("SNMP engines loaded; lines that did not parse were skipped")
		return
	}
	f2.Debug("SNMP engines loaded")
}

// saveEngines writes the poller's engines to state_dir for the next run.
func (d *Daemon) saveEngines() {
	d.mu.Lock()
	cfg, p := d.cfg, d.poller
	d.mu.Unlock()
	k, ok := p.(engineKeeper)
	if !ok || cfg.LBD.StateDir == "" {
		return
	}
	es := k.Engines()
	if len(es) == 0 {
		return
	}
	var b bytes.Buffer
	path := filepath.Join(cfg.LBD.StateDir, EngineFile)
	err := snmp.WriteEngines(&b, es)
	if err == nil {
		err = os.MkdirAll(cfg.LBD.StateDir, 0o750)
	}
	if err == nil {
		err = atomicfile.Write(path, b.Bytes(), 0o640)
	}
	if err != nil {
		d.log.WithField("file", path).Warn("SNMP engines not saved: ", err)
		return
	}
	d.log.WithFields(logrus.Fields{"file": path, "engines": len(es)}).Debug("SNMP engines saved")
}
