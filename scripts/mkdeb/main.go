// Command mkdeb builds the lbd and lbclient Debian packages with dpkg-deb
// (make deb). It builds the binaries, renders the man pages of docs/man
// with go-md2man, stages each package tree (binaries in /usr/sbin, the
// systemd units of etc/, the etc/ examples as conffiles under /etc/lbd/,
// documentation under /usr/share/doc/<package>/) with its maintainer
// scripts (a system user per daemon), and writes <out>/<pkg>_<ver>_<arch>.deb.
//
//	go run ./scripts/mkdeb [-out DIR] [-version V]
//
// The version is -version, else the VERSION file, else derived from git
// describe (see debVersion). Run it from the repository root.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
)

func main() {
	out := flag.String("out", "bin/deb", "directory the .deb files are written to")
	version := flag.String("version", "", "package version (default: VERSION file, else from git describe)")
	arch := flag.String("arch", debArch(runtime.GOARCH), "Debian architecture (GOARCH is derived from it)")
	flag.Parse()
	b, err := newBuilder(".", *out, *version, *arch)
	if err == nil {
		var files []string
		files, err = b.buildAll()
		for _, f := range files {
			fmt.Println(f)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkdeb:", err)
		os.Exit(1)
	}
}
