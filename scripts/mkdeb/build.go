package main

import (
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	md2man "github.com/cpuguy83/go-md2man/v2/md2man"
)

// file is one regular file of a package: its content comes from a file of
// the repository (src) or is given (data).
type file struct {
	dst  string // absolute path in the package
	src  string // repository path, or "" with data
	data []byte
	mode fs.FileMode
}

// pkgDef is one binary package.
type pkgDef struct {
	name, summary, description string
	cmd                        string   // ./cmd/<cmd> built to /usr/sbin/<cmd>
	unit                       string   // etc/<unit>
	conffiles                  []string // etc/<f> installed as /etc/lbd/<f>, mode 0640, group = user
	docs                       []string // repository files copied to /usr/share/doc/<name>/
	examples                   []string // repository files copied to /usr/share/doc/<name>/examples/
	man                        []string // docs/man/<page>.md rendered to /usr/share/man/man<N>/<page>.gz
	user                       string   // system user and group of the daemon
	home                       string   // its state directory (systemd StateDirectory)
}

var packages = []pkgDef{
	{
		name:    "lbd",
		summary: "DNS load balancer: polls member agents over SNMP, publishes the best in DNS",
		description: "lbd keeps DNS load-balanced aliases up to date: it polls the members of each\n" +
			"alias over SNMP (the lbclient agent, or the existing CERN lbclient behind\n" +
			"snmpd), ranks them by the load they report and writes the best as A and AAAA\n" +
			"records with TSIG-signed dynamic updates (RFC 2136), or serves them from its\n" +
			"embedded authoritative server. A master writes DNS; a slave takes over when\n" +
			"the master's heartbeat goes stale.",
		cmd: "lbd", unit: "lbd.service", conffiles: []string{"lbd.toml"},
		docs:     []string{"README.md", "docs/protocol.md", "docs/design.md", "docs/operations.md"},
		examples: []string{"etc/lbd-embedded.toml", "etc/haproxy-backend.tmpl"},
		man:      []string{"lbd.8", "lbd.toml.5"},
		user:     "lbd", home: "/var/lib/lbd",
	},
	{
		name:    "lbclient",
		summary: "DNS load-balancing member agent: per-alias loads over SNMP",
		description: "lbclient runs on every member of a DNS load-balanced alias. It evaluates\n" +
			"the checks and loads of each alias and answers the load over SNMP, either as\n" +
			"a standalone SNMPv3/v2c agent configured in TOML, or behind net-snmp's snmpd\n" +
			"(pass or pass_persist) reading the existing CERN lbclient's configuration\n" +
			"directory unchanged.",
		cmd: "lbclient", unit: "lbclient.service", conffiles: []string{"lbclient.toml"},
		docs:     []string{"README.md", "docs/protocol.md"},
		examples: []string{"etc/snmpd-lbclient.conf"},
		man:      []string{"lbclient.8", "lbclient.toml.5"},
		user:     "lbclient", home: "/var/lib/lbclient",
	},
}

type builder struct {
	root, out, arch      string
	version, upstreamVer string // Debian version and the part before the revision
	revision             string // git revision ("" outside git)
	date                 time.Time
	maintainer           string
}

func newBuilder(root, out, version, arch string) (*builder, error) {
	b := &builder{root: root, out: out, arch: arch}
	b.revision = strings.TrimSpace(b.git("rev-parse", "--short=12", "HEAD"))
	b.date = time.Now().UTC()
	if t := strings.TrimSpace(b.git("log", "-1", "--format=%ct")); t != "" {
		var sec int64
		if _, err := fmt.Sscan(t, &sec); err == nil {
			b.date = time.Unix(sec, 0).UTC()
		}
	}
	if version == "" {
		if v, err := os.ReadFile(filepath.Join(root, "VERSION")); err == nil {
			version = strings.TrimSpace(string(v))
		} else {
			version = debVersion(strings.TrimSpace(b.git("describe", "--tags", "--match", "v[0-9]*", "--always", "--dirty")), b.date)
		}
	}
	if !strings.Contains(version, "-") {
		version += "-1" // a Debian revision: the packaging is not part of a source package
	}
	if !regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]*-[A-Za-z0-9.+~]+$`).MatchString(version) {
		return nil, fmt.Errorf("version %q is not a Debian version (upstream-revision)", version)
	}
	b.version = version
	b.upstreamVer = version[:strings.LastIndex(version, "-")]
	b.maintainer = os.Getenv("DEBMAINTAINER")
	if b.maintainer == "" {
		b.maintainer = strings.TrimSpace(b.git("log", "-1", "--format=%an <%ae>"))
	}
	if b.maintainer == "" || !strings.Contains(b.maintainer, "@") {
		return nil, fmt.Errorf("no maintainer: set DEBMAINTAINER=\"Name <mail>\"")
	}
	return b, nil
}

// debVersion turns git describe output into a Debian upstream version:
// v1.2.3 → 1.2.3; v1.2.3-4-gabcdef → 1.2.3+git4.abcdef; a bare revision
// (no tag) → 0.0~git<date>.<rev>; "-dirty" adds "+dirty".
func debVersion(describe string, date time.Time) string {
	dirty := strings.HasSuffix(describe, "-dirty")
	d := strings.TrimSuffix(describe, "-dirty")
	var v string
	if m := regexp.MustCompile(`^v([0-9][0-9A-Za-z.]*)(?:-([0-9]+)-g([0-9a-f]+))?$`).FindStringSubmatch(d); m != nil {
		v = m[1]
		if m[2] != "" {
			v += "+git" + m[2] + "." + m[3]
		}
	} else {
		rev := d
		if rev == "" {
			rev = "unknown"
		}
		v = "0.0~git" + date.Format("20060102") + "." + rev
	}
	if dirty {
		v += "+dirty"
	}
	return v
}

// debArch maps GOARCH to the Debian architecture name.
func debArch(goarch string) string {
	switch goarch {
	case "386":
		return "i386"
	case "arm":
		return "armhf"
	case "ppc64le":
		return "ppc64el"
	}
	return goarch // amd64, arm64, riscv64, s390x
}

func goArch(arch string) string {
	switch arch {
	case "i386":
		return "386"
	case "armhf":
		return "arm"
	case "ppc64el":
		return "ppc64le"
	}
	return arch
}

func (b *builder) git(args ...string) string {
	cmd := exec.Command("git", args...)
	cmd.Dir = b.root
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return string(out)
}

func (b *builder) buildAll() ([]string, error) {
	if err := os.MkdirAll(b.out, 0o755); err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	var debs []string
	for _, p := range packages {
		deb, err := b.build(p)
		if err != nil {
			return debs, fmt.Errorf("package %s: %w", p.name, err)
		}
		debs = append(debs, deb)
	}
	return debs, nil
}

func (b *builder) build(p pkgDef) (string, error) {
	stage, err := os.MkdirTemp("", "mkdeb-"+p.name+"-")
	if err != nil {
		return "", fmt.Errorf("staging directory: %w", err)
	}
	defer os.RemoveAll(stage)
	files, err := b.files(p, stage)
	if err != nil {
		return "", err
	}
	var size int64
	sums := &bytes.Buffer{}
	sort.Slice(files, func(i, j int) bool { return files[i].dst < files[j].dst })
	for _, f := range files {
		data := f.data
		if f.src != "" {
			if data, err = os.ReadFile(filepath.Join(b.root, f.src)); err != nil {
				return "", fmt.Errorf("read %s: %w", f.src, err)
			}
		}
		dst := filepath.Join(stage, f.dst)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", fmt.Errorf("stage %s: %w", f.dst, err)
		}
		if err := os.WriteFile(dst, data, f.mode); err != nil {
			return "", fmt.Errorf("stage %s: %w", f.dst, err)
		}
		if err := os.Chmod(dst, f.mode); err != nil { // whatever the umask
			return "", fmt.Errorf("stage %s: %w", f.dst, err)
		}
		size += int64(len(data))
		if !strings.HasPrefix(f.dst, "/etc/") { // conffiles have their own checksums
			fmt.Fprintf(sums, "%x  %s\n", md5.Sum(data), strings.TrimPrefix(f.dst, "/"))
		}
	}
	// directories 0755 whatever the umask
	if err := filepath.WalkDir(stage, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			err = os.Chmod(p, 0o755)
		}
		return err
	}); err != nil {
		return "", fmt.Errorf("stage: %w", err)
	}
	control := filepath.Join(stage, "DEBIAN")
	if err := os.MkdirAll(control, 0o755); err != nil {
		return "", fmt.Errorf("stage DEBIAN: %w", err)
	}
	var conf strings.Builder
	for _, c := range p.conffiles {
		conf.WriteString("/etc/lbd/" + c + "\n")
	}
	meta := []file{
		{dst: "control", data: []byte(b.control(p, size)), mode: 0o644},
		{dst: "conffiles", data: []byte(conf.String()), mode: 0o644},
		{dst: "md5sums", data: sums.Bytes(), mode: 0o644},
		{dst: "postinst", data: []byte(postinst(p)), mode: 0o755},
		{dst: "prerm", data: []byte(prerm(p)), mode: 0o755},
		{dst: "postrm", data: []byte(postrm(p)), mode: 0o755},
	}
	for _, f := range meta {
		dst := filepath.Join(control, f.dst)
		if err := os.WriteFile(dst, f.data, f.mode); err != nil {
			return "", fmt.Errorf("stage DEBIAN/%s: %w", f.dst, err)
		}
		if err := os.Chmod(dst, f.mode); err != nil {
			return "", fmt.Errorf("stage DEBIAN/%s: %w", f.dst, err)
		}
	}
	deb := filepath.Join(b.out, fmt.Sprintf("%s_%s_%s.deb", p.name, b.version, b.arch))
	cmd := exec.Command("dpkg-deb", "--root-owner-group", "-Zxz", "--build", stage, deb)
	cmd.Env = append(os.Environ(), fmt.Sprintf("SOURCE_DATE_EPOCH=%d", b.date.Unix()))
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("dpkg-deb: %w: %s", err, out)
	}
	return deb, nil
}

// files lists the package's files; the binary is built into stage.
func (b *builder) files(p pkgDef, stage string) ([]file, error) {
	bin, err := b.goBuild(p.cmd, stage)
	if err != nil {
		return nil, err
	}
	doc := "/usr/share/doc/" + p.name + "/"
	list := []file{
		{dst: "/usr/sbin/" + p.cmd, data: bin, mode: 0o755},
		{dst: "/lib/systemd/system/" + p.unit, src: "etc/" + p.unit, mode: 0o644},
		{dst: doc + "copyright", data: []byte(copyright(p, b.years())), mode: 0o644},
		{dst: doc + "changelog.Debian.gz", data: gz([]byte(b.changelog(p))), mode: 0o644},
	}
	for _, c := range p.conffiles {
		list = append(list, file{dst: "/etc/lbd/" + c, src: "etc/" + c, mode: 0o640})
	}
	// Go links statically by design; lintian only recognises Go binaries
	// through a source package's Build-Depends, which this build has none of.
	list = append(list, file{dst: "/usr/share/lintian/overrides/" + p.name, mode: 0o644,
		data: []byte(fmt.Sprintf("# Go binaries are statically linked by design.\n%s: statically-linked-binary [usr/sbin/%s]\n", p.name, p.cmd))})
	for _, d := range p.docs {
		list = append(list, file{dst: doc + path.Base(d), src: d, mode: 0o644})
	}
	for _, e := range p.examples {
		list = append(list, file{dst: doc + "examples/" + path.Base(e), src: e, mode: 0o644})
	}
	for _, m := range p.man {
		md, err := os.ReadFile(filepath.Join(b.root, "docs/man", m+".md"))
		if err != nil {
			return nil, fmt.Errorf("man page source: %w", err)
		}
		section := m[strings.LastIndex(m, ".")+1:]
		list = append(list, file{dst: "/usr/share/man/man" + section + "/" + m + ".gz", data: gz(md2man.Render(md)), mode: 0o644})
	}
	return list, nil
}

// goBuild builds ./cmd/<name> statically, stripped, with the version.
func (b *builder) goBuild(name, stage string) ([]byte, error) {
	out := filepath.Join(stage, ".bin-"+name)
	const pkg = "github.com/lbd-project/lbd/internal/version"
	ld := fmt.Sprintf("-s -w -X %s.Version=%s -X %s.Revision=%s", pkg, b.upstreamVer, pkg, b.revision)
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags", ld, "-o", out, "./cmd/"+name)
	cmd.Dir = b.root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goArch(b.arch))
	if o, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build %s: %w: %s", name, err, o)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("go build %s: %w", name, err)
	}
	return data, os.Remove(out)
}

func (b *builder) control(p pkgDef, size int64) string {
	var d strings.Builder
	for _, l := range strings.Split(p.description, "\n") {
		if l == "" {
			l = "."
		}
		d.WriteString(" " + l + "\n")
	}
	return fmt.Sprintf(`Package: %s
Version: %s
Architecture: %s
Maintainer: %s
Installed-Size: %d
Depends: adduser
Section: net
Priority: optional
Homepage: https://github.com/lbd-project/lbd
Description: %s
%s`, p.name, b.version, b.arch, b.maintainer, (size+1023)/1024, p.summary, d.String())
}

func (b *builder) changelog(p pkgDef) string {
	rev := b.revision
	if rev == "" {
		rev = "unknown"
	}
	return fmt.Sprintf(`%s (%s) unstable; urgency=medium

  * Built from revision %s of the lbd repository by scripts/mkdeb.

 -- %s  %s
`, p.name, b.version, rev, b.maintainer, b.date.Format("Mon, 02 Jan 2006 15:04:05 -0700"))
}

// years is the span of the repository's commits, e.g. "2025-2026".
func (b *builder) years() string {
	last := b.date.Year()
	first := last
	for _, l := range strings.Fields(b.git("log", "--format=%cd", "--date=format:%Y")) {
		var y int
		if _, err := fmt.Sscan(l, &y); err == nil && y < first {
			first = y
		}
	}
	if first == last {
		return fmt.Sprint(last)
	}
	return fmt.Sprintf("%d-%d", first, last)
}

func copyright(p pkgDef, years string) string {
	return fmt.Sprintf(`%s: the lbd project (https://github.com/lbd-project/lbd).

Copyright %s the lbd project maintainers.

License: the repository does not state a license yet; until it does, the
terms are those of the upstream repository. This file will carry the license
text once one is chosen.
`, p.name, years)
}

// postinst creates the daemon's system user and gives its group read
// access to the configuration, which holds secrets (mode 0640). An
// administrator's dpkg-statoverride is respected. The service is not
// enabled: the example configuration must be edited first.
func postinst(p pkgDef) string {
	var perms strings.Builder
	for _, c := range p.conffiles {
		f := "/etc/lbd/" + c
		fmt.Fprintf(&perms, "\tif ! dpkg-statoverride --list %s >/dev/null 2>&1 && [ -f %s ]; then\n", f, f)
		fmt.Fprintf(&perms, "\t\tchown root:%s %s\n\t\tchmod 0640 %s\n\tfi\n", p.user, f, f)
	}
	return fmt.Sprintf(`#!/bin/sh
set -e
if [ "$1" = "configure" ]; then
	if ! getent passwd %[1]s >/dev/null; then
		adduser --system --group --quiet --home %[2]s --no-create-home %[1]s
	fi
%[3]s	if [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
	fi
fi
exit 0
`, p.user, p.home, perms.String())
}

func prerm(p pkgDef) string {
	return fmt.Sprintf(`#!/bin/sh
set -e
if [ "$1" = "remove" ] && [ -d /run/systemd/system ] && command -v deb-systemd-invoke >/dev/null; then
	deb-systemd-invoke stop %s >/dev/null || true
fi
exit 0
`, p.unit)
}

// postrm removes the state directory on purge. The system user stays, as
// Debian policy §9.2 advises (files it owned may remain).
func postrm(p pkgDef) string {
	return fmt.Sprintf(`#!/bin/sh
set -e
if [ "$1" = "purge" ]; then
	rm -rf %s
fi
if [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
fi
exit 0
`, p.home)
}

// gz compresses as gzip -9n: no name, no time stamp (reproducible).
func gz(data []byte) []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // the level is valid
	w.Write(data)
	w.Close()
	return buf.Bytes()
}
