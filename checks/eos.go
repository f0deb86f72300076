package checks

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// eosFailureMessages are the eosxd stderr texts that mean a broken mount.
var eosFailureMessages = []string{
	"Transport endpoint is not connected",
	"Operation not supported",
	"Input/output error",
}

// eos checks every FUSE mount at /eos/<x> or /eos/<x>/<y> listed in
// /proc/mounts (or /etc/mtab when that is unreadable) by running
// "eosxd get eos.mgmurl <mount>" (Env.Eosxd, default "eosxd" from $PATH,
// Spec.Timeout per call, default 3 s). It fails when the command fails
// with one of eosFailureMessages on stderr; other failures pass
// (docs/protocol.md §5.3). An unreadable mount table, an eosxd that cannot start,
// exits 126/127, is killed or times out is a hard failure.
func newEOS(spec Spec) (Check, error) {
	if spec.Data != "" {
		return nil, fmt.Errorf("takes no arguments, got %q", spec.Data)
	}
	timeout := spec.Timeout
	return CheckFunc(func(ctx context.Context, env Env) Result {
		b, err := os.ReadFile(env.Path("/proc/mounts"))
		if err != nil {
			var err2 error
			if b, err2 = os.ReadFile(env.Path("/etc/mtab")); err2 != nil {
				return Result{Code: CodeEOS, Hard: true, Reason: fmt.Sprintf("mount table unreadable: %v; %v", err, err2)}
			}
		}
		mounts := eosMounts(string(b))
		eosxd := env.Eosxd
		if eosxd == "" {
			eosxd = "eosxd"
		}
		for _, m := range mounts {
			r := runCommand(ctx, []string{eosxd, "get", "eos.mgmurl", m}, timeout)
			switch {
			case r.StartErr != nil:
				return Result{Code: CodeEOS, Hard: true, Reason: fmt.Sprintf("%s: cannot start: %v", eosxd, r.StartErr)}
			case r.TimedOut:
				return Result{Code: CodeEOS, Hard: true, Reason: fmt.Sprintf("%s get eos.mgmurl %s: timed out", eosxd, m)}
			case r.Signaled || !r.Exited:
				return Result{Code: CodeEOS, Hard: true, Reason: fmt.Sprintf("%s get eos.mgmurl %s: killed by a signal", eosxd, m)}
			case r.ExitCode == 126 || r.ExitCode == 127:
				return Result{Code: CodeEOS, Hard: true, Reason: fmt.Sprintf("%s get eos.mgmurl %s: exit %d%s", eosxd, m, r.ExitCode, stderrTail(r.Stderr))}
			case r.ExitCode != 0:
				for _, msg := range eosFailureMessages {
					if strings.Contains(string(r.Stderr), msg) {
						return Result{Code: CodeEOS, Reason: fmt.Sprintf("EOS mount %s: %s", m, msg)}
					}
				}
			}
		}
		return Result{OK: true, Code: CodeEOS, Reason: fmt.Sprintf("%d EOS mount(s) answer", len(mounts))}
	}), nil
}

// eosMounts returns the FUSE mount points at /eos/<x> or /eos/<x>/<y>
// from a mounts(5) text, in order, without duplicates.
func eosMounts(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		fstype := f[2]
		if fstype != "fuse" && !strings.HasPrefix(fstype, "fuse.") {
			continue
		}
		mp := unescapeMount(f[1])
		parts := strings.Split(strings.TrimSuffix(mp, "/"), "/")
		// "/eos/x" → ["", "eos", "x"]; "/eos/x/y" → 4 parts.
		if len(parts) < 3 || len(parts) > 4 || parts[0] != "" || parts[1] != "eos" || slices.Contains(parts[2:], "") {
			continue
		}
		if !slices.Contains(out, mp) {
			out = append(out, mp)
		}
	}
	return out
}

// unescapeMount decodes the octal escapes (\040 for a space, ...) of a
// mount table field.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
