package checks

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// DefaultCollectdSocket is collectd's conventional unixsock path.
const DefaultCollectdSocket = "/var/run/collectd-unixsock"

// collectdValue is one data source of a GETVAL answer.
type collectdValue struct {
	Key   string
	Value float64
}

// collectdClient is one connection to collectd's unixsock plugin.
type collectdClient struct {
	conn net.Conn
	r    *bufio.Reader
	host string
}

// dialCollectd connects to the socket of env (see Env.CollectdSocket).
// The connection's deadline is the ctx deadline, or timeout from now.
func dialCollectd(ctx context.Context, env Env, timeout time.Duration) (*collectdClient, error) {
	path := env.CollectdSocket
	if path == "" {
		path = env.Path(DefaultCollectdSocket)
	}
	host := env.Hostname
	if host == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("hostname: %w", err)
		}
		host = h
	}
	if timeout <= 0 {
		timeout = DefaultCommandTimeout
	}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	var dialer net.Dialer
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	conn, err := dialer.DialContext(dctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("collectd unixsock: %w", err)
	}
	_ = conn.SetDeadline(deadline)
	return &collectdClient{conn: conn, r: bufio.NewReader(conn), host: host}, nil
}

func (c *collectdClient) Close() error { return c.conn.Close() }

// identifier completes a metric name the way collectdctl does: a name
// with exactly one "/" (plugin/type) gets the local host prepended.
func (c *collectdClient) identifier(name string) string {
	if strings.Count(name, "/") == 1 {
		return c.host + "/" + name
	}
	return name
}

// GetVal sends GETVAL for name and returns the values in the order
// collectd sends them (the data-set order, as collectdctl prints them).
func (c *collectdClient) GetVal(name string) ([]collectdValue, error) {
	id := c.identifier(name)
	if strings.ContainsAny(id, "\n\r") {
		return nil, fmt.Errorf("bad identifier %q", id)
	}
	if _, err := fmt.Fprintf(c.conn, "GETVAL %s\n", quoteCollectd(id)); err != nil {
		return nil, fmt.Errorf("GETVAL %s: %w", id, err)
	}
	n, msg, err := c.status()
	if err != nil {
		return nil, fmt.Errorf("GETVAL %s: %w", id, err)
	}
	if n < 0 {
		return nil, fmt.Errorf("GETVAL %s: collectd: %s", id, msg)
	}
	out := make([]collectdValue, 0, n)
	for i := 0; i < n; i++ {
		line, err := c.line()
		if err != nil {
			return nil, fmt.Errorf("GETVAL %s: value %d: %w", id, i+1, err)
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("GETVAL %s: bad value line %q", id, line)
		}
		f, err := parseCollectdFloat(v)
		if err != nil {
			return nil, fmt.Errorf("GETVAL %s: bad value line %q", id, line)
		}
		out = append(out, collectdValue{Key: strings.TrimSpace(k), Value: f})
	}
	return out, nil
}

// parseCollectdFloat accepts any float form: 1.000000e-01, -3, 0.5, NaN,
// nan, inf (D16).
func parseCollectdFloat(s string) (float64, error) {
	s = strings.TrimSpace(s)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && strings.EqualFold(s, "nan") {
		return math.NaN(), nil
	}
	return f, err
}

// status reads "<N> <message>".
func (c *collectdClient) status() (int, string, error) {
	line, err := c.line()
	if err != nil {
		return 0, "", err
	}
	num, msg, _ := strings.Cut(line, " ")
	n, err := strconv.Atoi(num)
	if err != nil {
		return 0, "", fmt.Errorf("bad status line %q", line)
	}
	if n > 1<<16 {
		return 0, "", fmt.Errorf("implausible value count in %q", line)
	}
	return n, msg, nil
}

func (c *collectdClient) line() (string, error) {
	line, err := c.r.ReadString('\n')
	if err != nil {
		if line != "" && errors.Is(err, io.EOF) {
			return "", fmt.Errorf("truncated line %q", line)
		}
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// quoteCollectd puts s in double quotes with \ and " escaped, as the
// unixsock plugin's parser expects.
func quoteCollectd(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}
