package checks

import (
	"bytes"
	"math"
	"os"
	"strconv"
	"strings"
)

// DefaultLoadTerms are the inputs of the built-in default load
// (docs/protocol.md §5.6).
type DefaultLoadTerms struct {
	S float64 // swap/memory pressure, 0..5; -2 when /proc/meminfo is unreadable
	U float64 // distinct process owners; -10 when /proc cannot be listed
	C float64 // 1-minute load average / 10; -2 when /proc/loadavg is unreadable
	F float64 // X sessions: 1/3 per gnome-session/kdesktop, 1/4 per fvwm; -10 with U
	W float64 // swapping: always 0
}

// Load is trunc(1000 × ((S + U/25)/2 + 2W + 3C + 2F) / 6).
func (t DefaultLoadTerms) Load() int {
	v := 1000 * ((t.S+t.U/25)/2 + 2*t.W + 3*t.C + 2*t.F) / 6
	return int(math.Trunc(v))
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

func swapTerm(env Env) float64 {
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
	return (21 - 20*float64(free)/float64(total)) / 6
}

func cpuTerm(env Env) float64 {
	b, err := os.ReadFile(env.Path("/proc/loadavg"))
	if err != nil {
		return -2
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -2
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -2
	}
	return v / 10
}

// processTerms returns U and F from the process directories under /proc.
// Processes that vanish while being read are skipped.
func processTerms(env Env) (u, f float64) {
	entries, err := os.ReadDir(env.Path("/proc"))
	if err != nil {
		return -10, -10
	}
	owners := map[string]bool{}
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
			f += 1.0 / 3
		}
		if strings.Contains(cmd, "fvwm") {
			f += 1.0 / 4
		}
	}
	return float64(len(owners)), f
}
