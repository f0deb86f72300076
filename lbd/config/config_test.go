package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExampleConfigLoads(t *testing.T) {
	cfg, err := Load(filepath.Join("..", "..", "etc", "lbd.toml"))
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
		{"negative serial_cache", "", ""},
		{"no update in flight", "", ""},
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
		if c.name == "negative serial_cache" {
			src = strings.Replace(minimal, "[dns]\n", "[dns]\nserial_cache = \"-1s\"\n", 1)
			c.want = "key dns.serial_cache: must not be negative"
		}
		if c.name == "no update in flight" {
			src = strings.Replace(minimal, "[dns]\n", "[dns]\nupdates_in_flight = 0\n", 1)
			c.want = "key dns.updates_in_flight: must be at least 1"
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

func TestEmbeddedExampleLoads(t *testing.T) {
	cfg, err := Load(filepath.Join("..", "..", "etc", "lbd-embedded.toml"))
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

func TestHeartbeatSecretConfig(t *testing.T) {
	dir := t.TempDir()
	private := writeSecret(t, dir, hbSecret+"\n", 0o600)
	open := filepath.Join(dir, "open.secret")
	require.NoError(t, os.WriteFile(open, []byte(hbSecret), 0o644))
	require.NoError(t, os.Chmod(open, 0o644))
	short := filepath.Join(dir, "short.secret")
	require.NoError(t, os.WriteFile(short, []byte("short\n"), 0o600))
	empty := filepath.Join(dir, "empty.secret")
	require.NoError(t, os.WriteFile(empty, []byte(" \n"), 0o600))
	v2 := `url = "http://m:8080/load-balancing/heartbeat.v2"`

	for _, tc := range []struct {
		name, hb string
		err      string // "" = valid
		warn     string // "" = no warning
	}{
		{"no secret", `url = "http://m:8080/load-balancing/heartbeat"`, "", ""},
		{"secret file", v2 + "\nsecret_file = " + quote(private), "", ""},
		{"world-readable secret file", v2 + "\nsecret_file = " + quote(open), "", "accessible to every user (mode 0644)"},
		{"inline secret", v2 + "\nsecret = " + quote(hbSecret), "", ""},
		{"both", v2 + "\nsecret = " + quote(hbSecret) + "\nsecret_file = " + quote(private), "key heartbeat.secret: set either", ""},
		{"missing file", v2 + "\nsecret_file = " + quote(filepath.Join(dir, "nope")), "key heartbeat.secret_file: stat", ""},
		{"directory", v2 + "\nsecret_file = " + quote(dir), "not a regular file", ""},
		{"empty file", v2 + "\nsecret_file = " + quote(empty), "is empty", ""},
		{"short secret", v2 + "\nsecret_file = " + quote(short), "the secret is 5 bytes, at least 16", ""},
		{"legacy URL with a secret", `url = "http://m:8080/load-balancing/heartbeat"` + "\nsecret = " + quote(hbSecret),
			"point the URL at /load-balancing/heartbeat.v2", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("hb.toml", []byte(hbConfig("[lbd]\nrole = \"master\"", tc.hb)))
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			if tc.warn == "" {
				assert.Empty(t, cfg.Warnings())
			} else {
				require.Len(t, cfg.Warnings(), 1)
				assert.Contains(t, cfg.Warnings()[0], tc.warn)
				assert.Contains(t, cfg.Warnings()[0], "heartbeat.secret_file")
			}
			if strings.Contains(tc.hb, "secret") {
				assert.Equal(t, []byte(hbSecret), cfg.Heartbeat.Key(), "trimmed secret")
			} else {
				assert.Nil(t, cfg.Heartbeat.Key())
			}
		})
	}
}

// A relative secret_file is found next to the configuration file; an
// inline secret in a world-readable file is warned about.
func TestHeartbeatSecretPaths(t *testing.T) {
	dir := t.TempDir()
	writeSecret(t, dir, hbSecret, 0o640)
	path := filepath.Join(dir, "lbd.toml")
	require.NoError(t, os.WriteFile(path, []byte(hbConfig("[lbd]\nrole = \"master\"", `secret_file = "hb.secret"`)), 0o644))
	cfg, err := Load(path)
	require.NoError(t, err)
	assert.Equal(t, []byte(hbSecret), cfg.Heartbeat.Key())
	assert.Empty(t, cfg.Warnings(), "mode 0640 is what an operator expects")

	require.NoError(t, os.WriteFile(path, []byte(hbConfig("[lbd]\nrole = \"master\"", "secret = "+quote(hbSecret))), 0o644))
	require.NoError(t, os.Chmod(path, 0o644))
	cfg, err = Load(path)
	require.NoError(t, err)
	require.Len(t, cfg.Warnings(), 1)
	assert.Contains(t, cfg.Warnings()[0], "inline in a world-readable file")
}

// hbConfig is minimal with [lbd] and [heartbeat] replaced.
func hbConfig(lbdSection, heartbeatSection string) string {
	return strings.Replace(minimal, "[lbd]\nrole = \"master\"\n", lbdSection+"\n[heartbeat]\n"+heartbeatSection+"\n", 1)
}

func writeSecret(t *testing.T, dir, secret string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, "hb.secret")
	require.NoError(t, os.WriteFile(p, []byte(secret), mode))
	require.NoError(t, os.Chmod(p, mode))
	return p
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `\`, `\\`) + `"` }

const hbSecret = "a-shared-heartbeat-secret-of-32+bytes"

// minimal is a small valid configuration (testdata/minimal.toml).
var minimal = func() string {
	b, err := os.ReadFile(filepath.Join("testdata", "minimal.toml"))
	if err != nil {
		panic(err)
	}
	return string(b)
}()

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func TestListItemErrors(t *testing.T) {
	src := minimal + `[[alias]]
name = "b.example.org"
members = [
  "node1.example.org",
  "10.0.0.1",
  "NODE1.example.org.",
  "::ffff:10.0.0.1",
]
fallback = "nobody"
`
	_, err := Parse("list.toml", []byte(src))
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, `list.toml:17: key alias[1].members[2]: member "NODE1.example.org." is listed twice (also alias[1].members[0], line 15)`)
	assert.Contains(t, msg, `list.toml:18: key alias[1].members[3]: member "::ffff:10.0.0.1" is listed twice (also alias[1].members[1], line 16)`)
	assert.Contains(t, msg, `unknown fallback "nobody"`, "the bad value is named")
}

// lbd's file lists every member: a large site's (2.5 MB here) loads, one
// over MaxFileSize is refused before it is read.
func TestLargeConfig(t *testing.T) {
	var b strings.Builder
	b.WriteString(minimal)
	for i := 0; b.Len() < 2500000; i++ {
		fmt.Fprintf(&b, "[[alias]]\nname = \"a%d.example.org\"\nmembers = [\"10.%d.%d.1\", \"10.%d.%d.2\"]\n", i, i/250%250, i%250, i/250%250, i%250)
	}
	cfg, err := Parse("big.toml", []byte(b.String()))
	require.NoError(t, err)
	assert.Greater(t, len(cfg.Params), 10000)

	path := filepath.Join(t.TempDir(), "huge.toml")
	require.NoError(t, os.WriteFile(path, make([]byte, MaxFileSize+1), 0o644))
	_, err = Load(path)
	require.ErrorContains(t, err, "larger than the 16777216 bytes")
}

func TestMembersFromRegister(t *testing.T) {
	dir := t.TempDir()
	secrets := filepath.Join(dir, "register.secrets")
	require.NoError(t, os.WriteFile(secrets, []byte("b.example.org register-secret-0123456789\n"), 0o600))
	regAlias := "[[alias]]\nname = \"b.example.org\"\nmembers_from = \"register\"\n"
	withLBD := func(lines string) string { return strings.Replace(minimal, "[lbd]\n", "[lbd]\n"+lines, 1) }

	cfg, err := Parse(filepath.Join(dir, "ok.toml"), []byte(withLBD("http_listen = \"127.0.0.1:0\"\nregister_secret_file = \"register.secrets\"\n")+regAlias))
	require.NoError(t, err, "no static member needed with members_from = \"register\"")
	assert.True(t, cfg.Params[1].Register)
	assert.False(t, cfg.Params[0].Register)
	assert.Equal(t, []byte("register-secret-0123456789"), cfg.RegisterSecrets()["b.example.org"])

	more := cfg.WithMembers(map[int][]string{1: {"node7.example.org", "node7.example.org"}})
	assert.Equal(t, []string{"node7.example.org"}, more.Params[1].Members, "added once")
	assert.Empty(t, cfg.Params[1].Members, "the compiled configuration is not modified")
	assert.Same(t, cfg, cfg.WithMembers(nil))

	for _, c := range []struct{ name, src, want string }{
		{"needs http_listen", withLBD("register_secret_file = \"register.secrets\"\n") + regAlias, "key alias[1].members_from: registrations arrive over HTTP"},
		{"needs a secret file", withLBD("http_listen = \"127.0.0.1:0\"\n") + regAlias, "key alias[1].members_from: registrations are signed"},
		{"bad value", minimal + "[[alias]]\nname = \"b.example.org\"\nmembers = [\"x\"]\nmembers_from = \"dns\"\n", `alias[1].members_from: want "register"`},
		{"missing secret file", withLBD("http_listen = \"127.0.0.1:0\"\nregister_secret_file = \"nope\"\n") + regAlias, "key lbd.register_secret_file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(filepath.Join(dir, "bad.toml"), []byte(c.src))
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

// The bound on zones in flight ([dns] updates_in_flight) is per server:
// a server's internal and external views share it (the server's update
// quota counts both), two servers do not.
func TestUpdatesInFlightPerServer(t *testing.T) {
	src := strings.Replace(minimal, `server = "127.0.0.1:53"`,
		`servers = ["127.0.0.1:53", "127.0.0.2:53"]
updates_in_flight = 5
external_key = { name = "ext.", secret = "ZXh0ZXJuYWw=" }`, 1)
	cfg, err := Parse("inflight.toml", []byte(src))
	require.NoError(t, err)
	require.Len(t, cfg.Views, 4)
	byServer := map[string][]*View{}
	for _, v := range cfg.Views {
		byServer[v.Server] = append(byServer[v.Server], v)
	}
	require.Len(t, byServer, 2)
	for srv, views := range byServer {
		require.Len(t, views, 2, srv)
		assert.NotNil(t, views[0].Client.InFlight, srv)
		assert.Equal(t, 5, cap(views[0].Client.InFlight), srv)
		assert.True(t, views[0].Client.InFlight == views[1].Client.InFlight, "%s: internal and external views share the bound", srv)
	}
	assert.False(t, byServer["127.0.0.1:53"][0].Client.InFlight == byServer["127.0.0.2:53"][0].Client.InFlight, "two servers, two bounds")
}
