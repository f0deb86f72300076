package heartbeat

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Publisher holds the master's current heartbeat — the legacy line and,
// when the master has a secret, the authenticated beat — and serves them.
// Its zero value is ready to use.
type Publisher struct {
	counter Counter

	mu     sync.RWMutex
	line   string // legacy line, "" = not beating
	signed string // authenticated beat line, "" = none
}

// Beat sets the heartbeat to now, naming host. With a key it also signs a
// new authenticated beat (next counter); without one, none is served.
func (p *Publisher) Beat(host string, key []byte, now time.Time) {
	l := Line(host, now)
	var s string
	if len(key) > 0 {
		s = Beat{Instance: host, Time: now, Counter: p.counter.Next(now)}.Sign(key)
	}
	p.mu.Lock()
	p.line, p.signed = l, s
	p.mu.Unlock()
}

// Stop withdraws the heartbeat: the handlers answer 503 until the next Beat.
func (p *Publisher) Stop() {
	p.mu.Lock()
	p.line, p.signed = "", ""
	p.mu.Unlock()
}

// ServeHTTP answers with the current legacy line (text/plain), or 503
// before the first beat.
func (p *Publisher) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.RLock()
	l := p.line
	p.mu.RUnlock()
	serveLine(w, l, "no heartbeat (not master)")
}

// Signed serves the current authenticated beat (at PathV2), or 503 when
// there is none (not master, or no secret configured).
func (p *Publisher) Signed() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.RLock()
		l := p.signed
		p.mu.RUnlock()
		serveLine(w, l, "no authenticated heartbeat (not master, or no heartbeat secret)")
	})
}

func serveLine(w http.ResponseWriter, l, none string) {
	if l == "" {
		http.Error(w, none, http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	io.WriteString(w, l)
}

// WriteFile writes the line to path atomically (temp file "<path>temp",
// then rename), mode 0644, as the legacy master does.
func WriteFile(path, line string) error {
	tmp := path + "temp"
	if err := os.WriteFile(tmp, []byte(line), 0o644); err != nil {
		return fmt.Errorf("write heartbeat: %w", err)
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return fmt.Errorf("write heartbeat: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write heartbeat: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Fetch GETs url and parses the master's legacy line from the body. The
// HTTP status is not trusted alone: the body must hold the line.
func Fetch(ctx context.Context, client *http.Client, url, master string) (time.Time, error) {
	body, status, err := get(ctx, client, url)
	if err != nil {
		return time.Time{}, err
	}
	t, err := Parse(body, master)
	if err != nil {
		return time.Time{}, fmt.Errorf("heartbeat %s (HTTP %d): %w", url, status, err)
	}
	return t, nil
}

// FetchSigned GETs url and returns the body of a 200 answer, for a
// Verifier to judge; any other status is an error (no beat to judge).
func FetchSigned(ctx context.Context, client *http.Client, url string) (string, error) {
	body, status, err := get(ctx, client, url)
	if err != nil {
		return "", err
	}
	if status != http.StatusOK {
		return "", fmt.Errorf("heartbeat %s: HTTP %d: %q", url, status, truncate(strings.TrimSpace(body), 80))
	}
	return body, nil
}

func get(ctx context.Context, client *http.Client, url string) (body string, status int, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", 0, fmt.Errorf("heartbeat %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", 0, fmt.Errorf("heartbeat %s: %w", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", resp.StatusCode, fmt.Errorf("heartbeat %s: %w", url, err)
	}
	return string(b), resp.StatusCode, nil
}
