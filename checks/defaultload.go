package checks

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// DefaultLoadTerms are the inputs of the built-in default load
// (docs/protocol.md §5.6). They are float32, the precision in which the
// existing lbclient computes them: old and new agents serving one alias
// must report the same number, and float64 arithmetic truncates to a
// different integer for about 2 % of plausible inputs (loadavg 3.10 alone:
// 154.99999999999997 → 154 in float64, 155 in float32).
type DefaultLoadTerms struct {
	S float32 // swap/memory pressure, 0..5; -2 when /proc/meminfo is unreadable
	U float32 // distinct process owners; -10 when /proc cannot be listed
	C float32 // 1-minute load average / 10; -2 when /proc/loadavg is unreadable
	F float32 // X sessions: 1/3 per gnome-session/kdesktop, 1/4 per fvwm; -10 with U
	W float32 // swapping: always 0
}

// Load is trunc(1000 × ((S + U/25)/2 + 2W + 3C + 2F) / 6), evaluated in
// float32 in the order of docs/protocol.md §5.6: the sum, then the
// division by 6, then the product by 1000, each step rounded to float32.
// The explicit conversions keep the compiler from fusing a product and a
// sum into one instruction (The Go Programming Language Specification,
// "Floating-point operators"), which would round once instead of twice.
func (t DefaultLoadTerms) Load() int {
	a := float32(t.U / 25)
	a = float32(t.S+a) / 2
	a += float32(2 * t.W)
	a += float32(3 * t.C)
	a += float32(2 * t.F)
	a = float32(a / 6)
	return int(float32(a * 1000)) // int() of a float truncates toward zero
}

// DefaultLoad is the load a mapping reports when its metric is still 0
// after all lines (docs/protocol.md §5.2 step 6, §5.6). It reads
// <root>/proc/meminfo, <root>/proc/loadavg and, instead of running
// "ps auxw", the process directories <root>/proc/<pid>: the effective uid
// of the Uid line of status is the owner (U = distinct owners) and
// cmdline is the command (for F; a process with an empty cmdline, a kernel
// thread, shows as its status Name, as ps does with [name]).
func DefaultLoad(env Env) int { return ComputeDefaultLoadTerms(env).Load() }

// ComputeDefaultLoadTerms reads the inputs of DefaultLoad.
func ComputeDefaultLoadTerms(env Env) DefaultLoadTerms {
	var t DefaultLoadTerms
	t.S = swapTerm(env)
	t.C = cpuTerm(env)
	t.U, t.F = processTerms(env)
	return t
}

func swapTerm(env Env) float32 {
	b, err := os.ReadFile(env.Path("/proc/meminfo"))
	if err != nil {
		return -2
	}
	kb := map[string]int64{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
			kb[strings.TrimSpace(k)] = n
		}
	}
	total, free := kb["SwapTotal"], kb["SwapFree"]
	if total == 0 {
		total, free = kb["MemTotal"], kb["MemFree"]
	}
	total /= 1048576 // kB → GiB, integer division as the legacy agent
	free /= 1048576
	switch {
	case 100*free < 75*total || 100*kb["Committed_AS"] > 75*kb["CommitLimit"]:
		return 5
	case total == 0:
		return 0
	}
	r := float32(20*float32(free)) / float32(total)
	return float32(21-r) / 6
}

func cpuTerm(env Env) float32 {
	b, err := os.ReadFile(env.Path("/proc/loadavg"))
	if err != nil {
		return -2
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -2
	}
	// Read at float32 precision, divided by 10 in float64, then rounded to
	// float32, as the existing lbclient does (docs/protocol.md §5.6).
	v, err := strconv.ParseFloat(f[0], 32)
	if err != nil {
		return -2
	}
	return float32(v / 10)
}

// processTerms returns U and F from the process directories under /proc.
// Processes that vanish while being read are skipped.
// F is summed in float64 and rounded to float32 once, as the existing
// lbclient does.
func processTerms(env Env) (u, f float32) {
	entries, err := os.ReadDir(env.Path("/proc"))
	if err != nil {
		return -10, -10
	}
	owners := map[string]bool{}
	var sessions float64
	for _, e := range entries {
		name := e.Name()
		if _, err := strconv.ParseUint(name, 10, 64); err != nil {
			continue
		}
		status, err := os.ReadFile(env.Path("/proc/" + name + "/status"))
		if err != nil {
			continue
		}
		uid, comm := "", ""
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "Uid:"); ok {
				if fs := strings.Fields(v); len(fs) >= 2 {
					uid = fs[1] // effective uid, the USER column of ps
				} else if len(fs) == 1 {
					uid = fs[0]
				}
			} else if v, ok := strings.CutPrefix(line, "Name:"); ok {
				comm = strings.TrimSpace(v)
			}
		}
		if uid == "" {
			continue
		}
		owners[uid] = true
		cmd := comm
		if raw, err := os.ReadFile(env.Path("/proc/" + name + "/cmdline")); err == nil && len(raw) > 0 {
			cmd = string(bytes.ReplaceAll(bytes.TrimRight(raw, "\x00"), []byte{0}, []byte{' '}))
		}
		if strings.Contains(cmd, "gnome-session") || strings.Contains(cmd, "kdesktop") {
			sessions += 1.0 / 3
		}
		if strings.Contains(cmd, "fvwm") {
			sessions += 1.0 / 4
		}
	}
	return float32(len(owners)), float32(sessions)
}
