package main

import (
	"flag"
	"fmt"
	"os"
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
	s := "lbd " + v
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

// versionFlag is -version: a boolean flag that prints versionString and
// exits when it is parsed (flag.Parse in main), so main needs no change.
type versionFlag struct{}

func (versionFlag) String() string   { return "false" }
func (versionFlag) IsBoolFlag() bool { return true }
func (versionFlag) Set(s string) error {
	if s != "true" {
		return nil
	}
	fmt.Println(versionString())
	os.Exit(0)
	return nil
}

func init() { flag.Var(versionFlag{}, "version", "print the version and exit") }
