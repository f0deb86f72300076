package dnsupdate

// The conformance suite run against real servers other than BIND (Knot in
// knot_test.go, PowerDNS in pdns_test.go): what lbd needs from any RFC 2136
// server (docs/protocol.md §D, D3): the selected A/AAAA set is installed
// exactly, an unchanged selection sends nothing, failures carry the
// server's RCODE and TSIG error (RFC 8945 §5.3.2), large updates go over
// TCP (RFC 2136 §2, docs/design.md).

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/internal/tsig"
)

// liveServer is a running DNS server started by internal/testenv.
type liveServer interface {
	Query(t testing.TB, name string, qtype uint16) []dns.RR
	QuerySigned(t testing.TB, name string, qtype uint16, key tsig.Spec) []dns.RR
	Start(t testing.TB)
	Stop()
	Log() string
}

// rejection is how a server answers an UPDATE it refuses to authenticate:
// the reply RCODE and the error field of the reply's TSIG (0 when the
// reply is unsigned or carries none).
type rejection struct {
	Rcode     int
	TSIGError uint16
}

// serverSuite describes one server implementation for runServerSuite.
type serverSuite struct {
	// start serves zones, updatable with keys, and returns the server and
	// its "127.0.0.1:port".
	start func(t *testing.T, zones []string, keys []tsig.Spec) (liveServer, string)
	// wrongSecret and unknownKey are the server's documented answers to an
	// UPDATE signed with a known key name but the wrong secret, and with a
	// key name it does not know.
	wrongSecret, unknownKey rejection
	// notServed are the acceptable RCODEs for an UPDATE of a zone the
	// server is not authoritative for.
	notServed []int
	// skip names subtests that do not apply to the server, with why.
	skip map[string]string
}

// liveClient is a client of addr signing with k, retrying quickly.
func liveClient(t testing.TB, addr string, k tsig.Spec) (*Client, *recorder) {
	rec := &recorder{}
	return &Client{Server: addr, Key: testenv.CompileKey(t, k), Timeout: 2 * time.Second, Backoff: 20 * time.Millisecond, Observe: rec.observe}, rec
}

// served returns the A and AAAA addresses s serves for name, sorted, and
// the TTLs seen.
func served(t *testing.T, s liveServer, name string) ([]netip.Addr, []uint32) {
	t.Helper()
	var out []netip.Addr
	var ttls []uint32
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		for _, rr := range s.Query(t, name, qt) {
			switch r := rr.(type) {
			case *dns.A:
				out = append(out, netip.MustParseAddr(r.A.String()))
			case *dns.AAAA:
				out = append(out, netip.MustParseAddr(r.AAAA.String()))
			default:
				continue
			}
			ttls = append(ttls, rr.Header().Ttl)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out, slices.Compact(ttls)
}

// converged reads name back through the client and requires that Diff
// against want finds nothing to do, and that ApplyEach then sends nothing.
func converged(t *testing.T, c *Client, rec *recorder, zoneName, name string, want []netip.Addr, ttl uint32) State {
	t.Helper()
	ctx := ctxT(t)
	st, err := c.Query(ctx, name)
	require.NoError(t, err)
	require.Equal(t, want, st.Addrs(), "addresses read back of %s", name)
	ch := Diff(zoneName, name, st, want, ttl)
	require.True(t, ch.Empty(), "rerun diff for %s not empty:\n%s", name, ch)
	before := rec.count("update", "")
	assert.Empty(t, c.ApplyEach(ctx, []Change{ch}), "an empty change has no zone outcome")
	assert.Equal(t, before, rec.count("update", ""), "a rerun sent an UPDATE")
	return st
}

// sortedAddrs is addrs sorted as State and served return them.
func sortedAddrs(ss ...string) []netip.Addr {
	a := addrs(ss...)
	slices.SortFunc(a, netip.Addr.Compare)
	return a
}

func runServerSuite(t *testing.T, s serverSuite) {
	keys := []tsig.Spec{keySHA256}

	t.Run("publish and converge", func(t *testing.T) {
		srv, addr := s.start(t, []string{zone}, keys)
		c, rec := liveClient(t, addr, keySHA256)
		ctx := ctxT(t)

		st, err := c.Query(ctx, alias)
		require.NoError(t, err)
		require.Empty(t, st.Addrs())

		// Publish A+AAAA.
		first := sortedAddrs("127.0.0.1", "127.0.0.2", "::1", "::2")
		require.NoError(t, c.Apply(ctx, []Change{Diff(zone, alias, st, first, 60)}))
		got, ttls := served(t, srv, alias)
		require.Equal(t, first, got)
		require.Equal(t, []uint32{60}, ttls)
		st = converged(t, c, rec, zone, alias, first, 60)

		// Converge after a change: a minimal diff, then nothing to do.
		second := sortedAddrs("127.0.0.2", "127.0.0.3", "::2")
		ch := Diff(zone, alias, st, second, 60)
		require.False(t, ch.Replace)
		require.Equal(t, addrs("127.0.0.3"), ch.Add)
		require.Equal(t, addrs("127.0.0.1", "::1"), ch.Remove)
		require.NoError(t, c.Apply(ctx, []Change{ch}))
		got, _ = served(t, srv, alias)
		require.Equal(t, second, got)
		st = converged(t, c, rec, zone, alias, second, 60)

		// A TTL change rewrites both RRsets.
		ch = Diff(zone, alias, st, second, 120)
		require.True(t, ch.Replace)
		require.NoError(t, c.Apply(ctx, []Change{ch}))
		st = converged(t, c, rec, zone, alias, second, 120)
		assert.Equal(t, uint32(120), st.ATTL)
		assert.Equal(t, uint32(120), st.AAAATTL)

		// An empty selection deletes everything.
		require.NoError(t, c.Apply(ctx, []Change{Diff(zone, alias, st, nil, 120)}))
		got, _ = served(t, srv, alias)
		require.Empty(t, got)
		converged(t, c, rec, zone, alias, nil, 120)
		assert.Equal(t, 4, rec.count("update", "udp"), "small updates go over UDP")
		assert.Zero(t, rec.count("update", "tcp"))
	})

	t.Run("algorithms", func(t *testing.T) {
		all := []tsig.Spec{keyMD5, keySHA1, keySHA256, keySHA512}
		srv, addr := s.start(t, []string{zone}, all)
		ctx := ctxT(t)
		for i, k := range all {
			t.Run(k.Algorithm, func(t *testing.T) {
				c, _ := liveClient(t, addr, k)
				name := fmt.Sprintf("alg%d.%s", i, zone)
				want := addrs(fmt.Sprintf("127.0.1.%d", i+1))
				require.NoError(t, c.Apply(ctx, []Change{Diff(zone, name, State{}, want, 60)}))
				got, _ := served(t, srv, name)
				require.Equal(t, want, got)
				st, err := c.QuerySigned(ctx, name)
				require.NoError(t, err, "signed read back with %s", k.Algorithm)
				require.Equal(t, want, st.A)
			})
		}
	})

	for _, tc := range []struct {
		name string
		key  tsig.Spec
		want rejection
	}{
		{"wrong secret", tsig.Spec{Name: keySHA256.Name, Algorithm: keySHA256.Algorithm, Secret: "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZw=="}, s.wrongSecret},
		{"unknown key", tsig.Spec{Name: "nobody.", Algorithm: keySHA256.Algorithm, Secret: keySHA256.Secret}, s.unknownKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, addr := s.start(t, []string{zone}, keys)
			c, rec := liveClient(t, addr, tc.key)
			err := c.Apply(ctxT(t), []Change{Diff(zone, alias, State{}, addrs("127.0.0.9"), 60)})
			require.Error(t, err)
			t.Logf("%s: %v", tc.name, err)
			var re *RcodeError
			require.True(t, errors.As(err, &re), "error %v (%T) is not an *RcodeError", err, err)
			assert.Equal(t, tc.want, rejection{re.Rcode, re.TSIGError}, "reply to %v", err)
			// The server's reason is in the text: RCODE, TSIG error, zone.
			assert.Contains(t, err.Error(), dns.RcodeToString[tc.want.Rcode])
			if tc.want.TSIGError != 0 {
				assert.Contains(t, err.Error(), "TSIG error "+dns.RcodeToString[int(tc.want.TSIGError)])
			}
			assert.Contains(t, err.Error(), zone)
			assert.False(t, Transient(err), "an authentication failure is not retried")
			assert.Equal(t, 1, rec.count("update", ""))
			got, _ := served(t, srv, alias)
			assert.Empty(t, got, "DNS changed")
		})
	}

	t.Run("two aliases in one zone", func(t *testing.T) {
		srv, addr := s.start(t, []string{zone}, keys)
		c, rec := liveClient(t, addr, keySHA256)
		ctx := ctxT(t)
		other := "db." + zone
		wantWWW := sortedAddrs("127.0.0.1", "::1")
		wantDB := sortedAddrs("127.0.0.2", "127.0.0.3")
		res := c.ApplyEach(ctx, []Change{
			Diff(zone, alias, State{}, wantWWW, 60),
			Diff(zone, other, State{}, wantDB, 60),
		})
		require.Equal(t, map[string]error{zone: nil}, res)
		assert.Equal(t, 1, rec.count("update", ""), "one UPDATE for the zone")
		got, _ := served(t, srv, alias)
		require.Equal(t, wantWWW, got)
		got, _ = served(t, srv, other)
		require.Equal(t, wantDB, got)

		// Swap one address between them, again in one UPDATE.
		stWWW := converged(t, c, rec, zone, alias, wantWWW, 60)
		stDB := converged(t, c, rec, zone, other, wantDB, 60)
		wantWWW = sortedAddrs("127.0.0.3", "::1")
		wantDB = sortedAddrs("127.0.0.1", "127.0.0.2")
		res = c.ApplyEach(ctx, []Change{Diff(zone, alias, stWWW, wantWWW, 60), Diff(zone, other, stDB, wantDB, 60)})
		require.Equal(t, map[string]error{zone: nil}, res)
		assert.Equal(t, 2, rec.count("update", ""))
		converged(t, c, rec, zone, alias, wantWWW, 60)
		converged(t, c, rec, zone, other, wantDB, 60)
	})

	t.Run("alias at the zone apex", func(t *testing.T) {
		srv, addr := s.start(t, []string{zone}, keys)
		c, rec := liveClient(t, addr, keySHA256)
		ctx := ctxT(t)
		want := sortedAddrs("127.0.0.5", "::5")
		require.NoError(t, c.Apply(ctx, []Change{Diff(zone, zone, State{}, want, 60)}))
		got, _ := served(t, srv, zone)
		require.Equal(t, want, got)
		st := converged(t, c, rec, zone, zone, want, 60)
		// Emptying the apex alias leaves the zone's SOA and NS alone.
		require.NoError(t, c.Apply(ctx, []Change{Diff(zone, zone, st, nil, 60)}))
		got, _ = served(t, srv, zone)
		require.Empty(t, got)
		assert.Len(t, srv.Query(t, zone, dns.TypeSOA), 1)
		assert.Len(t, srv.Query(t, zone, dns.TypeNS), 1)
	})

	t.Run("read: NXDOMAIN short cut and families", func(t *testing.T) {
		_, addr := s.start(t, []string{zone}, keys)
		c, rec := liveClient(t, addr, keySHA256)
		ctx := ctxT(t)
		require.NoError(t, c.Apply(ctx, []Change{Diff(zone, alias, State{}, sortedAddrs("127.0.0.7", "::7"), 60)}))
		// A name with records only below it (an empty non-terminal, as an
		// alias published empty whose _lbd record remains) exists: RFC 8020.
		require.NoError(t, c.Apply(ctx, []Change{Diff(zone, "below.ent."+zone, State{}, sortedAddrs("127.0.0.8"), 60)}))
		for _, tc := range []struct {
			name    string
			v4, v6  bool
			exists  bool
			want    []netip.Addr
			queries int
		}{
			{"missing." + zone, true, true, false, nil, 1}, // NXDOMAIN: no AAAA query
			{zone, true, true, true, nil, 2},               // the apex: NODATA, exists
			{"ent." + zone, true, true, true, nil, 2},      // an empty non-terminal: NODATA, exists
			{alias, true, true, true, sortedAddrs("127.0.0.7", "::7"), 2},
			{alias, true, false, true, sortedAddrs("127.0.0.7"), 1},
			{alias, false, true, true, sortedAddrs("::7"), 1},
		} {
			before := rec.count("query", "")
			st, exists, err := c.Read(ctx, tc.name, tc.v4, tc.v6)
			require.NoError(t, err, tc.name)
			assert.Equal(t, tc.exists, exists, tc.name)
			assert.Equal(t, tc.want, st.Addrs(), tc.name)
			assert.Equal(t, tc.queries, rec.count("query", "")-before, "%s v4=%v v6=%v: queries sent", tc.name, tc.v4, tc.v6)
		}
	})

	t.Run("create only where nothing is", func(t *testing.T) {
		srv, addr := s.start(t, []string{zone}, keys)
		c, _ := liveClient(t, addr, keySHA256)
		ctx := ctxT(t)
		fresh := func(name string, addrs ...string) Change {
			ch := Diff(zone, name, State{}, sortedAddrs(addrs...), 60)
			ch.AddrsAbsent, ch.MetaRequire, ch.Meta, ch.MetaSet = true, true, []string{"lbd-owner test"}, true
			return ch
		}
		// Nothing there: created, records and metadata.
		require.NoError(t, c.Apply(ctx, []Change{fresh(alias, "127.0.0.9")}))
		got, _ := served(t, srv, alias)
		require.Equal(t, sortedAddrs("127.0.0.9"), got)
		// The apex exists (SOA, NS) but holds no address: created too.
		require.NoError(t, c.Apply(ctx, []Change{fresh(zone, "::9")}))
		got, _ = served(t, srv, zone)
		require.Equal(t, sortedAddrs("::9"), got)
		// Records and metadata, only an A, only an AAAA, or only metadata
		// there: refused, nothing applied.
		require.NoError(t, c.Apply(ctx, []Change{Diff(zone, "v4."+zone, State{}, sortedAddrs("127.0.0.11"), 60)}))
		require.NoError(t, c.Apply(ctx, []Change{Diff(zone, "v6."+zone, State{}, sortedAddrs("::10"), 60)}))
		meta := Diff(zone, "meta."+zone, State{}, nil, 60)
		meta.Meta, meta.MetaSet = []string{"someone else"}, true
		require.NoError(t, c.Apply(ctx, []Change{meta}))
		for _, name := range []string{alias, "v4." + zone, "v6." + zone, "meta." + zone} {
			before, _ := served(t, srv, name)
			err := c.Apply(ctx, []Change{fresh(name, "127.0.0.10")})
			require.ErrorIs(t, err, ErrPrerequisite, name)
			rc, _ := Rcode(err)
			assert.Equal(t, dns.RcodeYXRrset, rc, name)
			after, _ := served(t, srv, name)
			assert.Equal(t, before, after, "%s: nothing applied", name)
		}
	})

	t.Run("300 addresses over TCP", func(t *testing.T) {
		if why, ok := s.skip["300 addresses over TCP"]; ok {
			t.Skip(why)
		}
		// best_hosts = -1 over a large cluster: every member published.
		// 300 A records make an UPDATE far above 512 bytes (TCP, RFC 2136
		// §2 / RFC 1035 §4.2.1) and an answer above the 4096-byte EDNS
		// buffer Query advertises, so reading back needs TCP as well.
		srv, addr := s.start(t, []string{zone}, keys)
		c, rec := liveClient(t, addr, keySHA256)
		ctx := ctxT(t)
		var want []netip.Addr
		for i := range 300 {
			want = append(want, netip.AddrFrom4([4]byte{10, 1, byte(i / 250), byte(1 + i%250)}))
		}
		slices.SortFunc(want, netip.Addr.Compare)
		require.NoError(t, c.Apply(ctx, []Change{Diff(zone, alias, State{}, want, 60)}))
		assert.Equal(t, 1, rec.count("update", "tcp"))
		assert.Zero(t, rec.count("update", "udp"))
		got, _ := served(t, srv, alias)
		require.Len(t, got, 300)
		require.Equal(t, want, got)
		st := converged(t, c, rec, zone, alias, want, 60)
		assert.Positive(t, rec.count("query", "tcp"), "the truncated A answer is read again over TCP")
		assert.Positive(t, rec.reusedTCP(), "the server keeps a TCP connection open for the next message (RFC 7766 §6.2.1)")

		// One member leaves: a small UPDATE (over UDP) converges again.
		want = want[1:]
		require.NoError(t, c.Apply(ctx, []Change{Diff(zone, alias, st, want, 60)}))
		assert.Equal(t, 1, rec.count("update", "udp"))
		converged(t, c, rec, zone, alias, want, 60)
	})

	t.Run("restart keeps updates", func(t *testing.T) {
		srv, addr := s.start(t, []string{zone}, keys)
		c, rec := liveClient(t, addr, keySHA256)
		c.Timeout, c.Retries = 200*time.Millisecond, -1
		ctx := ctxT(t)
		want := sortedAddrs("127.0.0.7", "::7")
		require.NoError(t, c.Apply(ctx, []Change{Diff(zone, alias, State{}, want, 60)}))
		srv.Stop()
		err := c.Apply(ctx, []Change{Diff(zone, alias, State{}, sortedAddrs("127.0.0.8"), 60)})
		require.Error(t, err, "update of a stopped server")
		_, isRcode := Rcode(err)
		assert.False(t, isRcode, "%v", err)
		srv.Start(t)
		got, _ := served(t, srv, alias)
		require.Equal(t, want, got)
		converged(t, c, rec, zone, alias, want, 60)
	})

	t.Run("zone not served", func(t *testing.T) {
		const otherZone = "other.example.org."
		srv, addr := s.start(t, []string{zone}, keys)
		c, _ := liveClient(t, addr, keySHA256)
		res := c.ApplyEach(ctxT(t), []Change{
			Diff(zone, alias, State{}, addrs("127.0.0.9"), 60),
			Diff(otherZone, "www."+otherZone, State{}, addrs("127.0.0.9"), 60),
		})
		require.Len(t, res, 2)
		assert.NoError(t, res[zone])
		err := res[otherZone]
		require.Error(t, err)
		t.Logf("zone not served: %v", err)
		rc, ok := Rcode(err)
		require.True(t, ok, "%v", err)
		assert.Contains(t, s.notServed, rc, "%v", err)
		assert.Contains(t, err.Error(), otherZone)
		got, _ := served(t, srv, alias)
		assert.Equal(t, addrs("127.0.0.9"), got, "the served zone is updated regardless")
	})
}
