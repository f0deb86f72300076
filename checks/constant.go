package checks

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// constant is a fixed load: the value is parsed as a float and truncated to
// an integer (docs/protocol.md §5.4); a negative value is a soft failure -16.
func newConstant(spec Spec) (Check, error) {
	s := strings.TrimSpace(spec.Data)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return nil, fmt.Errorf("data %q is not a number", spec.Data)
	}
	if v > math.MaxInt32 || v < math.MinInt32 {
		return nil, fmt.Errorf("data %q is out of the 32-bit range", spec.Data)
	}
	n := int(v) // truncation toward zero, as the legacy agent does
	return CheckFunc(func(context.Context, Env) Result {
		if n < 0 {
			return Result{Code: CodeConstant, Reason: fmt.Sprintf("negative constant load %d", n)}
		}
		return Result{OK: true, Load: n, Code: CodeConstant, Reason: fmt.Sprintf("constant %d", n)}
	}), nil
}
