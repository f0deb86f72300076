package checks

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestNologin(t *testing.T) {
	cases := []struct {
		name  string
		files []string
		alias string
		ok    bool
	}{
		{"none default", nil, "", true},
		{"none alias", nil, "a.cern.ch", true},
		{"nologin default", []string{"/etc/nologin"}, "", false},
		{"nologin alias", []string{"/etc/nologin"}, "a.cern.ch", false},
		{"iss default", []string{"/etc/iss.nologin"}, "", false},
		{"iss ignored for alias", []string{"/etc/iss.nologin"}, "a.cern.ch", true},
		{"iss.alias for alias", []string{"/etc/iss.nologin.a.cern.ch"}, "a.cern.ch", false},
		{"iss.other alias", []string{"/etc/iss.nologin.b.cern.ch"}, "a.cern.ch", true},
		{"iss.alias ignored for default", []string{"/etc/iss.nologin.a.cern.ch"}, "", true},
	}
	c := build(t, "nologin", "")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"/etc/hostname": "x\n"}
			for _, f := range tc.files {
				files[f] = ""
			}
			r := run(t, c, Env{Root: tree(t, files), Alias: tc.alias})
			want(t, r, tc.ok, false, CodeNologin, "")
		})
	}
	if _, err := New(Spec{Type: "nologin", Data: "x"}); err == nil {
		t.Error("nologin with an argument: want an error")
	}
	// /etc/nologin → /run/nologin: counts by its target, as test -e and
	// pam_nologin see it.
	root := tree(t, map[string]string{"/etc/hostname": "x\n"})
	if err := os.MkdirAll(filepath.Join(root, "run"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../run/nologin", filepath.Join(root, "etc/nologin")); err != nil {
		t.Fatal(err)
	}
	want(t, run(t, c, Env{Root: root}), true, false, CodeNologin, "")
	if err := os.WriteFile(filepath.Join(root, "run/nologin"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	want(t, run(t, c, Env{Root: root}), false, false, CodeNologin, "")
}

func TestTmpFullVerdict(t *testing.T) {
	saved := statfs
	t.Cleanup(func() { statfs = saved })
	cases := []struct {
		name                         string
		blocks, bavail, files, ffree uint64
		err                          error
		ok, hard                     bool
	}{
		{"empty", 1000, 1000, 1000, 1000, nil, true, false},
		{"89.9% blocks", 1000, 101, 1000, 1000, nil, true, false},
		{"90% blocks", 1000, 100, 1000, 1000, nil, false, false},
		{"full blocks", 1000, 0, 1000, 1000, nil, false, false},
		{"94.9% inodes", 1000, 1000, 1000, 51, nil, true, false},
		{"95% inodes", 1000, 1000, 1000, 50, nil, false, false},
		{"zero inodes", 1000, 1000, 0, 0, nil, false, false},
		{"statfs error", 0, 0, 0, 0, errors.New("boom"), false, true},
	}
	c := build(t, "tmpfull", "")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var gotPath string
			statfs = func(p string, st *syscall.Statfs_t) error {
				gotPath = p
				if tc.err != nil {
					return tc.err
				}
				st.Blocks, st.Bavail, st.Files, st.Ffree = tc.blocks, tc.bavail, tc.files, tc.ffree
				return nil
			}
			r := run(t, c, Env{Root: "/fixture"})
			want(t, r, tc.ok, tc.hard, CodeTmpFull, "")
			if gotPath != "/fixture/tmp" {
				t.Errorf("statfs path %q, want /fixture/tmp", gotPath)
			}
		})
	}
}

func TestTmpFullReal(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := run(t, build(t, "tmpfull", ""), Env{Root: root})
	if r.Hard || r.Code != CodeTmpFull || r.Reason == "" {
		t.Errorf("real statfs: %+v", r)
	}
	r = run(t, build(t, "tmpfull", ""), Env{Root: filepath.Join(root, "missing")})
	want(t, r, false, true, CodeTmpFull, "statfs")
}

func TestNoops(t *testing.T) {
	for _, name := range []string{"xsessions", "swapping", "swaping", "XSessions"} {
		r := run(t, build(t, name, ""), Env{Root: "/nonexistent"})
		want(t, r, true, false, CodeNoop, "no-op")
	}
}

func TestObsolete(t *testing.T) {
	for _, tc := range []struct {
		load bool
		name string
		code int
	}{{false, "lemon", 12}, {false, "lemonload", 12}, {false, "collectdload", 15}, {true, "lemon", 12}} {
		var c Check
		var err error
		if tc.load {
			c, err = NewLoad(Spec{Type: tc.name, Data: "[1234]"})
		} else {
			c, err = New(Spec{Type: tc.name, Data: "[1234] > 0"})
		}
		if err != nil {
			t.Fatalf("%s: accepted keyword rejected: %v", tc.name, err)
		}
		want(t, run(t, c, Env{}), false, true, tc.code, "obsolete/unsupported")
	}
}

func TestAFS(t *testing.T) {
	root := tree(t, map[string]string{"/afs/cern.ch/user/x/.keep": "", "/custom/file": ""})
	want(t, run(t, build(t, "afs", ""), Env{Root: root}), true, false, CodeAFS, "exists")
	want(t, run(t, build(t, "afs", "/custom"), Env{Root: root}), true, false, CodeAFS, "")
	want(t, run(t, build(t, "afs", "/missing/dir"), Env{Root: root}), false, false, CodeAFS, "does not exist")
	want(t, run(t, build(t, "afs", ""), Env{Root: t.TempDir()}), false, false, CodeAFS, "does not exist")
	// ENOTDIR is not "does not exist": other stat errors pass.
	want(t, run(t, build(t, "afs", "/custom/file/sub"), Env{Root: root}), true, false, CodeAFS, "")
	if _, err := New(Spec{Type: "afs", Data: "relative/path"}); err == nil {
		t.Error("relative afs path: want an error")
	}
}

func TestRoger(t *testing.T) {
	cases := []struct {
		name    string
		content *string
		ok      bool
		hard    bool
	}{
		{"production", p("---\nappstate: production\nhwstate: production\n"), true, false},
		{"ignore_roger quoted", p("appstate: 'ignore_roger'\r\n"), true, false},
		{"draining", p("appstate: draining\n"), false, false},
		{"last wins pass", p("appstate: draining\nappstate: production # now\n"), true, false},
		{"last wins fail", p("appstate: production\n  appstate: \"disabled\"\n"), false, false},
		{"no appstate", p("hwstate: production\nnc_alarmed: true\n"), false, false},
		{"prefix is not key", p("xappstate: production\n"), false, false},
		{"missing file", nil, false, true},
	}
	c := build(t, "roger", "")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"/etc/.keep": ""}
			if tc.content != nil {
				files["/etc/roger/current.yaml"] = *tc.content
			}
			want(t, run(t, c, Env{Root: tree(t, files)}), tc.ok, tc.hard, CodeRoger, "")
		})
	}
}

func p(s string) *string { return &s }

func TestReboot(t *testing.T) {
	c := build(t, "reboot", "")
	want(t, run(t, c, Env{Root: t.TempDir()}), true, false, CodeReboot, "")
	root := tree(t, map[string]string{"/run/systemd/shutdown/scheduled": "USEC=1\nMODE=reboot\n"})
	want(t, run(t, c, Env{Root: root}), false, false, CodeReboot, "scheduled")
}

func TestRegistryNames(t *testing.T) {
	wantChecks := []string{"afs", "collectd", "collectd_alarms", "collectdload", "command", "daemon", "eos", "ftpdaemon", "gridftpdaemon", "lemon", "lemonload", "nologin", "reboot", "roger", "sshdaemon", "swaping", "swapping", "tmpfull", "webdaemon", "xsessions"}
	got := CheckNames()
	if len(got) != len(wantChecks) {
		t.Fatalf("CheckNames = %v", got)
	}
	for i := range got {
		if got[i] != wantChecks[i] {
			t.Fatalf("CheckNames = %v, want %v", got, wantChecks)
		}
	}
	if l := LoadNames(); len(l) != 3 || l[0] != "collectd" || l[1] != "constant" || l[2] != "lemon" {
		t.Errorf("LoadNames = %v", l)
	}
	if _, err := New(Spec{Type: "constant", Data: "1"}); err == nil {
		t.Error("check constant: want an error")
	}
	if _, err := New(Spec{Type: "bogus"}); err == nil {
		t.Error("unknown check: want an error")
	}
}
