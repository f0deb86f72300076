package checks

import (
	"context"
	"fmt"
	"syscall"
)

// statfs is the file-system statistics call; tests replace it.
var statfs = syscall.Statfs

// tmpfull fails when /tmp has 1 − avail/total blocks ≥ 0.90 or
// 1 − free/total inodes ≥ 0.95; a file system reporting zero inodes fails
// too. A statfs error is a hard failure. docs/protocol.md §5.3.
func newTmpFull(spec Spec) (Check, error) {
	if spec.Data != "" {
		return nil, fmt.Errorf("takes no arguments, got %q", spec.Data)
	}
	return CheckFunc(func(_ context.Context, env Env) Result {
		var st syscall.Statfs_t
		if err := statfs(env.Path("/tmp"), &st); err != nil {
			return Result{Code: CodeTmpFull, Hard: true, Reason: "statfs /tmp: " + err.Error()}
		}
		return tmpFullVerdict(uint64(st.Blocks), uint64(st.Bavail), uint64(st.Files), uint64(st.Ffree))
	}), nil
}

func tmpFullVerdict(blocks, bavail, files, ffree uint64) Result {
	if blocks == 0 {
		return Result{Code: CodeTmpFull, Reason: "/tmp reports zero blocks"}
	}
	if files == 0 {
		return Result{Code: CodeTmpFull, Reason: "/tmp reports zero inodes"}
	}
	usedBlocks := 1 - float64(bavail)/float64(blocks)
	usedInodes := 1 - float64(ffree)/float64(files)
	if usedBlocks >= 0.90 {
		return Result{Code: CodeTmpFull, Reason: fmt.Sprintf("/tmp blocks %.1f%% used (limit 90%%)", 100*usedBlocks)}
	}
	if usedInodes >= 0.95 {
		return Result{Code: CodeTmpFull, Reason: fmt.Sprintf("/tmp inodes %.1f%% used (limit 95%%)", 100*usedInodes)}
	}
	return Result{OK: true, Code: CodeTmpFull, Reason: fmt.Sprintf("/tmp blocks %.1f%% used, inodes %.1f%% used", 100*usedBlocks, 100*usedInodes)}
}
