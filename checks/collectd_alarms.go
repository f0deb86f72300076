package checks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// collectd_alarms is implemented with "collectdctl listval state=<state>"
// like the legacy agent, not with the unixsock protocol: LISTVAL on the
// socket reports no notification state, so the state filter of the
// (CERN-built) collectdctl is the only source. The command is Env.Collectdctl
// (default "collectdctl" from $PATH), run without a shell, once per distinct
// wanted state, with "-s <Env.CollectdSocket>" when that is set, under
// Spec.Timeout (default 3 s) per call and the ctx deadline.

// alarmRule is one metric and the states it may be in.
type alarmRule struct {
	Metric string
	States []string
}

type alarmsCheck struct {
	rules   []alarmRule
	states  []string // distinct wanted states, sorted
	timeout time.Duration
}

// newCollectdAlarms builds "collectd_alarms <json>": Data is a JSON list of
// objects {"<plugin/type-instance>": "<state>" | ["s1", "s2"]} (a single
// object is accepted too). Every metric of every object must be in one of
// its states (D16: the legacy agent read only the first object).
func newCollectdAlarms(spec Spec) (Check, error) {
	data := bytes.TrimSpace([]byte(spec.Data))
	if len(data) == 0 {
		return nil, fmt.Errorf("missing JSON list of {\"plugin/type\": state} objects")
	}
	var objs []map[string]json.RawMessage
	if data[0] == '{' {
		var one map[string]json.RawMessage
		if err := json.Unmarshal(data, &one); err != nil {
			return nil, fmt.Errorf("bad JSON %q: %v", spec.Data, err)
		}
		objs = append(objs, one)
	} else if err := json.Unmarshal(data, &objs); err != nil {
		return nil, fmt.Errorf("bad JSON %q: %v", spec.Data, err)
	}
	c := alarmsCheck{timeout: spec.Timeout}
	for i, o := range objs {
		if len(o) == 0 {
			return nil, fmt.Errorf("object %d is empty", i+1)
		}
		metrics := make([]string, 0, len(o))
		for m := range o {
			metrics = append(metrics, m)
		}
		sort.Strings(metrics)
		for _, m := range metrics {
			if err := validAlarmMetric(m); err != nil {
				return nil, err
			}
			states, err := jsonStrings(o, m)
			if err != nil {
				return nil, err
			}
			for _, s := range states {
				if !validAlarmState(s) {
					return nil, fmt.Errorf("metric %q: bad state %q", m, s)
				}
				c.states = appendUnique(c.states, s)
			}
			c.rules = append(c.rules, alarmRule{Metric: m, States: states})
		}
	}
	if len(c.rules) == 0 {
		return nil, fmt.Errorf("no metrics in %q", spec.Data)
	}
	sort.Strings(c.states)
	return c, nil
}

// validAlarmState accepts state names such as okay, warning, error,
// unknown: letters, digits, "_" and "-".
func validAlarmState(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func validAlarmMetric(m string) error {
	parts := strings.Split(m, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return fmt.Errorf("metric %q: want plugin/type or host/plugin/type", m)
	}
	for _, p := range parts {
		if p == "" {
			return fmt.Errorf("metric %q: empty part", m)
		}
		for i := 0; i < len(p); i++ {
			if !isNameByte(p[i]) {
				return fmt.Errorf("metric %q: bad character %q", m, p[i])
			}
		}
	}
	return nil
}

// Run lists the identifiers in each wanted state and checks every rule. A
// rule "plugin/type" matches an identifier of any host; a rule with a host
// part must match the whole identifier.
func (c alarmsCheck) Run(ctx context.Context, env Env) Result {
	ctl := env.Collectdctl
	if ctl == "" {
		ctl = "collectdctl"
	}
	inState := map[string]map[string]bool{} // state → identifier set
	for _, st := range c.states {
		argv := []string{ctl}
		if env.CollectdSocket != "" {
			argv = append(argv, "-s", env.CollectdSocket)
		}
		argv = append(argv, "listval", "state="+st)
		r := runCommand(ctx, argv, c.timeout)
		switch {
		case r.StartErr != nil:
			return Result{Code: CodeCollectd, Hard: true, Reason: fmt.Sprintf("%s: cannot start: %v", ctl, r.StartErr)}
		case r.TimedOut:
			return Result{Code: CodeCollectd, Hard: true, Reason: fmt.Sprintf("%s listval state=%s: timed out", ctl, st)}
		case !r.Exited || r.ExitCode != 0:
			return Result{Code: CodeCollectd, Hard: true, Reason: fmt.Sprintf("%s listval state=%s failed%s", ctl, st, stderrTail(r.Stderr))}
		}
		set := map[string]bool{}
		for _, line := range strings.Split(string(r.Stdout), "\n") {
			f := strings.Fields(line)
			if len(f) == 0 {
				continue
			}
			id := f[len(f)-1] // tolerate a leading timestamp column
			set[id] = true
			if _, rest, ok := strings.Cut(id, "/"); ok && strings.Count(id, "/") == 2 {
				set[rest] = true
			}
		}
		inState[st] = set
	}
	for _, rule := range c.rules {
		ok := slices.ContainsFunc(rule.States, func(st string) bool { return inState[st][rule.Metric] })
		if !ok {
			return Result{Code: CodeCollectd, Reason: fmt.Sprintf("%s is not in state %s", rule.Metric, strings.Join(rule.States, " or "))}
		}
	}
	return Result{OK: true, Code: CodeCollectd, Reason: fmt.Sprintf("%d metric(s) in wanted states", len(c.rules))}
}
