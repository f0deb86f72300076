package dnsupdate

import "testing"

func TestServerAddr(t *testing.T) {
	tests := []struct{ in, want string }{
		{"127.0.0.1:5353", "127.0.0.1:5353"},
		{"127.0.0.1", "127.0.0.1:53"},
		{"ns1.example.org", "ns1.example.org:53"},
		{"ns1.example.org:5300", "ns1.example.org:5300"},
		{"[::1]:53", "[::1]:53"},
		{"[::1]:5353", "[::1]:5353"},
		{"[::1]", "[::1]:53"},
		{"::1", "[::1]:53"},
		{"2001:db8::53", "[2001:db8::53]:53"},
		{" 192.0.2.1 ", "192.0.2.1:53"},
	}
	for _, tt := range tests {
		got, err := ServerAddr(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ServerAddr(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "host:", "host:0", "host:99999", "[nothost]:53", "[127.0.0.1]:53", ":53", "[::1"} {
		if got, err := ServerAddr(bad); err == nil {
			t.Errorf("ServerAddr(%q) = %q, want an error", bad, got)
		}
	}
}
