package lbd

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lbd-project/lbd/lbd/config"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"
)

func TestReloadRefusesAuthoritativeChange(t *testing.T) {
	base := minimal + "[authoritative]\nlisten = \"127.0.0.1:5353\"\ndata_dir = \"/tmp/x\"\n" +
		"keys = [{ name = \"k.\", secret = \"c2VjcmV0\" }]\n[[authoritative.zone]]\nname = \"example.org\"\nupdate_keys = [\"k.\"]\n"
	cfg, err := config.Parse("a.toml", []byte(base))
	require.NoError(t, err)
	d := daemonFor(t, cfg)
	same, _ := config.Parse("a.toml", []byte(base))
	if err := d.SetConfig(same); err != nil {
		t.Fatalf("unchanged [authoritative] refused: %v", err)
	}
	moved, _ := config.Parse("a.toml", []byte(strings.Replace(base, "5353", "5354", 1)))
	if err := d.SetConfig(moved); err == nil || !strings.Contains(err.Error(), "[authoritative] changed") {
		t.Fatalf("err = %v", err)
	}
}

// role = auto without heartbeat.url: the daemon knows it is a slave only
// from the host name, and refuses to start as one.
func TestAutoSlaveNeedsHeartbeatURL(t *testing.T) {
	auto := strings.Replace(minimal, `role = "master"`, "role = \"auto\"\nmaster = \"m.example.org\"", 1)
	cfg, err := config.Parse("auto.toml", []byte(auto))
	if err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	if d, err := New(cfg, "m.example.org", log); err != nil {
		t.Fatalf("master: %v", err)
	} else {
		d.poller.Close()
	}
	if _, err := New(cfg, "s.example.org", log); err == nil || !strings.Contains(err.Error(), "heartbeat.url") {
		t.Fatalf("auto slave without heartbeat.url: %v", err)
	}
}

// minimal is a small valid configuration (config/testdata/minimal.toml).
var minimal = func() string {
	b, err := os.ReadFile(filepath.Join("config", "testdata", "minimal.toml"))
	if err != nil {
		panic(err)
	}
	return string(b)
}()
