package register

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSignVerify(t *testing.T) {
	secret := []byte("a-secret-of-16-chars")
	now := time.Unix(1764590000, 0)
	r := Sign(New("A.Example.org.", "Node1.example.org", []netip.Addr{netip.MustParseAddr("127.0.0.5"), netip.MustParseAddr("::1")}, 90*time.Second, now), secret)
	assert.Equal(t, "lbd-register v=1\nalias=a.example.org\nhost=node1.example.org\naddrs=127.0.0.5,::1\nttl=90\ntime=1764590000\n", Canonical(r))
	assert.True(t, Verify(r, secret))
	r.Addrs = []string{"::1", "127.0.0.5"}
	assert.True(t, Verify(r, secret), "the order of the addresses does not matter")

	for name, change := range map[string]func(*Registration){
		"other alias":   func(r *Registration) { r.Alias = "b.example.org" },
		"other host":    func(r *Registration) { r.Host = "node2.example.org" },
		"added address": func(r *Registration) { r.Addrs = append(r.Addrs, "192.0.2.1") },
		"longer ttl":    func(r *Registration) { r.TTLSeconds = 3600 },
		"later time":    func(r *Registration) { r.Time++ },
		"bad hex":       func(r *Registration) { r.MAC = "zz" },
		"version":       func(r *Registration) { r.Version = 2 },
	} {
		f := r
		change(&f)
		assert.False(t, Verify(f, secret), name)
	}
	assert.False(t, Verify(r, []byte("another-secret-0123")), "wrong secret")
}

func TestParseSecrets(t *testing.T) {
	got, err := ParseSecrets("# secrets\nA.example.org. s3cret-0123456789ab\n\nb.example.org  other-secret-0123456\n")
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"a.example.org": []byte("s3cret-0123456789ab"), "b.example.org": []byte("other-secret-0123456")}, got)
	for _, bad := range []struct{ text, err string }{
		{"a.example.org\n", "line 1: want"},
		{"a.example.org short\n", "at least 16"},
		{"a.example.org s3cret-0123456789ab\nA.example.org s3cret-0123456789ab\n", "line 2: A.example.org has a secret already"},
	} {
		_, err := ParseSecrets(bad.text)
		assert.ErrorContains(t, err, bad.err)
	}
}
