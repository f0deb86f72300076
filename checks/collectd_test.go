package checks

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeCollectd serves collectd's unixsock GETVAL protocol on a temp
// socket: answers maps an identifier to the raw reply.
type fakeCollectd struct {
	path string
	mu   sync.Mutex
	reqs []string
}

func startFakeCollectd(t *testing.T, answers map[string]string) *fakeCollectd {
	t.Helper()
	dir, err := os.MkdirTemp("", "cd") // short: unix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	f := &fakeCollectd{path: filepath.Join(dir, "sock")}
	l, err := net.Listen("unix", f.path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
				r := bufio.NewReader(conn)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					line = strings.TrimSuffix(line, "\n")
					f.mu.Lock()
					f.reqs = append(f.reqs, line)
					f.mu.Unlock()
					id, ok := strings.CutPrefix(line, "GETVAL ")
					if !ok {
						conn.Write([]byte("-1 Unknown command\n"))
						continue
					}
					id = strings.Trim(id, `"`)
					ans, ok := answers[id]
					if !ok {
						ans = "-1 No such value\n"
					}
					conn.Write([]byte(ans))
				}
			}()
		}
	}()
	return f
}

func (f *fakeCollectd) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.reqs...)
}

var collectdAnswers = map[string]string{
	"node1/load/load-relative":                "3 Values found\nshortterm=1.000000e-01\nmidterm=2.000000e+00\nlongterm=3.000000e-01\n",
	"node1/systemd-sshd/gauge-running":        "1 Value found\nvalue=1.000000e+00\n",
	"test":                                    "3 Values found\na=1\nb=3.5\nc=-2\n",
	"node1/vmem/vmpage_number-writeback_temp": "1 Value found\nvalue=0.000000e+00\n",
	"node1/nan/gauge":                         "1 Value found\nvalue=nan\n",
	"node1/nan2/gauge":                        "2 Values found\nrx=NaN\ntx=5\n",
	"node1/neg/gauge":                         "1 Value found\nvalue=-5.5\n",
	"node1/disk-sda1/disk_octets.2-x9":        "2 Values found\nread=2.5e3\nwrite=1e1\n",
	"other.host/load/load":                    "1 Value found\nvalue=7\n",
	"node1/short/gauge":                       "2 Values found\nvalue=1\n",
	"node1/garbage/gauge":                     "1 Value found\nvalue=abc\n",
	"node1/nokey/gauge":                       "1 Value found\njusttext\n",
	"node1/zero/gauge":                        "0 Values found\n",
}

func TestCollectdCheckAndLoad(t *testing.T) {
	srv := startFakeCollectd(t, collectdAnswers)
	env := Env{CollectdSocket: srv.path, Hostname: "node1"}
	cases := []struct {
		expr     string
		load     bool
		ok, hard bool
		value    int // Load for loads
		reason   string
	}{
		// docs/protocol.md §5.4 examples.
		{"[load/load-relative:shortterm]*125 + 1", true, true, false, 13, ""},
		{"[systemd-sshd/gauge-running]>0", false, true, false, 0, "= 1"},
		{"[test:2]>2 && [vmem/vmpage_number-writeback_temp]=0", false, true, false, 0, "= 1"},
		// Anchors.
		{"[load/load-relative]*100", true, true, false, 10, ""},
		{"[load/load-relative:2]", true, true, false, 2, ""},
		{"[load/load-relative:longterm]*10 + [load/load-relative:midterm]", true, true, false, 5, ""},
		{"[test:3]>0", false, false, false, 0, "= -1"},
		{"[test:3]", false, false, false, 0, "= -2"},
		{"[test:1]-1", false, true, false, 0, "= 0"}, // 0 passes
		{"[test:4]", false, false, true, 0, "only 3"},
		{"[test:zz]", false, false, true, 0, "no value named"},
		// Values in every float form; D16 names.
		{"[neg/gauge]", true, false, false, 0, "negative load"},
		{"[neg/gauge] + 10", true, true, false, 4, ""},
		{"[disk-sda1/disk_octets.2-x9:read] / [disk-sda1/disk_octets.2-x9:2]", true, true, false, 250, ""},
		{"[other.host/load/load] = 7", false, true, false, 0, ""},
		{"[neg/gauge] % 2", true, false, false, 0, ""}, // float modulo: -1.5 → -1
		{"[test:2] ** 2", true, true, false, 12, ""},
		{"[test:2] > 3 ? 10 : 20", true, true, false, 10, ""},
		{"!([test:1] == 1)", false, false, false, 0, ""},
		// NaN is a check failure, not a crash or a hard failure.
		{"[nan/gauge] > 0", false, false, false, 0, "NaN"},
		{"[nan/gauge]", true, false, false, 0, "NaN"},
		{"[nan2/gauge:tx] > 0", false, true, false, 0, ""},
		{"[nan2/gauge:rx] > 0", false, false, false, 0, "NaN"},
		{"[test:2] / 0", false, false, false, 0, "Inf"},
		// Collectd errors and odd answers are hard failures.
		{"[missing/gauge] > 0", false, false, true, 0, "No such value"},
		{"[short/gauge] > 0", false, false, true, 0, ""},
		{"[garbage/gauge] > 0", false, false, true, 0, "bad value"},
		{"[nokey/gauge] > 0", false, false, true, 0, "bad value"},
		{"[zero/gauge] > 0", false, false, true, 0, "no values"},
		// No reference: no connection needed.
		{"2 > 1", false, true, false, 0, ""},
		{"3.9", true, true, false, 3, ""},
		{"2.5e1 + 1E0 + 1e-1", true, true, false, 26, ""},
		{"true", false, true, false, 0, "= 1"},
		{"5000000000", true, true, false, 2147483647, ""},
	}
	for _, tc := range cases {
		t.Run(tc.expr, func(t *testing.T) {
			var c Check
			var err error
			if tc.load {
				c, err = NewLoad(Spec{Type: "collectd", Data: tc.expr, Timeout: 500 * time.Millisecond})
			} else {
				c, err = New(Spec{Type: "collectd", Data: tc.expr, Timeout: 500 * time.Millisecond})
			}
			if err != nil {
				t.Fatal(err)
			}
			r := run(t, c, env)
			want(t, r, tc.ok, tc.hard, CodeCollectd, tc.reason)
			if tc.load && r.Load != tc.value {
				t.Errorf("Load = %d, want %d (%s)", r.Load, tc.value, r.Reason)
			}
			if !tc.load && r.Load != 0 {
				t.Errorf("check Load = %d, want 0", r.Load)
			}
		})
	}
	reqs := strings.Join(srv.requests(), "\n")
	for _, w := range []string{`GETVAL "node1/load/load-relative"`, `GETVAL "test"`, `GETVAL "other.host/load/load"`, `GETVAL "node1/vmem/vmpage_number-writeback_temp"`} {
		if !strings.Contains(reqs, w) {
			t.Errorf("request %s not sent; got:\n%s", w, reqs)
		}
	}
}

func TestCollectdOneGetvalPerName(t *testing.T) {
	srv := startFakeCollectd(t, collectdAnswers)
	c := build(t, "collectd", "[load/load-relative:1] + [load/load-relative:2] + [load/load-relative:shortterm] >= 0")
	want(t, run(t, c, Env{CollectdSocket: srv.path, Hostname: "node1"}), true, false, CodeCollectd, "")
	if n := len(srv.requests()); n != 1 {
		t.Errorf("%d GETVAL requests, want 1: %q", n, srv.requests())
	}
}

func TestCollectdSocketErrors(t *testing.T) {
	c := build(t, "collectd", "[load/load] > 0")
	want(t, run(t, c, Env{CollectdSocket: filepath.Join(t.TempDir(), "none"), Hostname: "h"}), false, true, CodeCollectd, "unixsock")
	// Default socket path lives under Root.
	want(t, run(t, c, Env{Root: t.TempDir(), Hostname: "h"}), false, true, CodeCollectd, "collectd-unixsock")
	// A server that never answers hits the timeout.
	dir, err := os.MkdirTemp("", "cd")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	l, err := net.Listen("unix", filepath.Join(dir, "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	slow, err := New(Spec{Type: "collectd", Data: "[load/load] > 0", Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	want(t, run(t, slow, Env{CollectdSocket: filepath.Join(dir, "s"), Hostname: "h"}), false, true, CodeCollectd, "")
}

func TestPreprocessCollectd(t *testing.T) {
	cases := map[string]string{
		"[a]=0":            "[a]==0",
		"[a] = 1":          "[a]==1",
		"1=[a]":            "1==[a]",
		"[a]==0 && [b]>=1": "[a]==0&&[b]>=1",
		"[a]<=0 || [b]!=2": "[a]<=0||[b]!=2",
		"_123 > 1":         "[123]>1",
		"_123:2=1":         "[123:2]==1",
		"[my_12/x_3] + _7": "[my_12/x_3]+[7]",
		"[test:2]>2 && [vmem/vmpage_number-writeback_temp]=0": "[test:2]>2&&[vmem/vmpage_number-writeback_temp]==0",
	}
	for in, out := range cases {
		if got := preprocessCollectd(in); got != out {
			t.Errorf("preprocessCollectd(%q) = %q, want %q", in, got, out)
		}
	}
}

func TestCollectdFactoryErrors(t *testing.T) {
	for _, bad := range []string{
		"", "   ", "[a", "a]", "[a:]", "[a:0]", "[a/b/c/d]", "[a$b]", "[a//b]", "[]",
		"[a]+", "[a] ===", "unknownvar > 1", "[a] > 0 )",
		"len(1..1000000000) > 0", "1..3", `"5"`, "fmod(1,2)", "[a] in [b]", "{a: 1}", "max(1, 2)", "v0 > 1", "not true",
	} {
		if _, err := New(Spec{Type: "collectd", Data: bad}); err == nil {
			t.Errorf("collectd %q: want a factory error", bad)
		}
		if _, err := NewLoad(Spec{Type: "collectd", Data: bad}); err == nil {
			t.Errorf("load collectd %q: want a factory error", bad)
		}
	}
}

func FuzzCollectdExpr(f *testing.F) {
	for _, s := range []string{"[load/load-relative:shortterm]*125 + 1", "[test:2]>2 && [vmem/vmpage_number-writeback_temp]=0", "_12:3=1", "1 ? 2 : 3", "[a:]", "2 ** 3 % 2", "\"5\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := compileCollectd(s, time.Millisecond)
		if err != nil || len(e.refs) > 0 {
			return
		}
		// Without references no collectd is contacted.
		_, _, _ = e.eval(t.Context(), Env{CollectdSocket: "/nonexistent", Hostname: "h"})
	})
}
