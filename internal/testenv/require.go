package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
)

// Packages maps the external binaries tests use to the Debian package that
// provides them.
var Packages = map[string]string{
	"named":           "bind9",
	"named-checkconf": "bind9",
	"nsupdate":        "bind9-dnsutils",
	"dig":             "bind9-dnsutils",
	"snmpget":         "snmp",
	"snmpgetnext":     "snmp",
	"snmpd":           "snmpd",
	"knotd":           "knot",
	"knotc":           "knot",
	"kdig":            "knot-dnsutils",
	"pdns_server":     "pdns-server",
	"pdnsutil":        "pdns-server",
	"sqlite3":         "sqlite3",
	"promtool":        "prometheus",
	"chromium":        "chromium",
	"haproxy":         "haproxy",
}

// InCI reports whether the tests run under CI (CI=true), where a missing
// binary is a failure instead of a skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// Require returns the absolute path of each named binary (in order). A
// missing binary fails the test under CI=true and skips it otherwise.
func Require(t testing.TB, names ...string) []string {
	t.Helper()
	paths := make([]string, 0, len(names))
	for _, n := range names {
		p, err := LookPath(n)
		if err != nil {
			msg := fmt.Sprintf("!!! %s not found (install Debian package %q): %v", n, Packages[n], err)
			if InCI() {
				t.Fatal(msg)
			}
			t.Skip("SKIPPED: " + msg)
		}
		paths = append(paths, p)
	}
	return paths
}

// LookPath finds a binary in PATH and in the sbin directories Debian puts
// daemons in (which are not always in a non-root PATH).
func LookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := dir + "/" + name
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not in PATH nor /usr/sbin", name)
}

// FreePort returns a port on ip that is free for both UDP and TCP at the time
// of the call.
func FreePort(t testing.TB, ip string) int {
	t.Helper()
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			t.Fatalf("free port on %s: %v", ip, err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", net.JoinHostPort(ip, fmt.Sprint(port)))
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		return port
	}
	t.Fatalf("no free port on %s after 50 tries", ip)
	return 0
}
