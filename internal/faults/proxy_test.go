package faults

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// delayProxy forwards DNS over UDP and TCP to upstream, holding every
// query (every chunk a client sends over TCP) for delay first: a slow
// server.
func delayProxy(t *testing.T, upstream string, delay time.Duration) string {
	t.Helper()
	addr := freeAddr(t)
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		pc.Close()
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	track := func(c net.Conn) bool {
		mu.Lock()
		defer mu.Unlock()
		if len(conns) >= 2000 { // bounded
			return false
		}
		conns = append(conns, c)
		return true
	}
	quit := make(chan struct{})
	t.Cleanup(func() {
		close(quit)
		pc.Close()
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	sleep := func() bool {
		select {
		case <-quit:
			return false
		case <-time.After(delay):
			return true
		}
	}
	sem := make(chan struct{}, 64) // at most 64 UDP queries held at once
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 65535)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := append([]byte(nil), buf[:n]...)
			select {
			case sem <- struct{}{}:
			default:
				continue // over the bound: dropped, as a congested server would
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if !sleep() {
					return
				}
				up, err := net.Dial("udp", upstream)
				if err != nil {
					return
				}
				defer up.Close()
				up.SetDeadline(time.Now().Add(3 * time.Second))
				if _, err := up.Write(q); err != nil {
					return
				}
				r := make([]byte, 65535)
				n, err := up.Read(r)
				if err != nil {
					return
				}
				pc.WriteTo(r[:n], from)
			}()
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			if !track(c) || !track(up) {
				c.Close()
				up.Close()
				continue
			}
			wg.Add(2)
			go func() { defer wg.Done(); io.Copy(c, up); c.Close() }()
			go func() {
				defer wg.Done()
				defer up.Close()
				buf := make([]byte, 65535)
				for {
					n, err := c.Read(buf)
					if err != nil || !sleep() {
						return
					}
					if _, err := up.Write(buf[:n]); err != nil {
						return
					}
				}
			}()
		}
	}()
	return addr
}

// blackhole is a DNS "server" that reads every query and never answers
// (UDP), and accepts TCP connections and never answers on them.
func blackhole(t *testing.T) string {
	t.Helper()
	addr := freeAddr(t)
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		pc.Close()
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	held := make(chan net.Conn, 1000) // bounded
	t.Cleanup(func() {
		pc.Close()
		ln.Close()
		wg.Wait()
		close(held)
		for c := range held {
			c.Close()
		}
	})
	wg.Add(2)
	go func() {
		defer wg.Done()
		buf := make([]byte, 65535)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			select {
			case held <- c:
			default:
				c.Close()
			}
		}
	}()
	return addr
}

// partition is an HTTP proxy in front of a master's heartbeat that the test
// can cut: while cut, the slave's fetches fail, and both still reach DNS.
type partition struct {
	URL string // the proxied heartbeat URL
	cut atomic.Bool
}

func newPartition(t *testing.T, masterHTTP string) *partition {
	t.Helper()
	u, err := url.Parse("http://" + masterHTTP)
	if err != nil {
		t.Fatal(err)
	}
	p := &partition{}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.cut.Load() {
			http.Error(w, "partitioned", http.StatusServiceUnavailable)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL + "/load-balancing/heartbeat"
	return p
}

// httpGet fetches url with a 2 s bound, returning status and body.
func httpGet(c *http.Client, url string) (int, string, error) {
	r, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	return r.StatusCode, string(b), nil
}
