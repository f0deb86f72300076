package checks

import (
	"net/netip"
	"testing"
)

const (
	netListen  = "testdata/net/listen"  // listeners of every kind
	netClients = "testdata/net/clients" // only connections whose remote port is 22/80, TIME_WAIT
	netPartial = "testdata/net/partial" // only /proc/net/tcp
)

func TestPortDaemons(t *testing.T) {
	cases := []struct {
		check    string
		root     string
		ok, hard bool
		code     int
	}{
		{"sshdaemon", netListen, true, false, 7},
		{"webdaemon", netListen, true, false, 8},      // tcp6 :::80
		{"ftpdaemon", netListen, false, false, 9},     // only a connected UDP socket to remote port 21
		{"gridftpdaemon", netListen, true, false, 11}, // udp6 :::2811
		{"sshdaemon", netClients, false, false, 7},    // remote port 22 and a TIME_WAIT do not count (D15)
		{"webdaemon", netClients, false, false, 8},
		{"sshdaemon", netPartial, true, false, 7}, // found before the missing tables matter
		{"webdaemon", netPartial, false, true, 8}, // not found and tables unreadable
		{"sshdaemon", "testdata/nonexistent", false, true, 7},
	}
	for _, tc := range cases {
		t.Run(tc.check+"@"+tc.root, func(t *testing.T) {
			want(t, run(t, build(t, tc.check, ""), Env{Root: tc.root}), tc.ok, tc.hard, tc.code, "")
		})
	}
	if _, err := New(Spec{Type: "sshdaemon", Data: "22"}); err == nil {
		t.Error("sshdaemon with an argument: want an error")
	}
}

func TestDaemonJSON(t *testing.T) {
	cases := []struct {
		data string
		root string
		ok   bool
	}{
		{`{"port": 22}`, netListen, true},
		{`{"port": "22"}`, netListen, true},
		{`{"port": "22", "protocol": "udp"}`, netListen, false},
		{`{"port": [21, 22]}`, netListen, true},
		{`{"port": 21}`, netListen, false},
		{`{"port": 80, "ip": "4"}`, netListen, false}, // v4 port 80 is only TIME_WAIT
		{`{"port": 80, "ip": "ipv6"}`, netListen, true},
		{`{"port": 80, "ip": 6}`, netListen, true},
		{`{"port": 80, "ip": ["ipv4", "6"], "protocol": ["tcp"]}`, netListen, true},
		{`{"port": 80, "host": "2001:db8::10"}`, netListen, true}, // wildcard :: serves every v6 address
		{`{"port": 80, "host": "10.0.0.5"}`, netListen, false},    // :: does not count for an IPv4 host
		{`{"port": 3306, "host": "10.0.0.5"}`, netListen, true},
		{`{"port": 3306, "host": "10.0.0.6"}`, netListen, false},
		{`{"port": 9000, "host": "0.10.20.30"}`, netListen, true}, // a 0.x IPv4 host
		{`{"port": 631, "host": "127.0.0.1"}`, netListen, true},
		{`{"port": 631, "host": "::1", "ip": "ipv6"}`, netListen, false},
		{`{"port": 25, "host": "::1"}`, netListen, true},
		{`{"port": 25, "host": "127.0.0.1"}`, netListen, false},
		{`{"port": 443, "host": ["2001:db8::11", "2001:db8::10"]}`, netListen, true},
		{`{"port": 443, "host": "2001:db8::11"}`, netListen, false},
		{`{"port": 22, "host": "2001:db8::99"}`, netListen, false}, // remote end only; v4 wildcard is not v6
		{`{"port": 22, "host": "192.168.1.10"}`, netListen, true},  // 0.0.0.0:22 serves every v4 address
		{`{"port": 8443, "host": "10.0.0.7"}`, netListen, true},    // v4-mapped local address in tcp6
		{`{"port": 123, "protocol": "udp", "ip": "ipv4"}`, netListen, true},
		{`{"port": 123, "protocol": "tcp"}`, netListen, false},
		{`{"port": 53, "protocol": "udp", "host": "127.0.0.1"}`, netListen, true},
		{`{"port": 45000}`, netListen, false}, // connected UDP socket (state 01)
		{`{"port": 40000}`, netListen, false}, // local end of an ESTABLISHED TCP connection
		{`{"port": 22, "foo": 1}`, netListen, true},
		{`{"port": 1, "port": 22}`, netListen, true},
		{`check daemon {"port": 22} trailing text`, netListen, true},
		{`{"port": 22}`, netClients, false},
		{`{"port": 80}`, netClients, false},
	}
	for _, tc := range cases {
		t.Run(tc.data, func(t *testing.T) {
			want(t, run(t, build(t, "daemon", tc.data), Env{Root: tc.root}), tc.ok, false, CodeDaemon, "")
		})
	}
	t.Run("unreadable", func(t *testing.T) {
		want(t, run(t, build(t, "daemon", `{"port": 80}`), Env{Root: netPartial}), false, true, CodeDaemon, "unreadable")
		// Only the selected tables are read.
		want(t, run(t, build(t, "daemon", `{"port": 22, "protocol": "tcp", "ip": "4"}`), Env{Root: netPartial}), true, false, CodeDaemon, "")
		want(t, run(t, build(t, "daemon", `{"port": 23, "protocol": "tcp", "ip": "4"}`), Env{Root: netPartial}), false, false, CodeDaemon, "")
	})
}

func TestDaemonJSONErrors(t *testing.T) {
	for _, data := range []string{
		``, `port 22`, `{`, `{"port": 22`, `[]`, `{}`, `{"protocol": "tcp"}`,
		`{"port": 0}`, `{"port": 65536}`, `{"port": -1}`, `{"port": "x"}`, `{"port": 22.5}`,
		`{"port": []}`, `{"port": null}`, `{"port": true}`, `{"port": [22, "http"]}`,
		`{"port": 22, "protocol": "sctp"}`, `{"port": 22, "protocol": []}`, `{"port": 22, "protocol": 5}`,
		`{"port": 22, "ip": "ipv5"}`, `{"port": 22, "ip": 5}`,
		`{"port": 22, "host": "localhost"}`, `{"port": 22, "host": "10.0.0.256"}`, `{"port": 22, "host": []}`,
	} {
		if _, err := New(Spec{Type: "daemon", Data: data}); err == nil {
			t.Errorf("daemon %q: want a factory error", data)
		}
	}
}

func TestParseProcNetAddr(t *testing.T) {
	cases := map[string]string{
		"0100007F:0016":                         "127.0.0.1:22",
		"00000000:0050":                         "0.0.0.0:80",
		"0500000A:0CEA":                         "10.0.0.5:3306",
		"1E140A00:2328":                         "0.10.20.30:9000",
		"00000000000000000000000000000000:0050": "[::]:80",
		"00000000000000000000000001000000:0019": "[::1]:25",
		"B80D0120000000000000000010000000:01BB": "[2001:db8::10]:443",
		"0000000000000000FFFF00000700000A:20FB": "[::ffff:10.0.0.7]:8443",
		"000080FE00000000FF0F0002FE8F6AB0:0223": "[fe80::200:fff:b06a:8ffe]:547",
	}
	for in, out := range cases {
		got, err := parseProcNetAddr(in)
		if err != nil || got != netip.MustParseAddrPort(out) {
			t.Errorf("parseProcNetAddr(%q) = %v, %v; want %s", in, got, err, out)
		}
	}
	for _, bad := range []string{"", "0100007F", "0100007F:16", "0100007G:0016", "01000:0016", "0100007F:00160"} {
		if _, err := parseProcNetAddr(bad); err == nil {
			t.Errorf("parseProcNetAddr(%q): want an error", bad)
		}
	}
	if _, err := parseProcNet("header\n   0: 0100007F:0016 00000000:0000 ZZ 0\n"); err == nil {
		t.Error("bad state: want an error")
	}
}

func FuzzDaemonJSON(f *testing.F) {
	for _, s := range []string{`{"port": 22}`, `{"port": ["80", 443], "protocol": ["tcp", "udp"], "ip": ["4", "ipv6"], "host": ["::1", "0.1.2.3"]}`, `{"port": 1, "port": 2}`, `{`, `[1]`, `{"port": 1e3}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		d, err := parseDaemonJSON(data)
		if err != nil {
			return
		}
		if len(d.ports) == 0 || len(d.protocols) == 0 || len(d.families) == 0 {
			t.Fatalf("accepted %q without ports/protocols/families: %+v", data, d)
		}
		for _, p := range d.ports {
			if p == 0 {
				t.Fatalf("accepted port 0 from %q", data)
			}
		}
	})
}

func FuzzProcNet(f *testing.F) {
	for _, s := range []string{
		"  sl  local_address rem_address   st\n   0: 00000000:0016 00000000:0000 0A 00000000:00000000\n",
		"h\n   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A\n",
		"h\n0: :: 0A\n", "h\n\n\n", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		entries, _ := parseProcNet(text)
		for _, e := range entries {
			if !e.Local.IsValid() || !e.Remote.IsValid() {
				t.Fatalf("invalid address accepted from %q", text)
			}
		}
	})
}
