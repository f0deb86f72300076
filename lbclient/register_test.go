package lbclient

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/lbd/registry"
)

const testRegisterSecret = "lbclient-register-secret-0123"

func TestRegisterConfig(t *testing.T) {
	for _, c := range []struct {
		name, agent string
		secrets     string
		want        []string
	}{
		{"bad target", `register = ["lbd1"]`, "a " + testRegisterSecret, []string{"bad.toml:3", "agent.register[0]", "host:port"}},
		{"no secret file", `register = ["127.0.0.1:8080"]`, "", []string{"agent.register_secret_file", "required"}},
		{"missing file", "register = [\"127.0.0.1:8080\"]\nregister_secret_file = \"nope\"", "", []string{"agent.register_secret_file", "no such file"}},
		{"no secret for any alias", "register = [\"127.0.0.1:8080\"]\nregister_secret_file = \"secrets\"", "other.example " + testRegisterSecret, []string{"agent.register_secret_file", "none of the configured aliases"}},
		{"short secret", "register = [\"127.0.0.1:8080\"]\nregister_secret_file = \"secrets\"", "a short", []string{"agent.register_secret_file", "at least 16"}},
		{"interval", "register_interval = \"10ms\"", "", []string{"agent.register_interval", "at least 1s"}},
		{"ttl not above interval", "register_interval = \"10s\"\nregister_ttl = \"5s\"", "", []string{"agent.register_ttl", "more than register_interval"}},
		{"bad address", `register_addresses = ["0.0.0.0"]`, "", []string{"agent.register_addresses[0]", "unicast"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if c.secrets != "" {
				require.NoError(t, os.WriteFile(filepath.Join(dir, "secrets"), []byte(c.secrets+"\n"), 0o600))
			}
			f := filepath.Join(dir, "bad.toml")
			text := "[agent]\ncommunity = \"c\"\n" + c.agent + "\n[[alias]]\nname = \"a\"\n"
			require.NoError(t, os.WriteFile(f, []byte(text), 0o644))
			_, err := Load(f)
			require.Error(t, err, text)
			msg := strings.ReplaceAll(err.Error(), dir+"/", "")
			for _, w := range c.want {
				assert.Contains(t, msg, w)
			}
		})
	}
}

// The agent registers every alias that has a secret with each lbd, renews,
// and an lbd's registry (the real handler, in process) accepts it.
func TestAgentRegisters(t *testing.T) {
	reg := registry.New()
	policy := registry.Policy{Accepts: func(a string) bool { return a == "www.example" },
		Secrets: map[string][]byte{"www.example": []byte(testRegisterSecret)}}
	srv := httptest.NewServer(registry.Handler(reg, func() registry.Policy { return policy }, nil))
	defer srv.Close()
	target := strings.TrimPrefix(srv.URL, "http://")
	dir := t.TempDir()
	secrets := filepath.Join(dir, "secrets")
	require.NoError(t, os.WriteFile(secrets, []byte("www.example "+testRegisterSecret+"\n"), 0o600))
	cfg, _, _ := listenCfg(t, fmt.Sprintf(`register = [%q]
register_secret_file = %q
register_interval = "1s"
register_host = "node1.example"
register_addresses = ["127.0.0.1"]
[[alias]]
name = "www.example"
loads = [{ type = "constant", data = "5" }]
[[alias]]
name = "other.example"
loads = [{ type = "constant", data = "5" }]
`, target, secrets))
	startCfg(t, cfg)
	require.Eventually(t, func() bool { return reg.Stats().Accepted >= 2 }, 10*time.Second, 20*time.Millisecond, "registered and renewed")
	m := reg.Members("www.example")
	require.Len(t, m, 1)
	assert.Equal(t, "node1.example", m[0].Host)
	assert.Equal(t, "127.0.0.1", m[0].Addrs[0].String())
	assert.WithinDuration(t, time.Unix(m[0].Signed, 0).Add(3*time.Second), m[0].Expires, time.Second, "ttl: 3 × register_interval (signed time in whole seconds)")
	assert.Empty(t, reg.Stats().Refused, "other.example has no secret: not sent")
}
