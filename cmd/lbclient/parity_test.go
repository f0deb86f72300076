package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/internal/testenv"
)

// -convert-legacy accepts what the existing CERN lbclient accepts: a
// daemon JSON with both "host" and "ip" (of any families), and an
// lbaliases that lists no alias (the node then serves none).
func TestParityConvertAccepts(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"daemon host and ip": {"lbaliases": "lbalias=a.example\n",
			"lbclient.conf": `check daemon {"port": 22, "host": ["127.0.0.1", "::1"], "ip": "ipv4"}` + "\nload constant 5\n"},
		"daemon host of the other family": {"lbaliases": "lbalias=a.example\n",
			"lbclient.conf": `check daemon {"port": 22, "host": "::1", "ip": "4"}` + "\n"},
		"empty lbaliases":    {"lbaliases": "", "lbclient.conf": "load constant 5\n"},
		"lbaliases comments": {"lbaliases": "# nothing here yet\n", "lbclient.conf": "check nologin\n"},
	} {
		t.Run(name, func(t *testing.T) {
			code, out, errs := runCmd("-convert-legacy", testenv.WriteTree(t, files))
			assert.Equal(t, 0, code, errs)
			assert.Contains(t, out, "[default]")
			assert.NotContains(t, errs, "error:")
		})
	}
}

// -pass-deadline bounds the legacy lines (30 s each otherwise): a 4 s
// command passes under an 8 s deadline (it was cut at 3 s: −14).
func TestParityPassDeadlineHonoured(t *testing.T) {
	dir := testenv.WriteTree(t, map[string]string{"lbaliases": "lbalias=a.example\n",
		"lbclient.conf": "check command sleep 4\nload constant 7\n"})
	start := time.Now()
	_, out, errs := runStdin("", "-legacy-dir", dir, "-g", theOID, "-pass-deadline", "8s")
	require.Empty(t, errs)
	assert.Equal(t, theOID+"\ninteger\n7\n", out)
	assert.GreaterOrEqual(t, time.Since(start), 4*time.Second)
}

// "check constant" answers −102 (an unparsable line), not −16.
func TestParityCheckConstantAnswer(t *testing.T) {
	dir := testenv.WriteTree(t, map[string]string{"lbaliases": "lbalias=a.example\n", "lbclient.conf": "check constant 4\n"})
	_, out, _ := runStdin("", "-legacy-dir", dir, "-g", theOID)
	assert.Equal(t, theOID+"\ninteger\n-102\n", out)
}
