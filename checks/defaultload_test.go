package checks

import (
	"math"
	"strconv"
	"testing"
)

func TestDefaultLoadCompatExample(t *testing.T) {
	env := Env{Root: "testdata/defaultload/compat"}
	terms := ComputeDefaultLoadTerms(env)
	if terms.S != 5 || terms.U != 12 || !near(terms.C, 0.4) || terms.F != 0 || terms.W != 0 {
		t.Fatalf("terms = %+v, want S=5 U=12 C=0.4 F=0 W=0", terms)
	}
	if got := DefaultLoad(env); got != 656 {
		t.Errorf("DefaultLoad = %d, want 656", got)
	}
	if got := (DefaultLoadTerms{S: 5, U: 12, C: 0.4}).Load(); got != 656 {
		t.Errorf("formula = %d, want 656", got)
	}
}

func TestDefaultLoadTerms(t *testing.T) {
	const gib = 1048576
	kb := func(n float64) string { return strconv.Itoa(int(n * gib)) }
	proc := func(uid, cmd string) map[string]string {
		return map[string]string{"status": "Name:\tx\nUid:\t" + uid + "\t" + uid + "\t" + uid + "\t" + uid + "\n", "cmdline": cmd}
	}
	cases := []struct {
		name  string
		files map[string]string
		procs map[string]map[string]string
		s, u  float32
		c, f  float32
	}{
		{"swap used over 25%", map[string]string{
			"/proc/meminfo": "SwapTotal: " + kb(4) + " kB\nSwapFree: " + kb(2) + " kB\nCommitLimit: 100 kB\nCommitted_AS: 10 kB\n",
			"/proc/loadavg": "1.50 1.00 0.50 1/100 42\n"}, nil, 5, 0, 0.15, 0},
		{"no swap: memory ratio", map[string]string{
			"/proc/meminfo": "MemTotal: " + kb(16) + " kB\nMemFree: " + kb(14) + " kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\nCommitLimit: 2000 kB\nCommitted_AS: 1000 kB\n",
			"/proc/loadavg": "0.00 0.00 0.00 1/100 42\n"}, nil, (21 - 20*14.0/16) / 6, 0, 0, 0},
		{"GiB integer division", map[string]string{
			"/proc/meminfo": "MemTotal: " + kb(16.9) + " kB\nMemFree: " + kb(14.9) + " kB\nSwapTotal: 0 kB\nCommitLimit: 2000 kB\nCommitted_AS: 1000 kB\n",
			"/proc/loadavg": "0.00\n"}, nil, (21 - 20*14.0/16) / 6, 0, 0, 0},
		{"committed over 75%", map[string]string{
			"/proc/meminfo": "SwapTotal: " + kb(4) + " kB\nSwapFree: " + kb(4) + " kB\nCommitLimit: 1000 kB\nCommitted_AS: 751 kB\n",
			"/proc/loadavg": "20 1 1\n"}, nil, 5, 0, 2, 0},
		{"total under 1 GiB", map[string]string{
			"/proc/meminfo": "MemTotal: 512000 kB\nMemFree: 256000 kB\nSwapTotal: 0 kB\nCommitLimit: 1000 kB\nCommitted_AS: 10 kB\n",
			"/proc/loadavg": "0.1 0.1 0.1\n"}, nil, 0, 0, 0.01, 0},
		{"unreadable meminfo and loadavg", map[string]string{"/proc/.keep": ""}, nil, -2, 0, -2, 0},
		{"X sessions", map[string]string{"/proc/meminfo": "SwapTotal: " + kb(4) + " kB\nSwapFree: " + kb(4) + " kB\nCommitLimit: 1000 kB\nCommitted_AS: 1 kB\n", "/proc/loadavg": "0 0 0\n"},
			map[string]map[string]string{
				"10":   proc("1000", "/usr/bin/gnome-session\x00--session=gnome\x00"),
				"11":   proc("1000", "/usr/bin/kdesktop\x00"),
				"12":   proc("1001", "fvwm\x00-f\x00config\x00"),
				"13":   proc("0", "/usr/sbin/sshd\x00-D\x00"),
				"14":   proc("0", ""),
				"self": proc("5", "not a pid dir"),
			}, (21 - 20*4.0/4) / 6, 3, 0, 1.0/3 + 1.0/3 + 1.0/4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{}
			for k, v := range tc.files {
				files[k] = v
			}
			for pid, fs := range tc.procs {
				for name, content := range fs {
					files["/proc/"+pid+"/"+name] = content
				}
			}
			got := ComputeDefaultLoadTerms(Env{Root: tree(t, files)})
			if !near(got.S, tc.s) || got.U != tc.u || !near(got.C, tc.c) || !near(got.F, tc.f) || got.W != 0 {
				t.Errorf("terms = %+v, want S=%v U=%v C=%v F=%v", got, tc.s, tc.u, tc.c, tc.f)
			}
		})
	}
	t.Run("no proc at all", func(t *testing.T) {
		env := Env{Root: t.TempDir()}
		got := ComputeDefaultLoadTerms(env)
		if got != (DefaultLoadTerms{S: -2, U: -10, C: -2, F: -10}) {
			t.Errorf("terms = %+v", got)
		}
		// 1000 × ((−2 − 0.4)/2 − 6 − 20)/6 = −4533.3 → −4533
		if l := DefaultLoad(env); l != -4533 {
			t.Errorf("DefaultLoad = %d, want -4533", l)
		}
	})
}

func near(a, b float32) bool { return math.Abs(float64(a-b)) < 1e-6 }
