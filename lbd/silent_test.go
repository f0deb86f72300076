package lbd

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/lbd/config"
)

func TestSilentFile(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	a, b, c := netip.MustParseAddr("127.1.0.1"), netip.MustParseAddr("::1"), netip.MustParseAddr("127.1.0.3")
	var buf bytes.Buffer
	require.NoError(t, writeSilent(&buf, map[netip.Addr]time.Time{a: now.Add(-time.Minute), b: now.Add(-59 * time.Minute), c: now.Add(-61 * time.Minute)}))
	buf.WriteString("127.0.0.1\n127.0.0.x 5\n")
	got, bad, err := readSilent(&buf, now)
	require.NoError(t, err)
	assert.Equal(t, 2, bad)
	assert.Len(t, got, 2, "older than an hour: forgotten")
	assert.True(t, got[a].Equal(now.Add(-time.Minute)))
	assert.Contains(t, got, b)

	_, _, err = readSilent(strings.NewReader("[lbd]\n"), now)
	assert.ErrorContains(t, err, "not a silent-members file")
	_, _, err = readSilent(strings.NewReader(""), now)
	assert.Error(t, err)
}

// A member whose poll failed is remembered across a restart (with
// state_dir): the next run polls it apart from the others from its first
// cycle.
func TestSilentMembersKeptAcrossRestart(t *testing.T) {
	state := t.TempDir()
	src := replaceOnce(t, quickConfig(t), "[lbd]\n", "[lbd]\nstate_dir = "+strconv.Quote(state)+"\n")
	src = replaceOnce(t, src, "members = [\"m.example.org\"]", "members = [\"127.0.0.1\"]") // no agent there: the poll fails
	cfg, err := config.Parse("d.toml", []byte(src))
	require.NoError(t, err)
	d := daemonFor(t, cfg)
	d.Once(context.Background())
	b, err := os.ReadFile(filepath.Join(state, SilentFile))
	require.NoError(t, err)
	assert.Contains(t, string(b), "\n127.0.0.1 ")

	next := daemonFor(t, cfg)
	answering, silent := next.splitSilent([]netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")})
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("127.0.0.2")}, answering)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("127.0.0.1")}, silent)
}
