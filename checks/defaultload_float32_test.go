package checks

import (
	"math"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// float64Load is the formula of docs/protocol.md §5.6 in float64, as this
// package computed it before it followed the existing lbclient's float32
// arithmetic; the table below shows where the two truncate differently.
func float64Load(s, u float64, loadavg string, f float64) int {
	c, err := strconv.ParseFloat(loadavg, 64)
	if err != nil {
		panic(err)
	}
	c /= 10
	return int(math.Trunc(1000 * ((s+u/25)/2 + 3*c + 2*f) / 6))
}

func TestDefaultLoadFloat32(t *testing.T) {
	cases := []struct {
		name    string
		s, u    float32
		loadavg string
		f       float32
		want    int
		differs bool // float64 arithmetic truncates to another integer
	}{
		{"idle, loadavg 3.10 (float64 gives 154.99999999999997)", 0, 0, "3.10", 0, 155, true},
		{"swap pressure, one fvwm, loadavg 0.06", 5, 0, "0.06", 0.25, 502, true},
		{"swap pressure, one fvwm, loadavg 0.12", 5, 0, "0.12", 0.25, 505, true},
		{"protocol example", 5, 12, "4.00", 0, 656, false},
		{"12 owners, loadavg 2.30", 0, 12, "2.30", 0, 154, false},
		{"24 owners, loadavg 1.50", 0, 24, "1.50", 0, 155, true},
		{"swap pressure, 3 owners, loadavg 2.90", 5, 3, "2.90", 0, 571, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := strconv.ParseFloat(tc.loadavg, 32)
			require.NoError(t, err)
			terms := DefaultLoadTerms{S: tc.s, U: tc.u, C: float32(c / 10), F: tc.f}
			assert.Equal(t, tc.want, terms.Load())
			old := float64Load(float64(tc.s), float64(tc.u), tc.loadavg, float64(tc.f))
			if tc.differs {
				assert.NotEqual(t, tc.want, old, "float64 arithmetic should differ here")
			} else {
				assert.Equal(t, tc.want, old)
			}
		})
	}
}

// Inputs read from a /proc tree (S = 0: memory under 1 GiB; no process):
// the load average is parsed and rounded as the existing lbclient does.
func TestDefaultLoadFloat32FromProc(t *testing.T) {
	small := "MemTotal: 512000 kB\nMemFree: 256000 kB\nSwapTotal: 0 kB\nCommitLimit: 1000 kB\nCommitted_AS: 10 kB\n"
	cases := []struct {
		loadavg string
		want    int // the existing lbclient's value
		float64 int // what float64 arithmetic gives
	}{
		{"3.10", 155, 154},
		{"0.02", 0, 1},
		{"0.24", 11, 12},
		{"1.00", 50, 50},
	}
	for _, tc := range cases {
		t.Run(tc.loadavg, func(t *testing.T) {
			env := Env{Root: tree(t, map[string]string{
				"/proc/meminfo": small, "/proc/loadavg": tc.loadavg + " 0.50 0.10 1/100 42\n"})}
			terms := ComputeDefaultLoadTerms(env)
			require.Equal(t, DefaultLoadTerms{C: terms.C}, terms, "only C is non-zero")
			assert.Equal(t, tc.want, DefaultLoad(env))
			assert.Equal(t, tc.float64, float64Load(0, 0, tc.loadavg, 0))
		})
	}
}
