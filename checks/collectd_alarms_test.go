package checks

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCollectdAlarms(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "calls")
	ctl := script(t, dir, "collectdctl", `echo "$@" >> `+log+`
for last; do :; done
case "$last" in
state=okay) printf 'node1/cpu-0/percent-idle\nnode1/df-root/percent_bytes-used\n1700000000.123 node1/memory/memory-used\n' ;;
state=warning) echo node1/load/load ;;
state=error) ;;
state=unknown) echo other/load/load ;;
state=broken) echo "cannot connect" >&2; exit 1 ;;
state=hang) sleep 30 ;;
*) exit 2 ;;
esac`)
	env := Env{Collectdctl: ctl}
	cases := []struct {
		data     string
		ok, hard bool
		reason   string
	}{
		{`[{"cpu-0/percent-idle": "okay"}]`, true, false, ""},
		{`{"cpu-0/percent-idle": "okay"}`, true, false, ""},
		{`[{"cpu-0/percent-idle": "okay", "load/load": ["okay", "warning"]}]`, true, false, ""},
		{`[{"load/load": "okay"}]`, false, false, "load/load is not in state okay"},
		{`[{"memory/memory-used": "okay"}]`, true, false, ""}, // leading timestamp column tolerated
		// Every object counts (D16: the legacy agent read only the first).
		{`[{"cpu-0/percent-idle": "okay"}, {"load/load": "error"}]`, false, false, "load/load"},
		{`[{"cpu-0/percent-idle": "okay"}, {"df-root/percent_bytes-used": ["okay"]}]`, true, false, ""},
		{`[{"node1/load/load": "warning"}]`, true, false, ""},
		{`[{"node2/load/load": "warning"}]`, false, false, ""},
		{`[{"load/load": "unknown"}]`, true, false, ""}, // plugin/type matches any host
		{`[{"missing/metric": ["okay", "warning", "error", "unknown"]}]`, false, false, "missing/metric"},
		{`[{"load/load": "broken"}]`, false, true, "cannot connect"},
		{`[{"load/load": "hang"}]`, false, true, "timed out"},
	}
	for _, tc := range cases {
		t.Run(tc.data, func(t *testing.T) {
			c, err := New(Spec{Type: "collectd_alarms", Data: tc.data, Timeout: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			want(t, run(t, c, env), tc.ok, tc.hard, CodeCollectd, tc.reason)
		})
	}
	c := build(t, "collectd_alarms", `[{"cpu-0/percent-idle": "okay"}]`)
	want(t, run(t, c, Env{Collectdctl: filepath.Join(dir, "missing")}), false, true, CodeCollectd, "cannot start")
	os.Remove(log)
	want(t, run(t, c, Env{Collectdctl: ctl, CollectdSocket: "/run/cd.sock"}), true, false, CodeCollectd, "")
	b, _ := os.ReadFile(log)
	if strings.TrimSpace(string(b)) != "-s /run/cd.sock listval state=okay" {
		t.Errorf("collectdctl called with %q", b)
	}
}

func TestCollectdAlarmsFactoryErrors(t *testing.T) {
	for _, bad := range []string{
		``, `[`, `[]`, `[{}]`, `{}`, `"okay"`, `[{"load/load": 3.5}]`, `[{"load/load": []}]`,
		`[{"load/load": ""}]`, `[{"load/load": "a b"}]`, `[{"load": "okay"}]`, `[{"a/b/c/d": "okay"}]`,
		`[{"load/lo ad": "okay"}]`, `[{"load/load": {"x": 1}}]`, `[1]`,
	} {
		if _, err := New(Spec{Type: "collectd_alarms", Data: bad}); err == nil {
			t.Errorf("collectd_alarms %q: want a factory error", bad)
		}
	}
}
