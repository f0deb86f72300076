package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/lbd-project/lbd/internal/tomlconf"
	"github.com/lbd-project/lbd/lbd/render"
)

// RenderSection is one [[render]]: a file rendered from the membership
// after every cycle (docs/operations.md "Rendering proxy configuration").
// Relative paths are relative to the configuration file.
type RenderSection struct {
	// Template is a Go text/template file executed with render.Data.
	Template string `toml:"template"`
	// Output is the file written; its directory must exist.
	Output string `toml:"output"`
	// CheckCmd, when set, runs (/bin/sh -c) on the new file, {{.File}},
	// before it replaces Output; a non-zero exit keeps the old file.
	CheckCmd string `toml:"check_cmd"`
	// ReloadCmd, when set, runs (/bin/sh -c) after Output was replaced.
	ReloadCmd string `toml:"reload_cmd"`
	// Timeout bounds each command (default 10s).
	Timeout tomlconf.Duration `toml:"timeout"`
	// Mode is the file's permission, octal (default "0644").
	Mode string `toml:"mode"`
}

// path resolves p against the configuration file's directory.
func (c *Spec) path(p string) string {
	if p == "" || filepath.IsAbs(p) || c.File == "" {
		return p
	}
	return filepath.Join(filepath.Dir(c.File), p)
}

// validateRender checks and compiles every [[render]]: the template parses
// and executes on example data (the configured aliases, every member
// usable), the output's directory exists, no two sections write the same
// file, the commands parse.
func (c *Spec) validateRender() []error {
	e := &collector{c: c}
	c.renders = nil
	if len(c.Render) == 0 {
		return nil // no example data to build (1,000 aliases: about 15 ms)
	}
	members := map[string][]string{}
	for i, a := range c.Aliases {
		p, _ := c.params(i)
		members[p.Name] = a.Members
	}
	sample := render.Sample(members)
	sample.Generated = time.Unix(0, 0).UTC()
	seen := map[string]int{}
	for i, r := range c.Render {
		key := fmt.Sprintf("render[%d]", i)
		t := &render.Target{TemplatePath: c.path(r.Template), Output: c.path(r.Output), Timeout: r.Timeout.Duration,
			Mode: render.DefaultMode}
		ok := true
		bad := func(k, format string, args ...any) {
			e.bad(key+"."+k, format, args...)
			ok = false
		}
		if r.Template == "" {
			bad("template", "required (a Go text/template file)")
		} else if tmpl, err := render.ParseTemplate(t.TemplatePath); err != nil {
			bad("template", "%s: %v", t.TemplatePath, err)
		} else {
			t.Template = tmpl
			if _, err := t.Render(sample); err != nil {
				bad("template", "%s: fails on example data (every configured member usable): %v", t.TemplatePath, err)
			}
		}
		switch {
		case r.Output == "":
			bad("output", "required (the file to write)")
		case filepath.Clean(t.Output) == filepath.Clean(t.TemplatePath):
			bad("output", "is the template itself")
		default:
			out := filepath.Clean(t.Output)
			if st, err := os.Stat(filepath.Dir(out)); err != nil || !st.IsDir() {
				bad("output", "directory %s does not exist (lbd does not create it)", filepath.Dir(out))
			} else if st, err := os.Stat(out); err == nil && !st.Mode().IsRegular() {
				bad("output", "%s exists and is not a regular file", out)
			}
			if j, dup := seen[out]; dup {
				bad("output", "%s is already written by render[%d]%s", out, j, c.lineOf(fmt.Sprintf("render[%d].output", j)))
			} else {
				seen[out] = i
			}
		}
		for _, cmd := range []struct {
			key  string
			text string
			dst  **render.Command
		}{{"check_cmd", r.CheckCmd, &t.Check}, {"reload_cmd", r.ReloadCmd, &t.Reload}} {
			if cmd.text == "" {
				continue
			}
			pc, err := render.ParseCommand(cmd.text)
			if err != nil {
				bad(cmd.key, "%v (a template over .File and .Output, run by /bin/sh -c)", err)
				continue
			}
			*cmd.dst = pc
		}
		if r.Timeout.Duration < 0 {
			bad("timeout", "must not be negative (0 or absent: %s)", render.DefaultTimeout)
		}
		if r.Mode != "" {
			m, err := strconv.ParseUint(r.Mode, 8, 32)
			if err != nil || m > 0o777 {
				bad("mode", "%q: want an octal permission such as \"0644\"", r.Mode)
			} else if m&0o400 == 0 {
				bad("mode", "%q: the owner could not read the file", r.Mode)
			} else {
				t.Mode = os.FileMode(m)
			}
		}
		if ok {
			c.renders = append(c.renders, t)
		}
	}
	return e.errs
}
