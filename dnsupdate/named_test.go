package dnsupdate

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/internal/tsig"
	"github.com/miekg/dns"
)

// Test keys: fixed secrets, one per algorithm.
var (
	keySHA256 = tsig.Spec{Name: "lbd-internal.", Algorithm: "hmac-sha256", Secret: "bGJkLWludGVybmFsLXNlY3JldC1zaGEyNTYtMzJieXRlcw=="}
	keyMD5    = tsig.Spec{Name: "lbd-md5.", Algorithm: "hmac-md5", Secret: "bGVnYWN5LW1kNS1zZWNyZXQ="}
	keySHA1   = tsig.Spec{Name: "lbd-sha1.", Algorithm: "hmac-sha1", Secret: "c2hhMS1zZWNyZXQtZm9yLXRlc3Rz"}
	keySHA512 = tsig.Spec{Name: "lbd-sha512.", Algorithm: "hmac-sha512", Secret: "c2hhNTEyLXNlY3JldC1mb3ItdGVzdHMtc2hhNTEyLXNlY3JldC1mb3ItdGVzdHM="}
	keyExt    = tsig.Spec{Name: "lbd-external.", Algorithm: "hmac-sha256", Secret: "bGJkLWV4dGVybmFsLXNlY3JldC1zaGEyNTY="}
)

const (
	zone  = "lb.example.org."
	alias = "www.lb.example.org."
)

func newClient(t testing.TB, n *testenv.Named, k tsig.Spec) *Client {
	return &Client{Server: n.Addr, Key: testenv.CompileKey(t, k), Timeout: 2 * time.Second, Backoff: 20 * time.Millisecond}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// published returns the A and AAAA addresses named serves for name
// (through key's view when key is not nil).
func published(t *testing.T, n *testenv.Named, name string, key *tsig.Spec) ([]netip.Addr, uint32) {
	t.Helper()
	var out []netip.Addr
	var ttl uint32
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		for _, rr := range n.QueryView(t, name, qt, key) {
			switch r := rr.(type) {
			case *dns.A:
				out = append(out, netip.MustParseAddr(r.A.String()))
			case *dns.AAAA:
				out = append(out, netip.MustParseAddr(r.AAAA.String()))
			default:
				continue
			}
			ttl = rr.Header().Ttl
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out, ttl
}

type recorder struct {
	mu       sync.Mutex
	attempts []Attempt
}

func (r *recorder) observe(a Attempt) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts = append(r.attempts, a)
}

func (r *recorder) count(op, network string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, a := range r.attempts {
		if a.Op == op && (network == "" || a.Net == network) {
			n++
		}
	}
	return n
}

// reusedTCP counts the TCP exchanges made on a connection kept from an
// earlier one.
func (r *recorder) reusedTCP() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, a := range r.attempts {
		if a.Net == "tcp" && a.Reused {
			n++
		}
	}
	return n
}

func TestNamedApplyQueryRoundTrip(t *testing.T) {
	n := testenv.StartNamed(t, testenv.NamedOptions{Zones: []string{zone}, Keys: []tsig.Spec{keySHA256}})
	c := newClient(t, n, keySHA256)
	rec := &recorder{}
	c.Observe = rec.observe
	ctx := ctxT(t)

	st, err := c.Query(ctx, alias)
	if err != nil {
		t.Fatalf("query before: %v", err)
	}
	if len(st.A)+len(st.AAAA) != 0 || st.TTL != 0 {
		t.Fatalf("state before = %+v, want empty", st)
	}

	first := addrs("127.0.0.1", "127.0.0.2", "::1", "::2")
	ch := Diff(zone, alias, st, first, 60)
	if err := c.Apply(ctx, []Change{ch}); err != nil {
		t.Fatalf("apply: %v\n%s", err, n.Log())
	}
	st, err = c.Query(ctx, alias)
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	if !slices.Equal(st.A, addrs("127.0.0.1", "127.0.0.2")) || !slices.Equal(st.AAAA, addrs("::1", "::2")) || st.TTL != 60 {
		t.Fatalf("state = %+v", st)
	}
	if got, _ := published(t, n, alias, nil); !slices.Equal(got, first) {
		t.Fatalf("named serves %v, want %v", got, first)
	}

	// Second round: minimal diff.
	second := addrs("127.0.0.2", "127.0.0.3", "::2")
	ch = Diff(zone, alias, st, second, 60)
	if ch.Replace || !slices.Equal(ch.Add, addrs("127.0.0.3")) || !slices.Equal(ch.Remove, addrs("127.0.0.1", "::1")) {
		t.Fatalf("second diff not minimal:\n%s", ch)
	}
	if err := c.Apply(ctx, []Change{ch}); err != nil {
		t.Fatalf("apply 2: %v", err)
	}
	if got, ttl := published(t, n, alias, nil); !slices.Equal(got, second) || ttl != 60 {
		t.Fatalf("named serves %v ttl %d, want %v", got, ttl, second)
	}

	// TTL change rewrites the RRsets.
	st, err = c.Query(ctx, alias)
	if err != nil {
		t.Fatal(err)
	}
	ch = Diff(zone, alias, st, second, 120)
	if !ch.Replace {
		t.Fatalf("TTL change not a replace: %+v", ch)
	}
	if err := c.Apply(ctx, []Change{ch}); err != nil {
		t.Fatalf("apply ttl: %v", err)
	}
	st, err = c.Query(ctx, alias)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(st.Addrs(), second) || st.TTL != 120 || st.ATTL != 120 || st.AAAATTL != 120 {
		t.Fatalf("after TTL change: %+v", st)
	}
	if Diff(zone, alias, st, second, 120).Empty() != true {
		t.Fatal("diff after apply not empty")
	}

	// Empty selection deletes everything.
	if err := c.Apply(ctx, []Change{Diff(zone, alias, st, nil, 120)}); err != nil {
		t.Fatalf("apply empty: %v", err)
	}
	if got, _ := published(t, n, alias, nil); len(got) != 0 {
		t.Fatalf("named still serves %v", got)
	}
	if rec.count("update", "udp") != 4 || rec.count("update", "tcp") != 0 {
		t.Fatalf("attempts: %+v", rec.attempts)
	}
	// No-op changes send nothing.
	if err := c.Apply(ctx, []Change{{Zone: zone, Name: alias}}); err != nil || rec.count("update", "") != 4 {
		t.Fatalf("empty apply: %v, %d updates", err, rec.count("update", ""))
	}
}

func TestNamedAlgorithms(t *testing.T) {
	keys := []tsig.Spec{keyMD5, keySHA1, keySHA256, keySHA512}
	n := testenv.StartNamed(t, testenv.NamedOptions{Zones: []string{zone}, Keys: keys})
	ctx := ctxT(t)
	for i, k := range keys {
		t.Run(k.Algorithm, func(t *testing.T) {
			c := newClient(t, n, k)
			name := fmt.Sprintf("alg%d.%s", i, zone)
			want := addrs(fmt.Sprintf("127.0.1.%d", i+1))
			if err := c.Apply(ctx, []Change{Diff(zone, name, State{}, want, 60)}); err != nil {
				t.Fatalf("apply with %s: %v", k.Algorithm, err)
			}
			if got, _ := published(t, n, name, nil); !slices.Equal(got, want) {
				t.Fatalf("named serves %v, want %v", got, want)
			}
			// Signed read back with the same key and algorithm.
			st, err := c.QuerySigned(ctx, name)
			if err != nil || !slices.Equal(st.A, want) {
				t.Fatalf("signed query: %+v, %v", st, err)
			}
		})
	}
}

func TestNamedWrongSecret(t *testing.T) {
	n := testenv.StartNamed(t, testenv.NamedOptions{Zones: []string{zone}, Keys: []tsig.Spec{keySHA256}})
	bad := keySHA256
	bad.Secret = "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZw=="
	c := newClient(t, n, bad)
	rec := &recorder{}
	c.Observe = rec.observe
	err := c.Apply(ctxT(t), []Change{Diff(zone, alias, State{}, addrs("127.0.0.9"), 60)})
	if err == nil {
		t.Fatal("update with a wrong secret succeeded")
	}
	var re *RcodeError
	if !errors.As(err, &re) {
		t.Fatalf("error %v (%T) is not an *RcodeError", err, err)
	}
	if re.Rcode == dns.RcodeSuccess || !strings.Contains(err.Error(), dns.RcodeToString[re.Rcode]) || !strings.Contains(err.Error(), zone) {
		t.Fatalf("error %q, rcode %d", err, re.Rcode)
	}
	t.Logf("wrong secret: %v", err)
	if rc, ok := Rcode(err); !ok || rc != re.Rcode || Transient(err) {
		t.Fatalf("Rcode(err) = %d, %v; Transient = %v", rc, ok, Transient(err))
	}
	if got := rec.count("update", ""); got != 1 {
		t.Fatalf("%d attempts, want 1 (not retried)", got)
	}
	if got, _ := published(t, n, alias, nil); len(got) != 0 {
		t.Fatalf("DNS changed: %v", got)
	}
}

func TestNamedUnknownKey(t *testing.T) {
	n := testenv.StartNamed(t, testenv.NamedOptions{Zones: []string{zone}, Keys: []tsig.Spec{keySHA256}})
	c := newClient(t, n, tsig.Spec{Name: "nobody.", Secret: keySHA256.Secret})
	err := c.Apply(ctxT(t), []Change{Diff(zone, alias, State{}, addrs("127.0.0.9"), 60)})
	var re *RcodeError
	if !errors.As(err, &re) {
		t.Fatalf("error %v is not an *RcodeError", err)
	}
	t.Logf("unknown key: %v", err)
	if got, _ := published(t, n, alias, nil); len(got) != 0 {
		t.Fatalf("DNS changed: %v", got)
	}
}

func TestNamedZoneNotServed(t *testing.T) {
	n := testenv.StartNamed(t, testenv.NamedOptions{Zones: []string{zone}, Keys: []tsig.Spec{keySHA256}})
	c := newClient(t, n, keySHA256)
	err := c.Apply(ctxT(t), []Change{Diff("other.example.org", "www.other.example.org", State{}, addrs("127.0.0.9"), 60)})
	rc, ok := Rcode(err)
	if !ok || (rc != dns.RcodeNotAuth && rc != dns.RcodeRefused && rc != dns.RcodeNotZone) {
		t.Fatalf("error %v, want NOTAUTH/REFUSED/NOTZONE", err)
	}
	if !strings.Contains(err.Error(), "other.example.org.") {
		t.Fatalf("error %q does not name the zone", err)
	}
	t.Logf("zone not served: %v", err)
}

func TestNamedLargeUpdateOverTCP(t *testing.T) {
	n := testenv.StartNamed(t, testenv.NamedOptions{Zones: []string{zone}, Keys: []tsig.Spec{keySHA256}})
	c := newClient(t, n, keySHA256)
	rec := &recorder{}
	c.Observe = rec.observe
	ctx := ctxT(t)
	var want []netip.Addr
	for i := 1; i <= 60; i++ {
		want = append(want, netip.MustParseAddr(fmt.Sprintf("2001:db8::%x", i)))
	}
	if err := c.Apply(ctx, []Change{Diff(zone, alias, State{}, want, 60)}); err != nil {
		t.Fatalf("apply: %v", err)
	}
	if rec.count("update", "tcp") != 1 || rec.count("update", "udp") != 0 {
		t.Fatalf("attempts: %+v", rec.attempts)
	}
	// The 60 AAAA answer (> 512 bytes) needs EDNS0 or TCP; Query must see all.
	st, err := c.Query(ctx, alias)
	if err != nil || len(st.AAAA) != 60 {
		t.Fatalf("query: %d AAAA, %v", len(st.AAAA), err)
	}
	if got, _ := published(t, n, alias, nil); !slices.Equal(got, want) {
		t.Fatalf("named serves %d addresses, want 60", len(got))
	}
	// A second large UPDATE goes over the connection of the first.
	if err := c.Apply(ctx, []Change{Diff(zone, alias, st, want[:59], 60)}); err != nil {
		t.Fatalf("apply: %v", err)
	}
	if rec.reusedTCP() != 1 {
		t.Fatalf("want the second TCP UPDATE on the first's connection: %+v", rec.attempts)
	}
}

func TestNamedServerDown(t *testing.T) {
	n := testenv.StartNamed(t, testenv.NamedOptions{Zones: []string{zone}, Keys: []tsig.Spec{keySHA256}})
	c := newClient(t, n, keySHA256)
	c.Timeout = 100 * time.Millisecond
	c.Retries = 2
	c.Backoff = 10 * time.Millisecond
	rec := &recorder{}
	c.Observe = rec.observe
	ctx := ctxT(t)
	want := addrs("127.0.0.7")
	n.Stop()
	err := c.Apply(ctx, []Change{Diff(zone, alias, State{}, want, 60)})
	if err == nil {
		t.Fatal("apply to a stopped server succeeded")
	}
	if _, ok := Rcode(err); ok || !strings.Contains(err.Error(), zone) || !strings.Contains(err.Error(), "3 attempts") {
		t.Fatalf("error %q", err)
	}
	t.Logf("server down: %v", err)
	if got := rec.count("update", ""); got != 3 {
		t.Fatalf("%d attempts, want 3", got)
	}
	if _, err := c.Query(ctx, alias); err == nil {
		t.Fatal("query to a stopped server succeeded")
	}

	// Back up: the same change goes through, and survives another restart.
	n.Start(t)
	if err := c.Apply(ctx, []Change{Diff(zone, alias, State{}, want, 60)}); err != nil {
		t.Fatalf("apply after restart: %v", err)
	}
	n.Stop()
	n.Start(t)
	if got, _ := published(t, n, alias, nil); !slices.Equal(got, want) {
		t.Fatalf("after restart named serves %v", got)
	}
}

func TestNamedContextCancel(t *testing.T) {
	n := testenv.StartNamed(t, testenv.NamedOptions{Zones: []string{zone}, Keys: []tsig.Spec{keySHA256}})
	c := newClient(t, n, keySHA256)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := c.Apply(ctx, []Change{Diff(zone, alias, State{}, addrs("127.0.0.7"), 60)})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

func TestNamedViews(t *testing.T) {
	n := testenv.StartNamed(t, testenv.NamedOptions{
		Zones: []string{zone}, Keys: []tsig.Spec{keySHA256}, ExternalKey: &keyExt,
	})
	ctx := ctxT(t)
	ext := newClient(t, n, keyExt)
	in := newClient(t, n, keySHA256)
	extAddrs := addrs("192.0.2.1", "2001:db8::1")
	inAddrs := addrs("10.0.0.1")
	if err := ext.Apply(ctx, []Change{Diff(zone, alias, State{}, extAddrs, 60)}); err != nil {
		t.Fatalf("external apply: %v", err)
	}
	if got, _ := published(t, n, alias, &keyExt); !slices.Equal(got, extAddrs) {
		t.Fatalf("external view serves %v, want %v", got, extAddrs)
	}
	if got, _ := published(t, n, alias, nil); len(got) != 0 {
		t.Fatalf("internal view serves %v, want nothing", got)
	}
	if err := in.Apply(ctx, []Change{Diff(zone, alias, State{}, inAddrs, 60)}); err != nil {
		t.Fatalf("internal apply: %v", err)
	}
	if got, _ := published(t, n, alias, nil); !slices.Equal(got, inAddrs) {
		t.Fatalf("internal view serves %v, want %v", got, inAddrs)
	}
	// Read back through the client: unsigned = internal, signed = the key's view.
	st, err := in.Query(ctx, alias)
	if err != nil || !slices.Equal(st.Addrs(), inAddrs) {
		t.Fatalf("internal Query: %+v, %v", st, err)
	}
	st, err = ext.QuerySigned(ctx, alias)
	if err != nil || !slices.Equal(st.Addrs(), extAddrs) {
		t.Fatalf("external QuerySigned: %+v, %v", st, err)
	}
}

func TestNamedSeveralZones(t *testing.T) {
	zones := []string{"a.example.org.", "b.example.org.", "www.lb.example.org.", "lb.example.org.", "c.example.org."}
	n := testenv.StartNamed(t, testenv.NamedOptions{Zones: zones, Keys: []tsig.Spec{keySHA256}})
	c := newClient(t, n, keySHA256)
	ctx := ctxT(t)
	var changes []Change
	for i, z := range zones {
		changes = append(changes, Diff(z, z, State{}, addrs(fmt.Sprintf("127.0.2.%d", i+1)), 60))
	}
	changes = append(changes, Diff("a.example.org", "x.a.example.org", State{}, addrs("127.0.3.1"), 60))
	changes = append(changes, Diff("nowhere.example.org", "nowhere.example.org", State{}, addrs("127.0.3.2"), 60))
	err := c.Apply(ctx, changes)
	if err == nil || !strings.Contains(err.Error(), "nowhere.example.org.") {
		t.Fatalf("error %v, want one naming nowhere.example.org.", err)
	}
	for _, z := range zones {
		if strings.Contains(err.Error(), " "+z+":") {
			t.Fatalf("error %q names successful zone %s", err, z)
		}
	}
	for i, z := range zones {
		if got, _ := published(t, n, z, nil); !slices.Equal(got, addrs(fmt.Sprintf("127.0.2.%d", i+1))) {
			t.Fatalf("%s: %v", z, got)
		}
	}
	if got, _ := published(t, n, "x.a.example.org", nil); !slices.Equal(got, addrs("127.0.3.1")) {
		t.Fatalf("x.a.example.org: %v", got)
	}
}

// TestNamedSuite runs the server suite against BIND's named as well.
func TestNamedSuite(t *testing.T) {
	runServerSuite(t, serverSuite{
		start: func(t *testing.T, zones []string, keys []tsig.Spec) (liveServer, string) {
			n := testenv.StartNamed(t, testenv.NamedOptions{Zones: zones, Keys: keys})
			return n, n.Addr
		},
		// RFC 8945 §5.2: NOTAUTH with TSIG error BADSIG / BADKEY.
		wrongSecret: rejection{dns.RcodeNotAuth, dns.RcodeBadSig},
		unknownKey:  rejection{dns.RcodeNotAuth, dns.RcodeBadKey},
		notServed:   []int{dns.RcodeNotAuth, dns.RcodeRefused},
		skip: map[string]string{"300 addresses over TCP": "named refuses more than 100 records of a type by default " +
			"(max-records-per-type, BIND 9.18.28); TestNamedLargeUpdateOverTCP sends 60 over TCP"},
	})
}
