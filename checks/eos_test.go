package checks

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const eosMountsText = `sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0
/dev/sda1 / xfs rw,relatime 0 0
eosxd /eos/user fuse rw,nosuid,nodev,relatime,user_id=0,group_id=0,allow_other 0 0
eosxd /eos/project/a fuse.eosxd rw,nosuid,nodev,relatime 0 0
eosxd /eos/deep/a/b fuse rw 0 0
eosxd /eos fuse rw 0 0
tmpfs /eos/tmpfs tmpfs rw 0 0
sshfs /eos/with\040space fuse.sshfs rw 0 0
eosxd /eos/user fuse rw 0 0
`

func TestEOSMounts(t *testing.T) {
	got := eosMounts(eosMountsText)
	wantM := []string{"/eos/user", "/eos/project/a", "/eos/with space"}
	if !reflect.DeepEqual(got, wantM) {
		t.Errorf("eosMounts = %q, want %q", got, wantM)
	}
}

func TestEOS(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "calls")
	// The fake eosxd logs its arguments and behaves per mount point as
	// told by the file named after the last path element.
	fake := script(t, dir, "eosxd", `echo "$@" >> `+log+`
case "$3" in
/eos/user) echo "root://eosuser.cern.ch" ;;
*) mode=$(cat "`+dir+`/mode" 2>/dev/null)
   case "$mode" in
   enotconn) echo "error: Transport endpoint is not connected" >&2; exit 1 ;;
   eio) echo "getxattr: Input/output error" >&2; exit 5 ;;
   enotsup) echo "Operation not supported" >&2; exit 1 ;;
   other) echo "no such attribute" >&2; exit 1 ;;
   e126) exit 126 ;;
   e127) exit 127 ;;
   kill) kill -KILL $$ ;;
   hang) sleep 30 ;;
   esac ;;
esac`)
	root := tree(t, map[string]string{"/proc/mounts": eosMountsText})
	mtabOnly := tree(t, map[string]string{"/etc/mtab": "eosxd /eos/user fuse rw 0 0\n"})
	noEOS := tree(t, map[string]string{"/proc/mounts": "/dev/sda1 / xfs rw 0 0\n"})
	cases := []struct {
		mode     string
		root     string
		ok, hard bool
		reason   string
	}{
		{"", root, true, false, "3 EOS mount"},
		{"other", root, true, false, ""},
		{"enotconn", root, false, false, "Transport endpoint is not connected"},
		{"eio", root, false, false, "Input/output error"},
		{"enotsup", root, false, false, "Operation not supported"},
		{"e126", root, false, true, "exit 126"},
		{"e127", root, false, true, "exit 127"},
		{"kill", root, false, true, "signal"},
		{"hang", root, false, true, "timed out"},
		{"", mtabOnly, true, false, "1 EOS mount"},
		{"", noEOS, true, false, "0 EOS mount"},
		{"", t.TempDir(), false, true, "mount table unreadable"},
	}
	c, err := New(Spec{Type: "eos", Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.mode+"@"+filepath.Base(tc.root), func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, "mode"), []byte(tc.mode), 0o644); err != nil {
				t.Fatal(err)
			}
			want(t, run(t, c, Env{Root: tc.root, Eosxd: fake}), tc.ok, tc.hard, CodeEOS, tc.reason)
		})
	}
	b, _ := os.ReadFile(log)
	if !strings.Contains(string(b), "get eos.mgmurl /eos/user\n") || !strings.Contains(string(b), "get eos.mgmurl /eos/project/a\n") {
		t.Errorf("eosxd calls:\n%s", b)
	}
	want(t, run(t, c, Env{Root: root, Eosxd: filepath.Join(dir, "missing")}), false, true, CodeEOS, "cannot start")
	if _, err := New(Spec{Type: "eos", Data: "x"}); err == nil {
		t.Error("eos with an argument: want an error")
	}
}
