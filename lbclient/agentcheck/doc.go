// Package agentcheck answers HAProxy's agent check for lbclient: HAProxy
// connects over TCP to the agent port of a server, optionally sends one
// line (its agent-send string), and reads one line back that sets the
// server's weight, administrative state and health. The keywords and their
// effects are HAProxy's, documented in its configuration manual, section
// "5.2 Server and default-server options", keywords "agent-check",
// "agent-send", "agent-port" and "agent-inter" (HAProxy 2.6).
//
// The package has two halves. Answer, Weight and Reply are pure functions
// from what lbclient knows of an alias (a Status, from the evaluator's last
// round: nothing is evaluated per connection) and a Policy to the line
// sent; Server accepts connections on a listener and writes that line.
//
// Every answer sets both dimensions HAProxy lets an agent set, so what
// HAProxy shows depends only on the last answer, never on earlier ones:
//
//	usable (1..99999)   "up ready <w>% #load <n>"
//	drained             "up drain #…", "up maint #…" or "down ready #…"
//	unusable            the same three, by Policy.Unusable
//
// "up"/"down" is the agent's health, "ready"/"drain"/"maint" the
// administrative state. Drained means the member is asked to leave on
// purpose: a failed nologin (code 1), roger (13) or reboot (19) check, and
// the time before the first evaluation round ("not ready"). Unusable is
// every other unusable answer: a failed check or load, a hung one, a
// configuration error, a load outside 1..99999, an unknown alias. The text
// after "#" is a description HAProxy shows with the check result.
//
// Weight maps a load (lower is better) to a percentage of the server's
// configured HAProxy weight: round(100 × FullLoad / load), clamped to
// 1..100. It never increases with the load; loads up to FullLoad get the
// full weight. HAProxy multiplies the percentage by the configured weight
// and truncates, so servers should be configured with "weight 100".
//
// Choosing the alias. A listening port mapped to an alias answers that
// alias at once, whatever HAProxy sends. Otherwise the first line HAProxy
// sends (agent-send, e.g. "www.lb.example.org\n") names it, compared
// without case and trailing dot; with no line and exactly one configured
// alias, that alias is answered. A name that is not configured, or no name
// when several aliases are configured, answers Policy.Unusable with the
// reason.
//
// Hostile or broken peers: the optional line is read with a short wait
// (ShortWait, when an answer is possible without it) or a longer one
// (LineWait, when it is required), at most MaxLine bytes; a line still
// unterminated at the deadline is used as it is. The answer is written
// under WriteTimeout and the connection closed. At most MaxConns
// connections are handled at a time; above that a connection is closed at
// once without an answer. The server never logs; Observe counts results.
package agentcheck
