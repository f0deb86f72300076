package checks

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// Result is the outcome of one check or load source.
type Result struct {
	// OK is true when the check passed (or the load produced a value).
	OK bool
	// Load is the value a load source contributes (summed per mapping).
	// Checks leave it 0.
	Load int
	// Code is the check's code (positive, docs/protocol.md §5.3); when OK is false the
	// mapping reports -Code.
	Code int
	// Hard marks a hard failure (configuration or execution error) as
	// opposed to a soft one (the node is unhealthy). Both report -Code.
	Hard bool
	// Reason says why, for logs and -once output.
	Reason string
}

// Metric is the value a failed result contributes: -Code.
func (r Result) Metric() int { return -r.Code }

// Env is what a check may look at when it runs.
type Env struct {
	// Root is the file-system root checks read under ("/" in production).
	Root string
	// Alias is the alias of an alias-specific mapping; empty for the
	// default mapping.
	Alias string

	// CollectdSocket is the path of collectd's unixsock socket, used as
	// is. Empty means DefaultCollectdSocket under Root.
	CollectdSocket string
	// Hostname is the host part prepended to collectd identifiers that
	// have a single "/". Empty means os.Hostname().
	Hostname string
	// Eosxd is the eosxd command used by the eos check. Empty means
	// "eosxd" looked up in $PATH.
	Eosxd string
	// Collectdctl is the collectdctl command used by collectd_alarms.
	// Empty means "collectdctl" looked up in $PATH.
	Collectdctl string
}

// Path returns p (an absolute path such as "/etc/nologin") under the root.
func (e Env) Path(p string) string {
	root := e.Root
	if root == "" {
		root = "/"
	}
	return filepath.Join(root, filepath.FromSlash(p))
}

// Spec is a check or load as written in the configuration: a name, or a
// table with type, data and an optional timeout.
type Spec struct {
	Type    string
	Data    string
	Timeout time.Duration
}

func (s Spec) String() string {
	if s.Data == "" {
		return s.Type
	}
	return s.Type + " " + s.Data
}

// Check is a built, validated check or load source. Run must honour ctx.
type Check interface {
	Run(ctx context.Context, env Env) Result
}

// Factory validates a Spec and builds the Check.
type Factory func(Spec) (Check, error)

// CheckFunc adapts a function to Check.
type CheckFunc func(ctx context.Context, env Env) Result

// Run calls f.
func (f CheckFunc) Run(ctx context.Context, env Env) Result { return f(ctx, env) }

// New builds the check named by spec.Type, validating its arguments.
func New(spec Spec) (Check, error) {
	e, ok := Lookup(spec.Type)
	if !ok {
		return nil, fmt.Errorf("unknown check %q (known: %s)", spec.Type, strings.Join(CheckNames(), ", "))
	}
	c, err := e.New(spec)
	if err != nil {
		return nil, fmt.Errorf("check %s: %w", spec.Type, err)
	}
	return c, nil
}

// NewLoad builds the load source named by spec.Type.
func NewLoad(spec Spec) (Check, error) {
	e, ok := LookupLoad(spec.Type)
	if !ok {
		return nil, fmt.Errorf("unknown load type %q (known: %s)", spec.Type, strings.Join(LoadNames(), ", "))
	}
	c, err := e.New(spec)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", spec.Type, err)
	}
	return c, nil
}

// CheckNames lists the registered checks, sorted.
func CheckNames() []string { return names(KindCheck) }

// LoadNames lists the registered load types, sorted.
func LoadNames() []string { return names(KindLoad) }
