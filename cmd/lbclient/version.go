package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// version and revision are set at link time by packaging (-ldflags
// "-X main.version=… -X main.revision=…"); empty, the module version and
// VCS revision of the build information are printed.
var version, revision string

// versionString is what -version prints: the version, the VCS revision
// and time the binary was built from (runtime/debug build information),
// and the Go release.
func versionString() string {
	v, rev, when, dirty := version, revision, "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if rev == "" {
					rev = s.Value
				}
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	s := "lbclient " + v
	if rev != "" {
		if dirty {
			rev += "-dirty"
		}
		s += " (revision " + rev
		if when != "" {
			s += ", " + when
		}
		s += ")"
	}
	return fmt.Sprintf("%s %s %s/%s", s, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
