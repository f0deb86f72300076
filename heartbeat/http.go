package heartbeat

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Publisher holds the master's current heartbeat line and serves it.
type Publisher struct {
	Host string

	mu   sync.RWMutex
	line string
}

// Beat sets the heartbeat to now.
func (p *Publisher) Beat(now time.Time) {
	l := Line(p.Host, now)
	p.mu.Lock()
	p.line = l
	p.mu.Unlock()
}

// Stop withdraws the heartbeat: the handler answers 503 until the next Beat.
func (p *Publisher) Stop() {
	p.mu.Lock()
	p.line = ""
	p.mu.Unlock()
}

// ServeHTTP answers with the current line (text/plain), or 503 before the
// first beat.
func (p *Publisher) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.RLock()
	l := p.line
	p.mu.RUnlock()
	if l == "" {
		http.Error(w, "no heartbeat (not master)", http.StatusServiceUnavailable)
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

// Fetch GETs url and parses the master's beat from the body. The HTTP
// status is not trusted alone: the body must hold the line.
func Fetch(ctx context.Context, client *http.Client, url, master string) (time.Time, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return time.Time{}, fmt.Errorf("heartbeat %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return time.Time{}, fmt.Errorf("heartbeat %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return time.Time{}, fmt.Errorf("heartbeat %s: %w", url, err)
	}
	t, err := Parse(string(body), master)
	if err != nil {
		return time.Time{}, fmt.Errorf("heartbeat %s (HTTP %d): %w", url, resp.StatusCode, err)
	}
	return t, nil
}
