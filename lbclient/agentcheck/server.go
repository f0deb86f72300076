package agentcheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Defaults of a Server.
const (
	// MaxLine bounds the agent-send line read (bytes, line ending
	// included).
	MaxLine = 256
	// DefaultMaxConns bounds the connections handled at a time.
	DefaultMaxConns = 64
	// DefaultShortWait is how long a line is waited for when the alias is
	// known without one (a single configured alias): HAProxy sends its
	// agent-send string right after connecting, or nothing at all.
	DefaultShortWait = 200 * time.Millisecond
	// DefaultLineWait is how long a line is waited for when it is the
	// only way to know the alias.
	DefaultLineWait = time.Second
	// DefaultWriteTimeout bounds writing the answer.
	DefaultWriteTimeout = time.Second
)

// Results counted by Observe besides the answer words (Result).
const (
	// ResultRejected: closed without an answer, MaxConns were busy.
	ResultRejected = "rejected"
	// ResultFailed: the answer could not be written.
	ResultFailed = "failed"
)

// AllResults lists every result Observe may be called with.
var AllResults = []string{"up", "drain", "maint", "down", ResultRejected, ResultFailed}

// Server answers agent checks on listeners; configure it before Serve.
// Zero values are the defaults.
type Server struct {
	// Table returns what to answer from; called once per connection
	// (again after waiting for the line). Required.
	Table func() Table
	// MaxConns bounds concurrent connections (DefaultMaxConns).
	MaxConns int
	// ShortWait, LineWait and WriteTimeout: see the defaults.
	ShortWait, LineWait, WriteTimeout time.Duration
	// Observe, when set, is called once per connection with its result:
	// a Result word or one of ResultRejected, ResultFailed.
	Observe func(result string)

	once sync.Once
	sem  chan struct{}
}

func (s *Server) init() {
	s.once.Do(func() {
		n := s.MaxConns
		if n < 1 {
			n = DefaultMaxConns
		}
		s.sem = make(chan struct{}, n)
	})
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func (s *Server) observe(r string) {
	if s.Observe != nil {
		s.Observe(r)
	}
}

// Serve accepts connections on ln until ctx is done (then it closes ln,
// waits for the connections in progress, each bounded by the waits and the
// write timeout, and returns nil) or ln fails with an error that is not
// transient (returned). Transient accept errors (out of file descriptors,
// an aborted connection) are retried after a pause of up to a second.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.Table == nil {
		return errors.New("agentcheck: Server.Table is not set")
	}
	s.init()
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	pause := time.Duration(0)
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !transient(err) {
				return fmt.Errorf("agentcheck: accept on %s: %w", ln.Addr(), err)
			}
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(pause):
			}
			continue
		}
		pause = 0
		select {
		case s.sem <- struct{}{}:
		default:
			c.Close()
			s.observe(ResultRejected)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-s.sem }()
			s.observe(s.handle(c))
		}()
	}
}

func transient(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.EINTR} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// handle answers one connection and returns its result.
func (s *Server) handle(c net.Conn) string {
	defer c.Close()
	port := 0
	if a, ok := c.LocalAddr().(*net.TCPAddr); ok {
		port = a.Port
	}
	t := s.Table()
	var req Request
	if _, mapped := t.PortAlias(port); !mapped {
		wait := orDefault(s.LineWait, DefaultLineWait)
		if _, one := t.Single(); one {
			wait = orDefault(s.ShortWait, DefaultShortWait)
		}
		req = readRequest(c, wait)
		t = s.Table() // the freshest state after the wait
	}
	line := Reply(t, port, req)
	if err := c.SetWriteDeadline(time.Now().Add(orDefault(s.WriteTimeout, DefaultWriteTimeout))); err != nil {
		return ResultFailed
	}
	if _, err := c.Write([]byte(line)); err != nil {
		return ResultFailed
	}
	s.linger(c)
	return Result(line)
}

// linger ends the answer with a FIN and reads what the peer still sends
// (bounded in bytes and time) until it closes: closing a socket with
// unread input would send a reset, and the peer could lose the answer.
func (s *Server) linger(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	if c.SetReadDeadline(time.Now().Add(orDefault(s.ShortWait, DefaultShortWait))) == nil {
		_, _ = io.CopyN(io.Discard, c, maxLinger)
	}
}

// maxLinger bounds what linger reads.
const maxLinger = 4096

// readRequest reads the optional first line within wait: up to MaxLine
// bytes, until a line ending, EOF, an error or the deadline; what arrived
// by then is the line.
func readRequest(c net.Conn, wait time.Duration) Request {
	if err := c.SetReadDeadline(time.Now().Add(wait)); err != nil {
		return Request{}
	}
	buf := make([]byte, MaxLine)
	n := 0
	for n < len(buf) { // every read adds at least one byte or ends the loop
		k, err := c.Read(buf[n:])
		n += k
		if i := bytes.IndexByte(buf[:n], '\n'); i >= 0 {
			return Request{Line: trimLine(buf[:i])}
		}
		if err != nil {
			return Request{Line: trimLine(buf[:n])}
		}
	}
	return Request{TooLong: true}
}

func trimLine(b []byte) string { return strings.TrimSpace(string(b)) }
