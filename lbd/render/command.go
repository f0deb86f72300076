package render

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/lbd-project/lbd/internal/procgroup"
)

// Shell runs check_cmd and reload_cmd: /bin/sh -c with the expanded
// command, so that an operator writes what they would type
// (kill -USR2 $(cat /run/haproxy.pid), a && b, redirections).
const Shell = "/bin/sh"

// MaxCommandOutput bounds how much of a command's output (stdout and
// stderr together) goes into its error.
const MaxCommandOutput = 4096

// Command is check_cmd or reload_cmd: a template expanded with
// CommandData, then run by /bin/sh -c.
type Command struct {
	Text string
	tmpl *template.Template
}

// CommandData is what a command's template sees. File is the file to act
// on: the new, not yet installed file for check_cmd, the output for
// reload_cmd. Output is always the final path. The command also gets them
// in its environment as LBD_RENDER_FILE and LBD_RENDER_OUTPUT ("$LBD_RENDER_FILE"
// needs no quoting whatever the path).
type CommandData struct {
	File   string
	Output string
}

// ParseCommand parses a command template; it must expand against
// CommandData.
func ParseCommand(text string) (*Command, error) {
	if strings.TrimSpace(text) == "" {
		return nil, errors.New("empty command")
	}
	t, err := newTemplate("command").Parse(text)
	if err != nil {
		return nil, err
	}
	c := &Command{Text: text, tmpl: t}
	if _, err := c.expand(CommandData{File: "/check/file", Output: "/check/output"}); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Command) expand(d CommandData) (string, error) {
	var b strings.Builder
	if err := c.tmpl.Execute(&b, d); err != nil {
		return "", err
	}
	return b.String(), nil
}

// Run expands the command with d and runs it with /bin/sh -c in its own
// process group, killed as a whole (SIGKILL) when timeout passes or ctx
// ends. A non-zero exit, a signal or the timeout is an error carrying the
// command line and the start of its output.
func (c *Command) Run(ctx context.Context, timeout time.Duration, d CommandData) error {
	line, err := c.expand(d)
	if err != nil {
		return fmt.Errorf("command %q: %w", c.Text, err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// A grandchild that keeps the output pipe open must not hold Run.
	cmd := procgroup.Command(ctx, []string{Shell, "-c", line}, time.Second)
	cmd.Env = append(os.Environ(), "LBD_RENDER_FILE="+d.File, "LBD_RENDER_OUTPUT="+d.Output)
	out := &headBuffer{max: MaxCommandOutput}
	cmd.Stdout, cmd.Stderr = out, out
	err = cmd.Run()
	if err == nil {
		return nil
	}
	if ctx.Err() == context.DeadlineExceeded {
		err = fmt.Errorf("timed out after %s (process group killed)", timeout)
	}
	msg := strings.TrimSpace(out.String())
	if msg == "" {
		return fmt.Errorf("command %q: %w", line, err)
	}
	return fmt.Errorf("command %q: %w: %s", line, err, msg)
}

// headBuffer keeps the first max bytes written to it and counts the rest.
type headBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	max     int
	dropped int
}

func (h *headBuffer) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	room := h.max - h.b.Len()
	if room >= len(p) {
		h.b.Write(p)
	} else {
		h.b.Write(p[:max(room, 0)])
		h.dropped += len(p) - max(room, 0)
	}
	return len(p), nil
}

func (h *headBuffer) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.dropped > 0 {
		return fmt.Sprintf("%s … (%d more bytes)", h.b.String(), h.dropped)
	}
	return h.b.String()
}
