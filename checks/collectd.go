package checks

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// collectdRef is one [name] or [name:anchor] reference of an expression.
type collectdRef struct {
	Name   string
	Anchor string // "" → first value
	Index  int    // 1-based index when the anchor is an integer; 0 otherwise
}

// collectdExpr is a compiled collectd expression.
type collectdExpr struct {
	source  string
	refs    []collectdRef // variable v<i> is refs[i]
	program *vm.Program
	timeout time.Duration
}

// newCollectdCheck builds "check collectd <expr>": the expression's value
// (true = 1, false = -1, numbers truncated to int32) fails when negative;
// 0 passes (docs/protocol.md §5.4).
func newCollectdCheck(spec Spec) (Check, error) { return newCollectd(spec, false) }

// newCollectdLoad builds "load collectd <expr>": the value is added to the
// mapping's load; a negative value is a soft failure -15.
func newCollectdLoad(spec Spec) (Check, error) { return newCollectd(spec, true) }

func newCollectd(spec Spec, load bool) (Check, error) {
	e, err := compileCollectd(spec.Data, spec.Timeout)
	if err != nil {
		return nil, err
	}
	return CheckFunc(func(ctx context.Context, env Env) Result {
		v, r, ok := e.eval(ctx, env)
		if !ok {
			return r
		}
		reason := fmt.Sprintf("%s = %d", e.source, v)
		if v < 0 {
			if load {
				reason = "negative load " + reason
			}
			return Result{Code: CodeCollectd, Reason: reason}
		}
		res := Result{OK: true, Code: CodeCollectd, Reason: reason}
		if load {
			res.Load = v
		}
		return res
	}), nil
}

// compileCollectd pre-processes, parses and type-checks an expression.
func compileCollectd(source string, timeout time.Duration) (*collectdExpr, error) {
	source = strings.TrimSpace(source)
	if source == "" {
		return nil, fmt.Errorf("missing expression")
	}
	text := preprocessCollectd(source)
	code, refs, err := replaceCollectdRefs(text)
	if err != nil {
		return nil, err
	}
	if err := checkCollectdCode(code); err != nil {
		return nil, fmt.Errorf("expression %q: %v", source, err)
	}
	env := collectdExprEnv(make([]float64, len(refs)))
	prog, err := expr.Compile(code, expr.Env(env),
		expr.Operator("%", "fmod", "fmodFI", "fmodIF"),
	)
	if err != nil {
		return nil, fmt.Errorf("expression %q: %v", source, err)
	}
	return &collectdExpr{source: source, refs: refs, program: prog, timeout: timeout}, nil
}

// collectdExprEnv is the evaluation environment: v0..vN and the float
// modulo overloads (govaluate computes % on floats; expr only on ints).
func collectdExprEnv(vals []float64) map[string]any {
	env := make(map[string]any, len(vals)+2)
	for i, v := range vals {
		env["v"+strconv.Itoa(i)] = v
	}
	env["fmod"] = math.Mod
	env["fmodFI"] = func(a float64, b int) float64 { return math.Mod(a, float64(b)) }
	env["fmodIF"] = func(a int, b float64) float64 { return math.Mod(float64(a), b) }
	return env
}

// preprocessCollectd applies docs/protocol.md §5.4 pre-processing: (1) a lone
// "=" with "]" or a digit before it and a digit or "[" after it (blanks
// between are allowed) becomes "=="; (2) spaces and tabs are removed;
// (3) legacy Lemon "_NNN" / "_NNN:k" outside brackets become "[NNN]" /
// "[NNN:k]".
func preprocessCollectd(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '=' && loneEquals(s, i) {
			b.WriteString("==")
			continue
		}
		b.WriteByte(c)
	}
	s = strings.NewReplacer(" ", "", "\t", "").Replace(b.String())
	b.Reset()
	depth := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '[':
			depth++
		case c == ']':
			if depth > 0 {
				depth--
			}
		case c == '_' && depth == 0 && i+1 < len(s) && isDigit(s[i+1]):
			j := i + 1
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			ref := s[i+1 : j]
			if j+1 < len(s) && s[j] == ':' && isDigit(s[j+1]) {
				k := j + 1
				for k < len(s) && isDigit(s[k]) {
					k++
				}
				ref, j = s[i+1:k], k
			}
			b.WriteString("[" + ref + "]")
			i = j - 1
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func loneEquals(s string, i int) bool {
	if i > 0 && strings.IndexByte("=!<>", s[i-1]) >= 0 {
		return false
	}
	if i+1 < len(s) && s[i+1] == '=' {
		return false
	}
	p := i - 1
	for p >= 0 && (s[p] == ' ' || s[p] == '\t') {
		p--
	}
	n := i + 1
	for n < len(s) && (s[n] == ' ' || s[n] == '\t') {
		n++
	}
	return p >= 0 && n < len(s) && (s[p] == ']' || isDigit(s[p])) && (s[n] == '[' || isDigit(s[n]))
}

// checkCollectdCode keeps expressions to the govaluate-compatible subset
// (numbers, references, true/false, the operators of doc.go and
// parentheses), so that expr's other features (ranges, builtins, strings,
// arrays, maps) cannot be used to build huge values or call functions.
func checkCollectdCode(code string) error {
	for i := 0; i < len(code); i++ {
		c := code[i]
		switch {
		case c == ' ' || isDigit(c) || strings.IndexByte("+-*/%<>=!&|?:().", c) >= 0:
			if c == '.' && i+1 < len(code) && code[i+1] == '.' {
				return fmt.Errorf("\"..\" is not allowed")
			}
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_':
			j := i
			for j < len(code) && (isNameByte(code[j]) && code[j] != '-' && code[j] != '.') {
				j++
			}
			word := code[i:j]
			if word != "true" && word != "false" && !isCollectdVar(word) && !isExponent(code, i, word) {
				return fmt.Errorf("unknown name %q (references are written [plugin/type:anchor])", word)
			}
			i = j - 1
		default:
			return fmt.Errorf("character %q is not allowed", c)
		}
	}
	return nil
}

func isCollectdVar(w string) bool {
	if len(w) < 2 || w[0] != 'v' {
		return false
	}
	for i := 1; i < len(w); i++ {
		if !isDigit(w[i]) {
			return false
		}
	}
	return true
}

// isExponent reports whether word at code[i:] is the "e" of a number such
// as 1e3 or 2.5E-1.
func isExponent(code string, i int, word string) bool {
	if i == 0 || !(isDigit(code[i-1]) || code[i-1] == '.') || (word[0] != 'e' && word[0] != 'E') {
		return false
	}
	rest := word[1:]
	for k := 0; k < len(rest); k++ {
		if !isDigit(rest[k]) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '.' || c == '_' || c == '-'
}

// replaceCollectdRefs replaces every [name] / [name:anchor] by a variable.
// A name is up to three "/"-separated parts (host/plugin/type, plugin/type
// or plugin) of letters, digits, ".", "_" and "-" (the full identifier
// grammar, D16). Equal references share a variable.
func replaceCollectdRefs(s string) (string, []collectdRef, error) {
	var b strings.Builder
	var refs []collectdRef
	for i := 0; i < len(s); i++ {
		if s[i] != '[' {
			if s[i] == ']' {
				return "", nil, fmt.Errorf("unbalanced ] in %q", s)
			}
			b.WriteByte(s[i])
			continue
		}
		end := strings.IndexByte(s[i:], ']')
		if end < 0 {
			return "", nil, fmt.Errorf("unterminated reference in %q", s)
		}
		body := s[i+1 : i+end]
		ref, err := parseCollectdRef(body)
		if err != nil {
			return "", nil, err
		}
		idx := -1
		for k, r := range refs {
			if r == ref {
				idx = k
				break
			}
		}
		if idx < 0 {
			idx = len(refs)
			refs = append(refs, ref)
		}
		fmt.Fprintf(&b, " v%d ", idx)
		i += end
	}
	return b.String(), refs, nil
}

func parseCollectdRef(body string) (collectdRef, error) {
	name, anchor, hasAnchor := strings.Cut(body, ":")
	parts := strings.Split(name, "/")
	if len(parts) > 3 {
		return collectdRef{}, fmt.Errorf("reference [%s]: too many / in the name", body)
	}
	for _, p := range parts {
		if p == "" {
			return collectdRef{}, fmt.Errorf("reference [%s]: empty name part", body)
		}
		for k := 0; k < len(p); k++ {
			if !isNameByte(p[k]) {
				return collectdRef{}, fmt.Errorf("reference [%s]: bad character %q in the name", body, p[k])
			}
		}
	}
	ref := collectdRef{Name: name}
	if hasAnchor {
		if anchor == "" {
			return collectdRef{}, fmt.Errorf("reference [%s]: empty anchor", body)
		}
		ref.Anchor = anchor
		if n, err := strconv.Atoi(anchor); err == nil && isDigit(anchor[0]) {
			if n < 1 {
				return collectdRef{}, fmt.Errorf("reference [%s]: anchor must be ≥ 1", body)
			}
			ref.Index = n
		}
	}
	return ref, nil
}

// eval fetches the referenced values and evaluates the expression. When
// ok is false, r is the failure to report: hard for collectd and lookup
// errors, soft for NaN values or a NaN/infinite result.
func (e *collectdExpr) eval(ctx context.Context, env Env) (v int, r Result, ok bool) {
	hard := func(format string, a ...any) (int, Result, bool) {
		return 0, Result{Code: CodeCollectd, Hard: true, Reason: fmt.Sprintf(format, a...)}, false
	}
	vals := make([]float64, len(e.refs))
	if len(e.refs) > 0 {
		c, err := dialCollectd(ctx, env, e.timeout)
		if err != nil {
			return hard("%v", err)
		}
		defer c.Close()
		fetched := map[string][]collectdValue{}
		for i, ref := range e.refs {
			got, done := fetched[ref.Name]
			if !done {
				if got, err = c.GetVal(ref.Name); err != nil {
					return hard("%v", err)
				}
				fetched[ref.Name] = got
			}
			x, err := pickCollectdValue(ref, got)
			if err != nil {
				return hard("%v", err)
			}
			if math.IsNaN(x) {
				return 0, Result{Code: CodeCollectd, Reason: fmt.Sprintf("%s is NaN", ref)}, false
			}
			vals[i] = x
		}
	}
	out, err := expr.Run(e.program, collectdExprEnv(vals))
	if err != nil {
		return hard("expression %q: %v", e.source, err)
	}
	return collectdResult(e.source, out)
}

func (r collectdRef) String() string {
	if r.Anchor == "" {
		return "[" + r.Name + "]"
	}
	return "[" + r.Name + ":" + r.Anchor + "]"
}

func pickCollectdValue(ref collectdRef, vals []collectdValue) (float64, error) {
	switch {
	case len(vals) == 0:
		return 0, fmt.Errorf("%s: collectd returned no values", ref)
	case ref.Anchor == "":
		return vals[0].Value, nil
	case ref.Index > 0:
		if ref.Index > len(vals) {
			return 0, fmt.Errorf("%s: only %d value(s)", ref, len(vals))
		}
		return vals[ref.Index-1].Value, nil
	}
	for _, v := range vals {
		if v.Key == ref.Anchor {
			return v.Value, nil
		}
	}
	return 0, fmt.Errorf("%s: no value named %q", ref, ref.Anchor)
}

// collectdResult converts an expression value: true → 1, false → -1,
// numbers truncated toward zero and clamped to int32, strings parsed.
func collectdResult(source string, out any) (int, Result, bool) {
	var f float64
	switch x := out.(type) {
	case bool:
		if x {
			return 1, Result{}, true
		}
		return -1, Result{}, true
	case int:
		f = float64(x)
	case float64:
		f = x
	case string:
		p, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return 0, Result{Code: CodeCollectd, Hard: true, Reason: fmt.Sprintf("%s: result %q is not a number", source, x)}, false
		}
		f = p
	default:
		return 0, Result{Code: CodeCollectd, Hard: true, Reason: fmt.Sprintf("%s: result %v (%T) is not a number", source, out, out)}, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, Result{Code: CodeCollectd, Reason: fmt.Sprintf("%s = %v", source, f)}, false
	}
	f = math.Trunc(f)
	f = math.Max(math.MinInt32, math.Min(math.MaxInt32, f))
	return int(f), Result{}, true
}
