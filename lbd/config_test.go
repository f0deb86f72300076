package lbd

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExampleConfigLoads(t *testing.T) {
	cfg, err := Load(filepath.Join("..", "etc", "lbd.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Aliases) != 2 {
		t.Fatalf("aliases: %d", len(cfg.Aliases))
	}
	p := cfg.Params[1]
	if p.Name != "db.lb.example.org" || p.Zone != "db.lb.example.org" || p.BestHosts != -1 ||
		p.TTL != 300*time.Second || p.Fallback != FallbackNone || !p.External || p.Hysteresis != 0.1 {
		t.Fatalf("params %+v", p)
	}
	if p0 := cfg.Params[0]; p0.PollingInterval != 5*time.Minute || p0.Fallback != FallbackKeep {
		t.Fatalf("defaults not inherited: %+v", p0)
	}
	if !cfg.IsMaster("lbd1.example.org") || cfg.IsMaster("lbd1") {
		t.Fatal("role auto: exact host name match")
	}
}

const minimal = `
[lbd]
role = "master"
[dns]
server = "127.0.0.1:53"
internal_key = { name = "k.", algorithm = "hmac-sha256", secret = "c2VjcmV0" }
[snmp]
auth_password = "12345678"
[[alias]]
name = "a.example.org"
members = ["127.0.0.2"]
`

func TestMinimalConfig(t *testing.T) {
	cfg, err := Parse("min.toml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Params[0]
	if p.BestHosts != 2 || p.TTL != time.Minute || p.Fallback != FallbackKeep {
		t.Fatalf("defaults: %+v", p)
	}
}

func TestLegacyFallbackNames(t *testing.T) {
	for legacy, want := range map[string]Fallback{"cmsfrontier": FallbackKeep, "minino": FallbackNone, "minimum": FallbackAllRandom, "ALL-RANDOM": FallbackAllRandom} {
		got, err := ParseFallback(legacy)
		if err != nil || got != want {
			t.Errorf("%s → %q %v", legacy, got, err)
		}
	}
}

func TestBadConfigs(t *testing.T) {
	cases := []struct {
		name, edit, want string
	}{
		{"unknown key", `[[alias]]` + "\nname = \"b.example.org\"\nmembers=[\"x\"]\nbets_hosts = 2\n",
			"bad.toml:15: key alias.bets_hosts: unknown key"},
		{"unknown section key", "[snmp2]\nx = 1\n", "key snmp2"},
		{"missing alias name", "[[alias]]\nmembers = [\"x\"]\n", "bad.toml:12: key alias[1].name: required"},
		{"best_hosts < -1", "[[alias]]\nname = \"b.example.org\"\nmembers = [\"x\"]\nbest_hosts = -2\n",
			"bad.toml:15: key alias[1].best_hosts: must be -1"},
		{"best_hosts 0", "[defaults]\nbest_hosts = 0\n", "key defaults.best_hosts"},
		{"bad duration", "[defaults]\nttl = \"5 minutes\"\n", "bad.toml:13: key defaults.ttl: bad duration"},
		{"bad TSIG secret", "", "key dns.internal_key.secret: not valid base64"},
		{"duplicate alias", "[[alias]]\nname = \"A.example.org.\"\nmembers = [\"x\"]\n", "already defined"},
		{"bad fallback", "[defaults]\nfallback = \"random\"\n", "unknown fallback"},
		{"external without key", "[[alias]]\nname = \"b.example.org\"\nmembers = [\"x\"]\nexternal = true\n", "needs dns.external_key"},
		{"no members", "[[alias]]\nname = \"b.example.org\"\nmembers = []\n", "alias[1].members: at least one"},
		{"bad snmp version", "", ""},
		{"DNS server without host", "", ""},
		{"group with a space", "", ""},
	}
	for _, c := range cases {
		src := minimal + c.edit
		if c.name == "bad TSIG secret" {
			src = strings.Replace(minimal, `secret = "c2VjcmV0"`, `secret = "not base64!"`, 1)
		}
		if c.name == "group with a space" {
			src = strings.Replace(minimal, "role = \"master\"\n", "role = \"master\"\ngroup = \"my group\"\n", 1)
			c.want = "bad.toml:4: key lbd.group: \"my group\": only letters"
		}
		if c.name == "DNS server without host" {
			// SplitHostPort accepts ":53"; the update client cannot use it.
			src = strings.Replace(minimal, `server = "127.0.0.1:53"`, `server = ":53"`, 1)
			c.want = "bad.toml:5: key dns.server: DNS server address \":53\": empty host"
		}
		if c.name == "bad snmp version" {
			src = strings.Replace(minimal, "[snmp]\n", "[snmp]\nversion = \"1\"\n", 1)
			c.want = "bad.toml:8: key snmp.version"
		}
		_, err := Parse("bad.toml", []byte(src))
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not contain %q", c.name, err, c.want)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.toml"))
	if err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Fatalf("err %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func TestEmbeddedExampleLoads(t *testing.T) {
	cfg, err := Load(filepath.Join("..", "etc", "lbd-embedded.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.DNSServers(); len(got) != 1 || got[0] != "127.0.0.1:5353" {
		t.Fatalf("servers %v", got)
	}
	if p := cfg.Params[0]; p.Zone != "lb.example.org" {
		t.Fatalf("alias zone %q, want the embedded zone", p.Zone)
	}
}

func TestEmbeddedConfigErrors(t *testing.T) {
	base := `
[lbd]
role = "master"
[dns]
internal_key = { name = "k.", secret = "c2VjcmV0" }
[snmp]
auth_password = "12345678"
[authoritative]
listen = "127.0.0.1:5353"
data_dir = "/tmp/x"
keys = [{ name = "k.", secret = "c2VjcmV0" }]
[[authoritative.zone]]
name = "lb.test"
update_keys = ["k."]
`
	for name, c := range map[string]struct{ edit, want string }{
		"alias outside zones": {"[[alias]]\nname = \"www.other.test\"\nmembers = [\"x\"]\n", "is in no [[authoritative.zone]]"},
		"unknown update key":  {"[[authoritative.zone]]\nname = \"b.test\"\nupdate_keys = [\"nope.\"]\n", "authoritative.zone[1].update_keys[0]: key \"nope.\" is not in authoritative.keys"},
		"explicit wrong zone": {"[[alias]]\nname = \"www.lb.test\"\nzone = \"www.lb.test\"\nmembers = [\"x\"]\n", "serves zone \"lb.test\", not \"www.lb.test\""},
	} {
		_, err := Parse("a.toml", []byte(base+c.edit))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := Parse("a.toml", []byte(base+"[[alias]]\nname = \"www.lb.test\"\nmembers = [\"x\"]\n")); err != nil {
		t.Fatalf("valid embedded config: %v", err)
	}
}

func TestStaleAfterBound(t *testing.T) {
	src := minimal + "[heartbeat]\ninterval = \"5s\"\nstale_after = \"10s\"\n"
	if _, err := Parse("hb.toml", []byte(src)); err == nil || !strings.Contains(err.Error(), "heartbeat.stale_after: must be at least 2 × heartbeat.interval + 1s (11s)") {
		t.Fatalf("err %v", err)
	}
	if _, err := Parse("hb.toml", []byte(strings.Replace(src, "10s", "11s", 1))); err != nil {
		t.Fatal(err)
	}
}

// A slave without heartbeat.url could never see the master: it would take
// over after stale_after and both would write DNS for ever.
func TestSlaveNeedsHeartbeatURL(t *testing.T) {
	src := strings.Replace(minimal, `role = "master"`, `role = "slave"`, 1)
	_, err := Parse("slave.toml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), "slave.toml: key heartbeat.url: required") {
		t.Fatalf("role = slave without heartbeat.url: %v", err)
	}
	if _, err := Parse("slave.toml", []byte(src+"[heartbeat]\nurl = \"http://127.0.0.1:1/load-balancing/heartbeat\"\n")); err != nil {
		t.Fatal(err)
	}
	// role = auto: known to be a slave only with the host name.
	auto := strings.Replace(minimal, `role = "master"`, "role = \"auto\"\nmaster = \"m.example.org\"", 1)
	cfg, err := Parse("auto.toml", []byte(auto))
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

func TestReloadRefusesAuthoritativeChange(t *testing.T) {
	base := minimal + "[authoritative]\nlisten = \"127.0.0.1:5353\"\ndata_dir = \"/tmp/x\"\n" +
		"keys = [{ name = \"k.\", secret = \"c2VjcmV0\" }]\n[[authoritative.zone]]\nname = \"example.org\"\nupdate_keys = [\"k.\"]\n"
	cfg, err := Parse("a.toml", []byte(base))
	require.NoError(t, err)
	d := daemonFor(t, cfg)
	same, _ := Parse("a.toml", []byte(base))
	if err := d.SetConfig(same); err != nil {
		t.Fatalf("unchanged [authoritative] refused: %v", err)
	}
	moved, _ := Parse("a.toml", []byte(strings.Replace(base, "5353", "5354", 1)))
	if err := d.SetConfig(moved); err == nil || !strings.Contains(err.Error(), "[authoritative] changed") {
		t.Fatalf("err = %v", err)
	}
}

func TestAnswerSizeWarnings(t *testing.T) {
	members := func(n int) string {
		var b strings.Builder
		for i := range n {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "\"10.0.%d.%d\"", i/250, i%250+1)
		}
		return b.String()
	}
	for _, tc := range []struct {
		name    string
		members int
		best    int
		want    string
	}{
		{"two of three: fine", 3, 2, ""},
		{"20 AAAA: over 512 bytes", 20, -1, "exceeds 512 bytes"},
		{"60 AAAA: over 1232 bytes", 60, -1, "exceeds the 1232-byte EDNS buffer"},
		{"150 of a type: BIND refuses", 150, -1, "max-records-per-type"},
		{"best_hosts bounds it", 150, 2, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(minimal, `members = ["127.0.0.2"]`, fmt.Sprintf("members = [%s]\nbest_hosts = %d", members(tc.members), tc.best), 1)
			cfg, err := Parse("w.toml", []byte(src))
			require.NoError(t, err)
			if tc.want == "" {
				assert.Empty(t, cfg.Warnings())
				return
			}
			require.Len(t, cfg.Warnings(), 1)
			assert.Contains(t, cfg.Warnings()[0], tc.want)
			assert.Contains(t, cfg.Warnings()[0], "w.toml:")
			assert.Contains(t, cfg.Warnings()[0], "alias[0].best_hosts")
		})
	}
}
