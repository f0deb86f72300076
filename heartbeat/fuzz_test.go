package heartbeat

import (
	"testing"
	"time"
)

// FuzzParse: the legacy line and the authenticated beat parsers never
// panic on a fetched body, and a body accepted as a beat is the one signed.
func FuzzParse(f *testing.F) {
	key := []byte("a-shared-heartbeat-secret-of-32+bytes")
	now := time.Unix(1800000000, 0)
	f.Add(Line("lbd1.example.org", now))
	f.Add(Beat{Instance: "lbd1.example.org", Time: now, Counter: 7}.Sign(key))
	f.Add("lbd1.example.org : 99999999999999999999999 : I am alive")
	f.Add("")
	f.Fuzz(func(t *testing.T, body string) {
		Parse(body, "lbd1.example.org")
		b, err := Verify(body, key)
		if err == nil && b.Sign(key) != body && b.Sign(key)+"\n" != body {
			t.Fatalf("verified a body that is not the signed beat: %q", body)
		}
	})
}
