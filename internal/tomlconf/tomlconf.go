package tomlconf

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Error is a configuration error located in a file.
type Error struct {
	File string
	Line int    // 0 when unknown
	Key  string // dotted path, array elements as name[i]; may be empty
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Key != "" {
		b.WriteString(": key ")
		b.WriteString(e.Key)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

var decodeErrRE = regexp.MustCompile(`^toml: (?:line (\d+) )?\(last key "([^"]*)"\): (.*)$`)

// Doc is a decoded file, kept to locate keys for later validation errors.
type Doc struct {
	File string
	Data []byte
	Meta toml.MetaData
}

// Decode decodes data (the contents of file) into v, which the caller has
// filled with defaults, and rejects keys v has no field for.
func Decode(file string, data []byte, v any) (*Doc, error) {
	return DecodeLimited(file, data, v, MaxSize)
}

// DecodeLimited is Decode for files of up to maxSize bytes (lbd's
// configuration lists every member of a site: 100,000 members take about
// 2.3 MB).
func DecodeLimited(file string, data []byte, v any, maxSize int) (*Doc, error) {
	if err := checkLimits(file, data, maxSize); err != nil {
		return nil, err
	}
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(v)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &Error{File: file, Line: pe.Position.Line, Key: pe.LastKey, Msg: pe.Message}
		}
		// Type mismatches come as plain errors:
		// toml: line N (last key "a.b"): message
		if m := decodeErrRE.FindStringSubmatch(err.Error()); m != nil {
			e := &Error{File: file, Key: m[2], Msg: m[3]}
			if m[1] != "" {
				e.Line, _ = strconv.Atoi(m[1])
			} else {
				e.Line = (&Doc{Data: data}).Line(m[2])
			}
			return nil, e
		}
		return nil, &Error{File: file, Msg: err.Error()}
	}
	d := &Doc{File: file, Data: data, Meta: md}
	if und := md.Undecoded(); len(und) > 0 {
		var errs []error
		for _, k := range und {
			errs = append(errs, d.Errorf(k.String(), "unknown key"))
		}
		return nil, errors.Join(errs...)
	}
	return d, nil
}

// Limits of a configuration file, checked before decoding: a larger or
// deeper file is refused at once, so that no input can make the decoder use
// memory out of proportion (a 16 KB file of nested inline tables did; flat
// TOML costs memory in proportion to its size).
const (
	MaxSize  = 1 << 20
	MaxDepth = 32
)

// checkLimits refuses a file over maxSize or nested deeper than MaxDepth
// (arrays and inline tables, outside strings and comments).
func checkLimits(file string, data []byte, maxSize int) error {
	if len(data) > maxSize {
		return &Error{File: file, Msg: fmt.Sprintf("file of %d bytes: larger than the %d bytes a configuration may have", len(data), maxSize)}
	}
	line, depth := 1, 0
	inStr, inComment := byte(0), false
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case c == '\n':
			line++
			inComment = false
		case inComment:
		case inStr != 0:
			if c == '\\' && inStr == '"' {
				i++
			} else if c == inStr {
				inStr = 0
			}
		case c == '#':
			inComment = true
		case c == '"' || c == '\'':
			inStr = c
		case c == '[' || c == '{':
			depth++
			if depth > MaxDepth {
				return &Error{File: file, Line: line, Msg: fmt.Sprintf("nested deeper than %d levels", MaxDepth)}
			}
		case c == ']' || c == '}':
			depth = max(depth-1, 0)
		}
	}
	return nil
}

// Errorf returns an *Error for key (dotted path, "alias[2].ttl" for the
// third [[alias]] table) with its line in the file where it can be found.
func (d *Doc) Errorf(key, format string, args ...any) error {
	return &Error{File: d.File, Line: d.Line(key), Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Line finds the line where key is set, or where its closest enclosing table
// starts; 0 if nothing matches. It understands [table], [[array]] headers and
// dotted or inline-table keys well enough for error messages.
func (d *Doc) Line(key string) int {
	if d == nil {
		return 0
	}
	want := splitKey(key)
	best, bestLen := 0, 0
	var header []seg
	counts := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(d.Data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		case strings.HasPrefix(line, "[["):
			name := strings.TrimSpace(strings.Trim(strings.SplitN(line, "]]", 2)[0], "[ "))
			header = nil
			for _, p := range strings.Split(name, ".") {
				header = append(header, seg{name: strings.Trim(strings.TrimSpace(p), `"`), idx: -1})
			}
			header[len(header)-1].idx = counts[name]
			counts[name]++
			if m := match(header, want); m > bestLen {
				best, bestLen = n, m
			}
		case strings.HasPrefix(line, "["):
			name := strings.TrimSpace(strings.Trim(strings.SplitN(line, "]", 2)[0], "[ "))
			header = nil
			for _, p := range strings.Split(name, ".") {
				header = append(header, seg{name: strings.Trim(strings.TrimSpace(p), `"`), idx: -1})
			}
			if m := match(header, want); m > bestLen {
				best, bestLen = n, m
			}
		default:
			eq := strings.Index(line, "=")
			if eq <= 0 {
				continue
			}
			path := append([]seg(nil), header...)
			for _, p := range strings.Split(line[:eq], ".") {
				path = append(path, seg{name: strings.Trim(strings.TrimSpace(p), `"'`), idx: -1})
			}
			// inline table: key = { a = 1, b = 2 }
			rest := line[eq+1:]
			m := match(path, want)
			if m == len(path) && m < len(want) && strings.Contains(rest, want[m].name+" ") || m == len(path) && m < len(want) && strings.Contains(rest, want[m].name+"=") {
				m++
			}
			if m > bestLen {
				best, bestLen = n, m
			}
		}
	}
	// An element of an array (members[2], checks[0]): the line where that
	// element starts, for arrays written over several lines.
	if last := want[len(want)-1]; best > 0 && bestLen == len(want) && last.idx >= 0 {
		if l := elementLine(d.Data, best, last.idx); l > 0 {
			return l
		}
	}
	return best
}

// elementLine returns the line where element idx of the array whose key is
// on line start begins, 0 when it cannot tell. It follows strings,
// brackets and braces; comments end at the line's end.
func elementLine(data []byte, start, idx int) int {
	line, depth, elem := 1, 0, -1
	inStr, inComment := byte(0), false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if c == '\n' {
			line++
			inComment = false
			continue
		}
		if line < start || inComment {
			continue
		}
		switch {
		case inStr != 0:
			if c == '\\' && inStr == '"' {
				i++
			} else if c == inStr {
				inStr = 0
			}
			continue
		case c == '#':
			inComment = true
			continue
		case c == '"' || c == '\'':
			inStr = c
		case c == '[' || c == '{':
			depth++
			if depth == 1 && c == '[' {
				elem = 0
				if elemStarts(data[i+1:]) && idx == 0 {
					return line + leadingLines(data[i+1:])
				}
				continue
			}
		case c == ']' || c == '}':
			depth--
			if depth == 0 {
				return 0
			}
		case c == ',' && depth == 1:
			elem++
			if elem == idx {
				return line + leadingLines(data[i+1:])
			}
			continue
		}
	}
	return 0
}

// elemStarts reports whether an element follows (not the array's end).
func elemStarts(rest []byte) bool {
	t := bytes.TrimLeft(rest, " \t\r\n")
	return len(t) > 0 && t[0] != ']'
}

// leadingLines counts the newlines before the next element's first
// character (blank lines and comments skipped).
func leadingLines(rest []byte) int {
	n := 0
	for i := 0; i < len(rest); i++ {
		switch rest[i] {
		case '\n':
			n++
		case ' ', '\t', '\r':
		case '#':
			for i < len(rest) && rest[i] != '\n' {
				i++
			}
			i--
		default:
			return n
		}
	}
	return n
}

type seg struct {
	name string
	idx  int // -1: not an array element / any
}

func splitKey(key string) []seg {
	var out []seg
	for _, p := range strings.Split(key, ".") {
		s := seg{name: p, idx: -1}
		if i := strings.Index(p, "["); i > 0 && strings.HasSuffix(p, "]") {
			if n, err := strconv.Atoi(p[i+1 : len(p)-1]); err == nil {
				s = seg{name: p[:i], idx: n}
			}
		}
		out = append(out, s)
	}
	return out
}

// match returns how many leading segments of have match want (all of have
// must match, else 0).
func match(have, want []seg) int {
	if len(have) > len(want) {
		return 0
	}
	for i, h := range have {
		w := want[i]
		if h.name != w.name {
			return 0
		}
		if h.idx >= 0 && w.idx >= 0 && h.idx != w.idx {
			return 0
		}
	}
	return len(have)
}
