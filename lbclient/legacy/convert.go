package legacy

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// PlaceholderPassword is the SNMPv3 password written by
// Convert: the real one is in snmpd.conf (createUser), which the
// legacy directory does not hold.
const PlaceholderPassword = "CHANGE-ME-shared-lb-password"

// Convert prints the TOML configuration equivalent to lc (docs/design.md
// §4 syntax): an [agent] section with defaults and comments, [default] from
// the default file, and one [[alias]] per mapping in answer order (alias
// files with their own checks and loads, then the aliases of the default
// mapping). Erroneous lines are left out as comments; callers should
// report lc.Problems.
//
// Differences the comments point out: TOML runs a section's checks before
// its loads (a legacy file may interleave them, which only matters for which
// failure code is reported first); TOML answers an INTEGER for exactly one
// alias, legacy for exactly one mapping (a single mapping serving several
// aliases becomes a STRING with the same value for each, which lbd reads
// the same way).
func Convert(lc *Config) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("# lbclient configuration converted from the legacy directory %s\n", tomlComment(lc.Dir))
	p("# by \"lbclient -convert-legacy\". Review the [agent] section before use.\n")
	if len(lc.Problems) > 0 {
		p("#\n# Problems found in the legacy configuration:\n")
		for _, pr := range lc.Problems {
			p("#   %s\n", tomlComment(pr.String()))
		}
	}
	p(`
[agent]
# Addresses the standalone SNMP agent answers on (one socket each; on a
# multi-homed node list the node's own addresses).
listen = ["0.0.0.0:161", "[::]:161"]
# File-system root the checks read under.
root = %s
# Evaluation period of the checks and loads.
interval = %s
# SNMPv3 user polled by lbd: the existing deployment has
# "createUser loadbalancing MD5 <password>" in snmpd.conf. Put the shared
# password here (the placeholder below must be replaced).
users = [{ name = "loadbalancing", auth_protocol = "md5", auth_password = %s }]
# community = ""   # SNMPv2c, off when empty
`, tomlString(lc.Agent.Root), tomlString(lc.Interval().String()), tomlString(PlaceholderPassword))

	p("\n[default]\n")
	if lc.Default == nil {
		p("# (no default %s in the legacy directory)\n", DefaultFile)
	} else {
		p("# from %s\n", tomlComment(lc.Default.Path))
		writeItems(&b, lc.Default)
	}

	for _, f := range lc.Files {
		p("\n[[alias]]\nname = %s\n# from %s\n", tomlString(f.Alias), tomlComment(f.Path))
		writeItems(&b, f)
	}
	var defAliases []string
	for _, m := range lc.Mappings() {
		if m.Default {
			defAliases = m.Aliases
		}
	}
	for _, a := range defAliases {
		p("\n[[alias]]\nname = %s   # listed in %s, uses [default]\n", tomlString(a), AliasesFile)
	}
	if len(lc.Files) == 0 && len(defAliases) == 0 {
		// Valid for the existing lbclient (docs/protocol.md §5.7), not for
		// the TOML configuration, which serves at least one alias.
		p("\n# No alias: %s lists none and there is no %s<alias> file, so the legacy\n", AliasesFile, aliasPrefix)
		p("# agent serves no alias (it answers an empty string, which lbd reads as load\n")
		p("# 100000). lbclient loads this file once it has at least one alias, e.g.:\n")
		p("# [[alias]]\n# name = \"myalias.example.org\"   # uses [default]\n")
	}
	if lc.Default == nil && len(defAliases) > 0 {
		p("\n# WARNING: the aliases above have no file of their own and the legacy directory has no\n")
		p("# default %s: the legacy configuration reports %d for them; here they use the\n", DefaultFile, ConfigError)
		p("# empty [default] (the built-in default load).\n")
	}
	if len(lc.Mappings()) == 1 && len(lc.Aliases()) > 1 {
		p("\n# Note: the legacy agent answered one INTEGER (one mapping); this configuration answers\n")
		p("# \"alias=N,...\" with the same value for every alias, which lbd reads the same way.\n")
	}
	return b.String()
}

// writeItems writes the checks and loads keys of one file. An alias
// section always gets both keys (possibly empty) so that it stays its own
// mapping.
func writeItems(b *strings.Builder, f *File) {
	if f.Err != nil {
		fmt.Fprintf(b, "# ERROR: %s\n", tomlComment(f.Err.Error()))
	}
	var cks, lds []string
	sawLoad, reordered := false, false
	for _, l := range f.Lines {
		if l.Err != nil {
			fmt.Fprintf(b, "# ERROR line %d left out: %s\n#   %s\n", l.Line, tomlComment(l.Err.Error()), tomlComment(l.Text))
			continue
		}
		item := tomlItem(l)
		if l.Load {
			sawLoad = true
			lds = append(lds, item)
		} else {
			reordered = reordered || sawLoad
			cks = append(cks, item)
		}
	}
	if reordered {
		b.WriteString("# Note: the legacy file has load lines before check lines; TOML runs the checks first.\n")
	}
	writeList(b, "checks", cks)
	writeList(b, "loads", lds)
}

func writeList(b *strings.Builder, key string, items []string) {
	if len(items) <= 1 {
		fmt.Fprintf(b, "%s = [%s]\n", key, strings.Join(items, ""))
		return
	}
	fmt.Fprintf(b, "%s = [\n", key)
	for _, it := range items {
		fmt.Fprintf(b, "  %s,\n", it)
	}
	b.WriteString("]\n")
}

// tomlItem is one check or load in the TOML item syntax.
func tomlItem(l Line) string {
	if l.Spec.Data == "" && !l.Load {
		return tomlString(l.Spec.Type)
	}
	return fmt.Sprintf("{ type = %s, data = %s }", tomlString(l.Spec.Type), tomlString(l.Spec.Data))
}

// tomlString quotes s as a TOML basic string (invalid UTF-8 becomes U+FFFD).
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range strings.ToValidUTF8(s, string(utf8.RuneError)) {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// tomlComment makes s safe inside a "# ..." comment (one line, no control
// characters).
func tomlComment(s string) string {
	s = strings.ToValidUTF8(s, string(utf8.RuneError))
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
