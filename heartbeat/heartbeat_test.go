package heartbeat

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLineRoundTrip(t *testing.T) {
	now := time.Unix(1700000000, 0)
	l := Line("lbmaster.cern.ch", now)
	if l != "lbmaster.cern.ch : 1700000000 : I am alive\n" {
		t.Fatalf("line %q", l)
	}
	got, err := Parse("junk before "+l+" after", "lbmaster.cern.ch")
	if err != nil || !got.Equal(now) {
		t.Fatalf("parse %v %v", got, err)
	}
	if _, err := Parse(l, "lbmaster"); err == nil {
		t.Fatal("a short name must not match the FQDN's line")
	}
	for _, bad := range []string{"", "other.host : 1 : I am alive", "lbmaster.cern.ch : x : I am alive", "lbmasterXcern.ch : 1 : I am alive"} {
		if _, err := Parse(bad, "lbmaster.cern.ch"); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
}

func TestFollower(t *testing.T) {
	t0 := time.Unix(1000, 0)
	f := Follower{StaleAfter: 30 * time.Second}
	if a, ch := f.Active(t0); !a || !ch {
		t.Fatalf("no beat seen yet: want active, changed; got %v %v", a, ch)
	}
	f.Observe(t0, t0, true)
	if a, ch := f.Active(t0.Add(time.Second)); a || !ch {
		t.Fatalf("fresh beat: want passive, changed; got %v %v", a, ch)
	}
	// Fetch failures bring no news; stays passive until the beat ages out.
	f.Observe(t0.Add(2*time.Second), time.Time{}, false)
	if a, ch := f.Active(t0.Add(30 * time.Second)); a || ch {
		t.Fatalf("at exactly stale_after: want passive, unchanged; got %v %v", a, ch)
	}
	if a, ch := f.Active(t0.Add(31 * time.Second)); !a || !ch {
		t.Fatalf("stale: want active, changed; got %v %v", a, ch)
	}
	// An old beat does not roll time back.
	f.Observe(t0.Add(32*time.Second), t0.Add(-time.Hour), true)
	if f.LastBeat() != t0 {
		t.Fatalf("last beat went back to %v", f.LastBeat())
	}
	// Master back.
	f.Observe(t0.Add(40*time.Second), t0.Add(40*time.Second), true)
	if a, ch := f.Active(t0.Add(41 * time.Second)); a || !ch {
		t.Fatalf("master back: want passive, changed; got %v %v", a, ch)
	}
}

// A master whose clock is ahead must not keep the slave passive for the
// skew once it stops: the beat counts as seen at the time of the fetch.
func TestFollowerFutureBeat(t *testing.T) {
	t0 := time.Unix(1000, 0)
	f := Follower{StaleAfter: 30 * time.Second}
	f.Observe(t0, t0.Add(time.Hour), true)
	if a, _ := f.Active(t0.Add(time.Second)); a {
		t.Fatal("fresh (future) beat: want passive")
	}
	// The master stops: fetches fail from now on.
	f.Observe(t0.Add(5*time.Second), time.Time{}, false)
	if a, _ := f.Active(t0.Add(31 * time.Second)); !a {
		t.Fatalf("master silent for stale_after: want active (last beat %v)", f.LastBeat())
	}
}

func TestPublisherAndFetch(t *testing.T) {
	p := &Publisher{}
	srv := httptest.NewServer(p)
	defer srv.Close()
	ctx := context.Background()
	if _, err := Fetch(ctx, srv.Client(), srv.URL+Path, "m.example.org"); err == nil {
		t.Fatal("fetch before first beat succeeded")
	}
	now := time.Unix(1700000123, 0)
	p.Beat("m.example.org", nil, now)
	got, err := Fetch(ctx, srv.Client(), srv.URL+Path, "m.example.org")
	if err != nil || !got.Equal(now) {
		t.Fatalf("fetch %v %v", got, err)
	}
	if _, err := Fetch(ctx, srv.Client(), srv.URL, "other.example.org"); err == nil || !strings.Contains(err.Error(), "no heartbeat line") {
		t.Fatalf("wrong master accepted: %v", err)
	}
	p.Stop()
	if _, err := Fetch(ctx, srv.Client(), srv.URL, "m.example.org"); err == nil {
		t.Fatal("fetch after Stop succeeded")
	}
	if _, err := Fetch(ctx, http.DefaultClient, "http://127.0.0.1:1/x", "m"); err == nil {
		t.Fatal("unreachable master: no error")
	}
}

func TestWriteFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "heartbeat")
	l := Line("m.example.org", time.Unix(42, 0))
	if err := WriteFile(path, l); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	st, _ := os.Stat(path)
	if string(b) != "m.example.org : 42 : I am alive\n" || st.Mode().Perm() != 0o644 {
		t.Fatalf("content %q mode %v", b, st.Mode())
	}
	if _, err := os.Stat(path + "temp"); !os.IsNotExist(err) {
		t.Fatalf("temp file left behind: %v", err)
	}
}

func TestFollowerGrace(t *testing.T) {
	t0 := time.Unix(1000, 0)
	f := Follower{StaleAfter: 10 * time.Second}
	f.Grace(t0)
	if a, _ := f.Active(t0.Add(5 * time.Second)); a {
		t.Fatal("active during the start-up grace")
	}
	if a, _ := f.Active(t0.Add(11 * time.Second)); !a {
		t.Fatal("still passive after the grace with no beat")
	}
}
