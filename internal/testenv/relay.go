package testenv

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// DNSRelay forwards UDP DNS messages between its clients and a server and
// counts the queries it forwards, by type: a test sees how many reads a
// step of lbd made without the server's cooperation. TCP is not relayed.
type DNSRelay struct {
	Addr string // "127.0.0.1:port" to point the client at

	mu     sync.Mutex
	counts map[uint16]int // QTYPE → queries (UPDATE counts as dns.TypeNone)
}

// StartDNSRelay relays to the server at target until the test ends. Each
// client message is forwarded from a socket of its own and the first reply
// (within 5 s) is sent back; at most 256 are in flight.
func StartDNSRelay(t testing.TB, target string) *DNSRelay {
	t.Helper()
	to, err := net.ResolveUDPAddr("udp", target)
	if err != nil {
		t.Fatalf("relay target %s: %v", target, err)
	}
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("relay: %v", err)
	}
	r := &DNSRelay{Addr: c.LocalAddr().String(), counts: map[uint16]int{}}
	done := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() { close(done); c.Close(); wg.Wait() })
	sem := make(chan struct{}, 256)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			buf := make([]byte, 65535)
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			r.note(buf[:n])
			select {
			case sem <- struct{}{}:
			case <-done:
				return
			}
			wg.Add(1)
			go func(msg []byte, from *net.UDPAddr) {
				defer func() { <-sem; wg.Done() }()
				up, err := net.DialUDP("udp", nil, to)
				if err != nil {
					return
				}
				defer up.Close()
				_ = up.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := up.Write(msg); err != nil {
					return
				}
				reply := make([]byte, 65535)
				m, err := up.Read(reply)
				if err != nil {
					return
				}
				_, _ = c.WriteToUDP(reply[:m], from)
			}(buf[:n], from)
		}
	}()
	return r
}

func (r *DNSRelay) note(msg []byte) {
	m := new(dns.Msg)
	if m.Unpack(msg) != nil || len(m.Question) == 0 {
		return
	}
	q := m.Question[0].Qtype
	if m.Opcode == dns.OpcodeUpdate {
		q = dns.TypeNone
	}
	r.mu.Lock()
	r.counts[q]++
	r.mu.Unlock()
}

// Counts returns the queries relayed so far by QTYPE (UPDATEs under
// dns.TypeNone) and resets them.
func (r *DNSRelay) Counts() map[uint16]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.counts
	r.counts = map[uint16]int{}
	return out
}
