package agentcheck

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serve runs s on a new 127.0.0.1 listener until the test ends.
func serve(t *testing.T, s *Server) (addr string, port int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return")
		}
	})
	return ln.Addr().String(), ln.Addr().(*net.TCPAddr).Port
}

// ask connects, sends send (if not empty), and reads the whole answer.
func ask(t *testing.T, addr, send string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	if send != "" {
		_, err = c.Write([]byte(send))
		require.NoError(t, err)
	}
	b, err := io.ReadAll(c)
	require.NoError(t, err)
	return string(b)
}

// counter records Observe calls.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) observe(r string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[r]++
}

func (c *counter) get(r string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[r]
}

func TestServerAnswers(t *testing.T) {
	tb := &fakeTable{policy: DefaultPolicy(), ports: map[int]string{},
		status: map[string]Status{"a": {Ready: true, Metric: 200}, "b": {Ready: true, Metric: -1, Reason: "/etc/nologin exists"}}}
	var cnt counter
	s := &Server{Table: func() Table { return *tb }, ShortWait: 50 * time.Millisecond, LineWait: 300 * time.Millisecond, Observe: cnt.observe}
	addr, _ := serve(t, s)

	assert.Equal(t, "up ready 50% #load 200\n", ask(t, addr, "a\n"))
	assert.Equal(t, "up drain #load -1: /etc/nologin exists\n", ask(t, addr, "B\r\n"))
	assert.Equal(t, "down ready #unknown alias c\n", ask(t, addr, "c\n"))
	// no line ending: what arrived by the deadline is the line
	assert.Equal(t, "up ready 50% #load 200\n", ask(t, addr, "a"))
	// several aliases and nothing sent: answered after LineWait
	assert.Contains(t, ask(t, addr, ""), "down ready #no alias named")
	// a line longer than MaxLine
	assert.Equal(t, "down ready #agent-send line longer than 256 bytes\n", ask(t, addr, strings.Repeat("x", 300)+"\n"))
	// a result is counted once the connection is closed, just after the answer
	assert.Eventually(t, func() bool { return cnt.get("up") == 2 && cnt.get("drain") == 1 && cnt.get("down") == 3 },
		5*time.Second, 10*time.Millisecond, "counted: %v", cnt.n)
}

// With one alias and nothing sent (HAProxy without agent-send) the answer
// comes after the short wait; a mapped port answers at once.
func TestServerSingleAliasAndMappedPort(t *testing.T) {
	tb := &fakeTable{policy: DefaultPolicy(), ports: map[int]string{},
		status: map[string]Status{"a": {Ready: true, Metric: 100}}}
	s := &Server{Table: func() Table { return *tb }, ShortWait: 50 * time.Millisecond, LineWait: time.Hour}
	addr, port := serve(t, s)
	assert.Equal(t, "up ready 100% #load 100\n", ask(t, addr, ""))

	two := &fakeTable{policy: DefaultPolicy(), ports: map[int]string{port: "b"},
		status: map[string]Status{"a": {Ready: true, Metric: 100}, "b": {Ready: true, Metric: -7}}}
	s2 := &Server{Table: func() Table { return *two }, ShortWait: time.Hour, LineWait: time.Hour}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	two.ports[ln.Addr().(*net.TCPAddr).Port] = "b"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s2.Serve(ctx, ln)
	// a wait of an hour would time the test out: the mapped port does not read
	assert.Equal(t, "down ready #load -7\n", ask(t, ln.Addr().String(), ""))
	assert.Equal(t, "down ready #load -7\n", ask(t, ln.Addr().String(), "a\n"))
}

// Connections beyond MaxConns are closed at once; the held ones are
// answered when their wait ends; nothing blocks Serve from stopping.
func TestServerMaxConns(t *testing.T) {
	tb := fakeTable{policy: DefaultPolicy(), status: map[string]Status{"a": {Ready: true, Metric: 100}, "b": {Ready: true, Metric: 100}}}
	var cnt counter
	s := &Server{Table: func() Table { return tb }, MaxConns: 2, LineWait: time.Second, Observe: cnt.observe}
	addr, _ := serve(t, s)
	var held []net.Conn
	for range 2 { // silent clients hold both slots for LineWait
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		held = append(held, c)
	}
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		b, _ := io.ReadAll(c)
		return len(b) == 0 && cnt.get(ResultRejected) > 0
	}, 5*time.Second, 20*time.Millisecond, "a third connection is closed without an answer")
	for _, c := range held {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		b, _ := io.ReadAll(c)
		assert.Contains(t, string(b), "no alias named")
	}
}

func TestServeNeedsTable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	assert.Error(t, (&Server{}).Serve(context.Background(), ln))
}

// A listener closed behind Serve's back is an error, not a loop.
func TestServeListenerClosed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ln.Close()
	err = (&Server{Table: func() Table { return fakeTable{} }}).Serve(context.Background(), ln)
	assert.Error(t, err)
}

// A client trickling bytes without a line ending is answered when the
// (absolute) wait ends, with what it sent so far.
func TestServerSlowClient(t *testing.T) {
	tb := fakeTable{policy: DefaultPolicy(), status: map[string]Status{"ab": {Ready: true, Metric: 100}, "b": {Ready: true, Metric: 100}}}
	s := &Server{Table: func() Table { return tb }, LineWait: 150 * time.Millisecond}
	addr, _ := serve(t, s)
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	_, err = c.Write([]byte("a"))
	require.NoError(t, err)
	time.Sleep(50 * time.Millisecond)
	_, err = c.Write([]byte("b"))
	require.NoError(t, err)
	// more bytes keep coming, one every 50 ms, until the answer arrives
	answer := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(c)
		answer <- string(b)
	}()
	for i := 0; i < 100; i++ {
		select {
		case got := <-answer:
			assert.True(t, strings.HasPrefix(got, "up ready 100%") || strings.HasPrefix(got, "down ready #unknown alias ab"), got)
			return
		case <-time.After(50 * time.Millisecond):
			c.Write([]byte("x"))
		}
	}
	t.Fatal("no answer while trickling")
}
