package legacy

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/lbclient"
	"github.com/lbd-project/lbd/lbclient/agent"
)

// A legacy configuration served through the pass modes.

func TestPassOutput(t *testing.T) {
	lc := lgLoad(t, "testdata/two", t.TempDir())
	src := lc.Compiled
	ctx := context.Background()
	want := ".1.3.6.1.4.1.96.255.1\nstring\ntest2.cern.ch=40000,test.cern.ch=50000\n"
	assert.Equal(t, want, lbclient.Pass(ctx, src, lbclient.PassGet, agent.OID, 0, testenv.QuietLogger()))
	assert.Equal(t, want, lbclient.Pass(ctx, src, lbclient.PassGetNext, ".1.3.6.1.4.1.96.255", 0, testenv.QuietLogger()))
	assert.Equal(t, "", lbclient.Pass(ctx, src, lbclient.PassGetNext, agent.OID, 0, testenv.QuietLogger()))
	assert.Equal(t, "", lbclient.Pass(ctx, src, lbclient.PassGet, ".1.3.6.1.4.1.96.255.2", 0, testenv.QuietLogger()))
	assert.Equal(t, ".1.3.6.1.4.1.96.255.1\ninteger\n-13\n", lbclient.FormatPass(agent.Value{Int: -13}))
}

func TestServePassPersist(t *testing.T) {
	dir := testenv.WriteTree(t, map[string]string{"lbaliases": "lbalias=test.cern.ch\n", "lbclient.conf": "check nologin\nload constant 50000\n"})
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	lc := Load(dir, Options{Root: root, Interval: 20 * time.Millisecond})
	lc.DefaultLoad = func(string) int { return 1 }

	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- lbclient.ServePassPersist(context.Background(), lc.Compiled, inR, outW, lbclient.PassPersistOptions{Log: testenv.QuietLogger()})
		outW.Close()
	}()
	rd := bufio.NewReader(outR)
	send := func(s string) {
		t.Helper()
		if _, err := io.WriteString(inW, s); err != nil {
			t.Fatal(err)
		}
	}
	read := func(n int) string {
		t.Helper()
		var b strings.Builder
		for i := 0; i < n; i++ {
			l, err := rd.ReadString('\n')
			if err != nil {
				t.Fatalf("read: %v (so far %q)", err, b.String())
			}
			b.WriteString(l)
		}
		return b.String()
	}
	send("PING\n")
	assert.Equal(t, "PONG\n", read(1))
	send("get\n.1.3.6.1.4.1.96.255.1\n")
	assert.Equal(t, ".1.3.6.1.4.1.96.255.1\ninteger\n50000\n", read(3))
	send("getnext\n.1.3.6.1.4.1.96\n")
	assert.Equal(t, ".1.3.6.1.4.1.96.255.1\ninteger\n50000\n", read(3))
	send("getnext\n.1.3.6.1.4.1.96.255.1\n")
	assert.Equal(t, "NONE\n", read(1))
	send("get\n.1.3.6.1.4.1.96.255.1.0\n")
	assert.Equal(t, "NONE\n", read(1))
	send("set\n.1.3.6.1.4.1.96.255.1\ninteger 5\n")
	assert.Equal(t, "not-writable\n", read(1))
	send("\nfrobnicate\n")
	assert.Equal(t, "NONE\n", read(1))
	send("ping\r\n")
	assert.Equal(t, "PONG\n", read(1))

	// the background evaluator picks up /etc/nologin (bounded wait)
	testenv.Touch(t, root, "etc/nologin")
	var got string
	for i := 0; i < 200; i++ {
		send("get\n.1.3.6.1.4.1.96.255.1\n")
		if got = read(3); got == ".1.3.6.1.4.1.96.255.1\ninteger\n-1\n" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	assert.Equal(t, ".1.3.6.1.4.1.96.255.1\ninteger\n-1\n", got)

	inW.Close() // EOF: exit
	select {
	case err := <-errc:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("no exit at EOF")
	}
}
