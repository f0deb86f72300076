package legacy

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/lbclient"
)

// Where the existing CERN lbclient and this package read the same legacy
// files (docs/protocol.md §5), they must answer the same.

// netListen holds /proc/net tables with listeners: tcp 0.0.0.0:22,
// 127.0.0.1:631, 10.0.0.5:3306; tcp6 :::80, ::1:25, 2001:db8::10:443.
const netListen = "../../checks/testdata/net/listen"

// evalOne loads a one-alias directory with conf as lbclient.conf and
// evaluates it once under root.
func evalOne(t *testing.T, conf, root string, opts Options, deadline time.Duration) (*Config, lbclient.AliasLoad) {
	t.Helper()
	dir := testenv.WriteTree(t, map[string]string{"lbaliases": "lbalias=a.example\n", "lbclient.conf": conf})
	opts.Root = root
	lc := Load(dir, opts)
	lc.DefaultLoad = func(string) int { return 1 }
	loads := lbclient.EvaluateOnce(context.Background(), lc.Compiled, deadline, nil)
	require.Len(t, loads, 1)
	return lc, loads[0]
}

// "check constant" is not a check keyword (constant exists only as
// "load constant", docs/protocol.md §5.3): the line does not parse, and an
// unparsable line answers ConfigError, −102 — not the constant's −16.
func TestParityCheckConstantIsUnparsable(t *testing.T) {
	for _, conf := range []string{"check constant 4\n", "load constant 10\ncheck constant 4\n", "CHECK Constant\n"} {
		lc, l := evalOne(t, conf, t.TempDir(), Options{}, 0)
		assert.Equal(t, ConfigError, l.Metric, conf)
		assert.True(t, lc.HasErrors(), conf)
		assert.Contains(t, lgProblems(lc), "is not a check", conf)
	}
}

// A daemon JSON with both "host" and "ip" is accepted whatever the
// families: only the socket tables "ip" selects are read, so a host of
// another family never matches there (a soft failure, −17), as with the
// existing lbclient. Converting such a file succeeds.
func TestParityDaemonHostWithIP(t *testing.T) {
	cases := []struct {
		json string
		ok   bool
	}{
		{`{"port": 22, "host": "0.0.0.0", "ip": "ipv4"}`, true},
		{`{"port": 3306, "host": "10.0.0.5", "ip": "4"}`, true},
		{`{"port": 3306, "host": ["10.0.0.5", "::1"], "ip": "ipv4"}`, true},
		{`{"port": 25, "host": ["127.0.0.1", "::1"], "ip": ["6"]}`, true},
		{`{"port": 80, "host": "::", "protocol": "tcp", "ip": "ipv6"}`, true},
		{`{"port": 22, "host": "::1", "ip": "ipv4"}`, false},       // IPv6 host, IPv4 tables only
		{`{"port": 80, "host": "127.0.0.1", "ip": "ipv6"}`, false}, // IPv4 host, IPv6 tables only
		{`{"port": 631, "host": "127.0.0.1", "ip": "6"}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.json, func(t *testing.T) {
			conf := "check daemon " + tc.json + "\nload constant 7\n"
			lc, l := evalOne(t, conf, netListen, Options{}, 0)
			require.False(t, lc.HasErrors(), lgProblems(lc))
			want := 7
			if !tc.ok {
				want = -17
			}
			assert.Equal(t, want, l.Metric, l.Reason)
			_, err := lbclient.Parse("converted.toml", []byte(Convert(lc)))
			assert.NoError(t, err)
		})
	}
}

// An lbaliases that lists no alias is valid, as for the existing lbclient:
// the node serves no alias and answers the empty STRING (docs/protocol.md
// §5.7). It is a warning, not an error, and converts (exit 0).
func TestParityEmptyLbaliases(t *testing.T) {
	for name, aliases := range map[string]string{"empty file": "", "comments only": "# none yet\n\n", "blank name": "lbalias=\n"} {
		t.Run(name, func(t *testing.T) {
			dir := testenv.WriteTree(t, map[string]string{"lbaliases": aliases, "lbclient.conf": "check nologin\nload constant 5\n"})
			lc := lgLoad(t, dir, t.TempDir())
			assert.False(t, lc.HasErrors(), lgProblems(lc))
			assert.Contains(t, lgProblems(lc), "no alias is configured")
			assert.Equal(t, ".1.3.6.1.4.1.96.255.1\nstring\n\n", lgAnswer(t, lc))
			// the TOML configuration serves at least one alias: the converted
			// file says so and loads once one is added
			text := Convert(lc)
			assert.Contains(t, text, "# No alias: lbaliases lists none")
			_, err := lbclient.Parse("converted.toml", []byte(text))
			assert.ErrorContains(t, err, "at least one [[alias]]")
			cfg, err := lbclient.Parse("converted.toml", []byte(text+"\n[[alias]]\nname = \"x.example\"\n"))
			require.NoError(t, err)
			assert.Equal(t, []string{"x.example"}, cfg.Aliases())
		})
	}
	// a missing lbaliases is still an error: nothing can be served
	lc := lgLoad(t, testenv.WriteTree(t, map[string]string{"lbclient.conf": "load constant 5\n"}), t.TempDir())
	assert.True(t, lc.HasErrors())
}

// Every legacy line gets 30 s (docs/protocol.md §5.2 step 2), or the
// pass deadline when that is shorter.
func TestParityLineTimeout(t *testing.T) {
	assert.Equal(t, 30*time.Second, LineTimeout)
	for _, c := range []struct{ deadline, want time.Duration }{
		{0, 30 * time.Second}, {-time.Second, 30 * time.Second}, {5 * time.Second, 5 * time.Second},
		{30 * time.Second, 30 * time.Second}, {time.Minute, 30 * time.Second},
	} {
		assert.Equal(t, c.want, LineTimeoutWithin(c.deadline), "deadline %v", c.deadline)
	}

	dir := testenv.WriteTree(t, map[string]string{"lbaliases": "lbalias=a.example\n",
		"lbclient.conf": "check command sleep 60\ncheck nologin\nload constant 7\n"})
	lc := Load(dir, Options{})
	require.NotNil(t, lc.Default)
	for _, l := range lc.Default.Lines {
		assert.Equal(t, LineTimeout, l.Spec.Timeout, l.Text)
	}
	lc = Load(dir, Options{Timeout: LineTimeoutWithin(2 * time.Second)})
	for _, l := range lc.Default.Lines {
		assert.Equal(t, 2*time.Second, l.Spec.Timeout, l.Text)
	}
}

// A line that takes longer than 3 s passes when the deadline allows it
// (it was cut at 3 s and answered −14).
func TestParitySlowCommandWithinDeadline(t *testing.T) {
	start := time.Now()
	_, l := evalOne(t, "check command sleep 4\nload constant 7\n", t.TempDir(),
		Options{Timeout: LineTimeoutWithin(8 * time.Second)}, 8*time.Second)
	assert.Equal(t, 7, l.Metric, l.Reason)
	assert.GreaterOrEqual(t, time.Since(start), 4*time.Second)
}

// Shapes of the existing lbclient's own test configurations, in our words:
// the forms one check can take, and what the mapping answers.
func TestParityFixtureShapes(t *testing.T) {
	cases := []struct {
		name string
		conf string
		want int
	}{
		{"constant only, trailing blank lines", "load constant 249\n\n\n", 249},
		{"constant with a fraction", "load constant 12.9\n", 12},
		{"two constants add up", "load constant 100\nload constant 23\n", 123},
		{"negative constant", "load constant -3\n", -16},
		{"no load: default load", "check nologin\n", 1},
		{"legacy port keyword", "# old style\ncheck sshdaemon\nload constant 5\n", 5},
		{"daemon: port as number, string and lists", "check daemon {\"port\": 22}\ncheck daemon {\"port\": \"22\"}\n" +
			"check daemon {\"port\": [\"22\"]}\ncheck daemon {\"port\": [22]}\nload constant 5\n", 5},
		{"daemon: protocol scalar and list", "check daemon {\"port\": 22, \"protocol\": \"tcp\"}\n" +
			"check daemon {\"port\": 22, \"protocol\": [\"tcp\"]}\nload constant 5\n", 5},
		{"daemon: ip scalar and lists", "check daemon {\"port\": 22, \"protocol\": \"tcp\", \"ip\":\"ipv4\"}\n" +
			"check daemon {\"port\": 22, \"protocol\": \"tcp\", \"ip\":[\"ipv4\"]}\n" +
			"check daemon {\"port\": 22, \"protocol\": \"tcp\", \"ip\":[\"ipv4\", \"ipv6\"]}\nload constant 5\n", 5},
		{"daemon: wildcard hosts", "check daemon {\"port\": 22, \"host\":\"0.0.0.0\"}\n" +
			"check daemon {\"port\": 80, \"host\": \"::\"}\n" +
			"check daemon {\"port\": 80, \"host\": [\"::\", \"0.0.0.0\"], \"protocol\": \"tcp\"}\nload constant 5\n", 5},
		{"daemon: nothing on the port", "check daemon {\"port\": 5432}\nload constant 5\n", -17},
		{"daemon: only UDP asked", "check daemon {\"port\": 22, \"protocol\": \"udp\"}\nload constant 5\n", -17},
		{"daemon: duplicate key, the last wins", "check daemon {\"port\": 5432, \"port\": 22}\nload constant 5\n", 5},
		{"daemon: port out of range", "check daemon {\"port\": 70000}\n", -17},
		{"daemon: no port", "check daemon {\"protocol\": \"tcp\"}\n", -17},
		{"daemon: bad protocol", "check daemon {\"port\": 22, \"protocol\": \"sctp\"}\n", -17},
		{"daemon: bad ip", "check daemon {\"port\": 22, \"ip\": \"ipv5\"}\n", -17},
		{"command succeeds", "check command true\nload constant 3\n", 3},
		{"command exits non-zero", "check command exit 2\nload constant 3\n", -14},
		{"command not found", "check command /nonexistent/program\nload constant 3\n", -14},
		{"first failure stops", "check command false\ncheck daemon {\"port\": 5432}\n", -14},
		{"unknown keyword", "check frobnicate\nload constant 3\n", ConfigError},
		{"upper-case keywords", "CHECK NOLOGIN\nLOAD CONSTANT 8\n", 8},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, l := evalOne(t, tc.conf, netListen, Options{}, 0)
			assert.Equal(t, tc.want, l.Metric, "%s\n%s", tc.conf, l.Reason)
		})
	}
	// the fixture shapes convert to TOML that loads
	dir := testenv.WriteTree(t, map[string]string{"lbaliases": "lbalias=a.example\nlbalias=b.example\n",
		"lbclient.conf":           strings.Join([]string{"check sshdaemon", `check daemon {"port": [22, "80"], "ip": ["4", "6"]}`, "load constant 5"}, "\n"),
		"lbclient.conf.b.example": "check command true\nload constant 249\n\n"})
	lc := lgLoad(t, dir, netListen)
	require.False(t, lc.HasErrors(), lgProblems(lc))
	_, err := lbclient.Parse("converted.toml", []byte(Convert(lc)))
	assert.NoError(t, err)
}
