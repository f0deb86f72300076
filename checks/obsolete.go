package checks

import (
	"context"
	"fmt"
)

// newObsolete builds the accepted but unsupported keywords lemon,
// lemonload and collectdload (and load lemon). They are accepted when the
// configuration is built, so that a legacy file still parses, and fail hard
// every time they run, as the existing CERN lbclient does (docs/protocol.md §5.3).
func newObsolete(code int) Factory {
	return func(spec Spec) (Check, error) {
		name := spec.Type
		return CheckFunc(func(context.Context, Env) Result {
			return Result{Code: code, Hard: true, Reason: fmt.Sprintf("%s is obsolete/unsupported", name)}
		}), nil
	}
}
