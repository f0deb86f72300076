package render

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"github.com/lbd-project/lbd/internal/atomicfile"
)

// DefaultTimeout bounds check_cmd and reload_cmd when [[render]] sets no
// timeout; DefaultMode is the rendered file's permission.
const (
	DefaultTimeout = 10 * time.Second
	DefaultMode    = fs.FileMode(0o644)
)

// MaxOutput bounds what a template may produce (a runaway range over a
// large farm must not fill the disk).
const MaxOutput = 64 << 20

// Funcs are the functions a template may call besides text/template's
// own: join (strings.Join), replace (strings.ReplaceAll), lower, upper.
var Funcs = template.FuncMap{
	"join":    strings.Join,
	"replace": strings.ReplaceAll,
	"lower":   strings.ToLower,
	"upper":   strings.ToUpper,
}

// newTemplate is a template with Funcs in which a missing map key is an
// error at execution (not "<no value>" in a proxy's configuration).
func newTemplate(name string) *template.Template {
	return template.New(name).Funcs(Funcs).Option("missingkey=error")
}

// ParseTemplate parses a template file (newTemplate).
func ParseTemplate(path string) (*template.Template, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	t, err := newTemplate(filepath.Base(path)).Parse(string(b))
	if err != nil {
		return nil, err // "template: name:line: …"
	}
	return t, nil
}

// Target is one [[render]] section, compiled.
type Target struct {
	// TemplatePath is the template file (for messages); Template is it
	// parsed (ParseTemplate).
	TemplatePath string
	Template     *template.Template
	// Output is the file written.
	Output string
	// Check, when set, runs on the new file before it replaces Output;
	// Reload, when set, runs after it did.
	Check, Reload *Command
	// Timeout bounds each command (0: DefaultTimeout); Mode is the
	// file's permission (0: DefaultMode).
	Timeout time.Duration
	Mode    fs.FileMode
}

// Stage is where applying a target stopped.
type Stage string

// Stages, also the result label of lbd_render_total.
const (
	Unchanged Stage = "unchanged"      // the rendered bytes equal the file: nothing done
	Replaced  Stage = "replaced"       // written, checked, renamed and reloaded
	Template  Stage = "template_error" // the template failed: old file kept
	Read      Stage = "read_error"     // the current file could not be read: old file kept
	Write     Stage = "write_error"    // the new file could not be written or renamed: old file kept
	Check     Stage = "check_failed"   // check_cmd refused the new file: old file kept
	Reload    Stage = "reload_failed"  // the file was replaced, reload_cmd failed
)

// Result is what Apply did.
type Result struct {
	Output string
	Stage  Stage
	// Replaced: the output file now has the new content (Stage Replaced
	// or Reload).
	Replaced bool
	// Reloaded: reload_cmd ran and succeeded.
	Reloaded bool
	// Size is the rendered size in bytes.
	Size int
	Err  error
}

// Error is a failed stage of one output.
type Error struct {
	Output string
	Stage  Stage
	Err    error
}

func (e *Error) Error() string {
	return fmt.Sprintf("render %s: %s: %v", e.Output, e.Stage, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Render executes the template with d.
func (t *Target) Render(d Data) ([]byte, error) {
	var b limitedBuffer
	b.max = MaxOutput
	if err := t.Template.Execute(&b, d); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Action is what Plan decides.
type Action int

const (
	// Keep: the file already has the content.
	Keep Action = iota
	// Replace: write, check, rename, reload.
	Replace
)

// Plan decides what to do with a file whose content is old (exists false:
// there is none) when the template rendered next.
func Plan(old []byte, exists bool, next []byte) Action {
	if exists && bytes.Equal(old, next) {
		return Keep
	}
	return Replace
}

// Apply renders d and, if the output differs from the file, replaces the
// file: a temporary file in the output's directory, check_cmd on it (the
// file is removed when it fails), fsync, rename over the output, then
// reload_cmd. forceReload runs reload_cmd even when the content is
// unchanged (the last reload failed). Every failure leaves the previous
// file in place, except a failed reload (the file is replaced).
func (t *Target) Apply(ctx context.Context, d Data, forceReload bool) Result {
	res := Result{Output: t.Output}
	fail := func(s Stage, err error) Result {
		res.Stage, res.Err = s, &Error{Output: t.Output, Stage: s, Err: err}
		return res
	}
	next, err := t.Render(d)
	if err != nil {
		return fail(Template, err)
	}
	res.Size = len(next)
	old, err := os.ReadFile(t.Output)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fail(Read, err)
	}
	if Plan(old, exists, next) == Keep {
		res.Stage = Unchanged
		if forceReload && t.Reload != nil {
			if err := t.Reload.Run(ctx, t.timeout(), CommandData{File: t.Output, Output: t.Output}); err != nil {
				return fail(Reload, err)
			}
			res.Reloaded = true
		}
		return res
	}
	var check func(tmp string) error
	if t.Check != nil {
		check = func(tmp string) error {
			return t.Check.Run(ctx, t.timeout(), CommandData{File: tmp, Output: t.Output})
		}
	}
	mode := t.Mode
	if mode == 0 {
		mode = DefaultMode
	}
	if err := atomicfile.WriteChecked(t.Output, next, mode, check); err != nil {
		var ce *atomicfile.CheckError
		if errors.As(err, &ce) {
			return fail(Check, ce.Err)
		}
		return fail(Write, err)
	}
	res.Replaced = true
	if t.Reload != nil {
		if err := t.Reload.Run(ctx, t.timeout(), CommandData{File: t.Output, Output: t.Output}); err != nil {
			return fail(Reload, err)
		}
		res.Reloaded = true
	}
	res.Stage = Replaced
	return res
}

func (t *Target) timeout() time.Duration {
	if t.Timeout > 0 {
		return t.Timeout
	}
	return DefaultTimeout
}

// limitedBuffer is a bytes.Buffer that refuses to grow past max.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		return 0, fmt.Errorf("output larger than %d bytes", b.max)
	}
	return b.Buffer.Write(p)
}
