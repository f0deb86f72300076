package dnsserver

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nsupdate runs nsupdate with script on stdin (the server line is added);
// key is "alg:name:secret" for -y, "" for an unsigned update. It returns
// the combined output and whether nsupdate exited 0.
func nsupdate(t *testing.T, bin, addr, key, script string) (string, bool) {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	args := []string{"-t", "5"}
	if key != "" {
		args = append(args, "-y", key)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdin = strings.NewReader(fmt.Sprintf("server %s %s\nzone %s\n%s\nsend\n", host, port, testZone, script))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	require.NoError(t, cmd.Start(), "nsupdate")
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.String(), err == nil
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		require.FailNow(t, "nsupdate timed out", "output:\n%s", out.String())
	}
	return "", false
}

// dig runs dig +short and returns its lines.
func dig(t *testing.T, bin, addr, name, qtype string) []string {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	out, err := exec.Command(bin, "@"+host, "-p", port, "+short", "+norec", "+time=2", "+tries=2", name, qtype).CombinedOutput()
	require.NoError(t, err, "dig %s %s\n%s", name, qtype, out)
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

func digSerial(t *testing.T, bin, addr string) string {
	t.Helper()
	l := dig(t, bin, addr, testZone, "SOA")
	require.Len(t, l, 1, "dig SOA: %q", l)
	require.GreaterOrEqual(t, len(strings.Fields(l[0])), 3, "dig SOA: %q", l)
	return strings.Fields(l[0])[2]
}

func TestNsupdateAndDig(t *testing.T) {
	bins := testenv.Require(t, "nsupdate", "dig")
	nsupd, digBin := bins[0], bins[1]
	s := startServer(t, testConfig(t))
	addr := s.Addr()
	key := "hmac-sha256:" + testKeyName + ":" + testSecret

	require.Equal(t, fmt.Sprint(testSerialBase), digSerial(t, digBin, addr), "initial serial")
	out, ok := nsupdate(t, nsupd, addr, key, "update add www.lb.example.org. 60 IN A 192.0.2.10\nupdate add www.lb.example.org. 60 IN A 192.0.2.11\nupdate add www.lb.example.org. 60 IN TXT \"hello world\"")
	require.True(t, ok, "nsupdate add failed:\n%s", out)
	assert.Equal(t, fmt.Sprint(testSerialBase+1), digSerial(t, digBin, addr), "serial after add")
	assert.Equal(t, "192.0.2.10 192.0.2.11", strings.Join(sortedCopy(dig(t, digBin, addr, "www.lb.example.org", "A")), " "), "A after add")
	assert.Equal(t, `"hello world"`, strings.Join(dig(t, digBin, addr, "www.lb.example.org", "TXT"), " "), "TXT after add")

	out, ok = nsupdate(t, nsupd, addr, key, "update delete www.lb.example.org. 60 IN A 192.0.2.10")
	require.True(t, ok, "nsupdate delete failed:\n%s", out)
	assert.Equal(t, fmt.Sprint(testSerialBase+2), digSerial(t, digBin, addr), "serial after delete")
	assert.Equal(t, "192.0.2.11", strings.Join(dig(t, digBin, addr, "www.lb.example.org", "A"), " "), "A after delete")

	// Unsigned: REFUSED, nothing changes.
	out, ok = nsupdate(t, nsupd, addr, "", "update add evil.lb.example.org. 60 IN A 192.0.2.66")
	assert.False(t, ok, "unsigned update accepted:\n%s", out)
	assert.Contains(t, out, "REFUSED", "unsigned update")
	// Wrong secret: NOTAUTH (BADSIG).
	out, ok = nsupdate(t, nsupd, addr, "hmac-sha256:"+testKeyName+":"+wrongSecret, "update add evil.lb.example.org. 60 IN A 192.0.2.66")
	assert.False(t, ok, "wrong secret accepted:\n%s", out)
	assert.Contains(t, out, "NOTAUTH", "wrong secret")
	t.Logf("wrong secret output: %s", out)
	// Unknown key: NOTAUTH (BADKEY).
	out, ok = nsupdate(t, nsupd, addr, "hmac-sha256:nosuchkey.:"+testSecret, "update add evil.lb.example.org. 60 IN A 192.0.2.66")
	assert.False(t, ok, "unknown key accepted:\n%s", out)
	assert.Contains(t, out, "NOTAUTH", "unknown key")
	// A valid key that may not update this zone: REFUSED.
	out, ok = nsupdate(t, nsupd, addr, "hmac-sha256:"+otherKey+":"+otherSecret, "update add evil.lb.example.org. 60 IN A 192.0.2.66")
	assert.False(t, ok, "other key accepted:\n%s", out)
	assert.Contains(t, out, "REFUSED", "other key")
	assert.Empty(t, dig(t, digBin, addr, "evil.lb.example.org", "A"), "evil records")
	assert.Equal(t, fmt.Sprint(testSerialBase+2), digSerial(t, digBin, addr), "serial after refused updates")

	// Prerequisites (RFC 2136 §2.4) through nsupdate's prereq lines.
	for _, tc := range []struct {
		prereq, rcode string
	}{
		{"prereq nxdomain www.lb.example.org.", "YXDOMAIN"},
		{"prereq yxdomain nope.lb.example.org.", "NXDOMAIN"},
		{"prereq yxrrset www.lb.example.org. IN AAAA", "NXRRSET"},
		{"prereq nxrrset www.lb.example.org. IN A", "YXRRSET"},
		{"prereq yxrrset www.lb.example.org. IN A 192.0.2.99", "NXRRSET"},
	} {
		out, ok = nsupdate(t, nsupd, addr, key, tc.prereq+"\nupdate add p.lb.example.org. 60 IN A 192.0.2.77")
		assert.False(t, ok, "%s accepted:\n%s", tc.prereq, out)
		assert.Contains(t, out, tc.rcode, tc.prereq)
	}
	assert.Empty(t, dig(t, digBin, addr, "p.lb.example.org", "A"), "records after failed prerequisites")
	assert.Equal(t, fmt.Sprint(testSerialBase+2), digSerial(t, digBin, addr), "serial after failed prerequisites")
	// Prerequisites that hold.
	out, ok = nsupdate(t, nsupd, addr, key, "prereq yxrrset www.lb.example.org. IN A 192.0.2.11\nprereq nxdomain p.lb.example.org.\nprereq yxdomain www.lb.example.org.\nprereq nxrrset www.lb.example.org. IN AAAA\nprereq yxrrset www.lb.example.org. IN TXT\nupdate add p.lb.example.org. 60 IN A 192.0.2.77")
	require.True(t, ok, "prerequisites that hold:\n%s", out)
	assert.Equal(t, "192.0.2.77", strings.Join(dig(t, digBin, addr, "p.lb.example.org", "A"), " "), "A after prereq update")
	assert.Equal(t, fmt.Sprint(testSerialBase+3), digSerial(t, digBin, addr), "serial")

	// Delete the whole name.
	out, ok = nsupdate(t, nsupd, addr, key, "update delete www.lb.example.org.")
	require.True(t, ok, "delete name:\n%s", out)
	r := query(t, addr, "www.lb.example.org", dns.TypeA)
	wantRcode(t, dns.RcodeNameError, r, "deleted name")
	assert.Equal(t, fmt.Sprint(testSerialBase+4), digSerial(t, digBin, addr), "serial")

	// hmac-md5, which the library's own TSIG lacks.
	cfg := testConfig(t)
	cfg.Keys[0].Algorithm = "hmac-md5"
	s2 := startServer(t, cfg)
	out, ok = nsupdate(t, nsupd, s2.Addr(), "hmac-md5:"+testKeyName+":"+testSecret, "update add md5.lb.example.org. 60 IN A 192.0.2.5")
	require.True(t, ok, "hmac-md5 update:\n%s", out)
	assert.Equal(t, "192.0.2.5", strings.Join(dig(t, digBin, s2.Addr(), "md5.lb.example.org", "A"), " "), "A via md5")
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	for i := range c {
		for j := i + 1; j < len(c); j++ {
			if c[j] < c[i] {
				c[i], c[j] = c[j], c[i]
			}
		}
	}
	return c
}
