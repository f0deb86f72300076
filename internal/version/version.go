// Package version is what both binaries print for -version.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version and Revision are set at link time by packaging (-ldflags "-X
// github.com/lbd-project/lbd/internal/version.Version=… -X
// …/internal/version.Revision=…"); empty, the module version and VCS
// revision of the build information are printed.
var Version, Revision string

// String is what -version prints for program: the version, the VCS
// revision and time the binary was built from (runtime/debug build
// information), and the Go release.
func String(program string) string {
	v, rev, when, dirty := Version, Revision, "", false
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
	s := program + " " + v
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
