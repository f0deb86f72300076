// Package lbclient is the member-node agent: it loads the TOML
// configuration (etc/lbclient.toml documents every key), evaluates each
// alias's checks and loads in the background, composes the answer
// (docs/protocol.md §5.7) and serves it over SNMP with package agent.
//
// Configuration. Config is the TOML configuration as written (a plain
// value). Config.Plan validates it and describes, as data, what it means
// (a Plan: agent settings, mappings with their steps, aliases, composition
// rule); Compile builds the checks of a Plan into the runtime Compiled
// value that the Evaluator, Start and the pass modes use. Load and Parse
// do all three; package legacy produces a Plan from the legacy formats,
// compiled the same way.
//
// Mappings. Every [[alias]] that has checks or loads of its own is its own
// mapping, evaluated with checks.Env{Alias: name}. Aliases without either
// share the [default] mapping, evaluated once per round with Env.Alias "".
// Evaluation follows docs/protocol.md §5.2: checks in order, the first failing one
// gives -Code and stops; then loads in order, summed, a failing one gives
// -Code and stops; a sum of 0 is replaced by the built-in default load
// (Compiled.DefaultLoad).
//
// Output. A configuration with exactly one alias answers an INTEGER (that
// alias's metric); otherwise an OCTET STRING "alias1=N1,alias2=N2" with every
// alias, in configuration order, no spaces (docs/protocol.md §3.4 item 6). Zero
// aliases is rejected by Config.Plan. (The legacy rule, PerMapping, answers
// an INTEGER for exactly one mapping instead.)
//
// Codes of our own (not used by docs/protocol.md, whose codes are 1..19):
// NotReady (-100) is answered for every alias until the first evaluation
// round has finished; CheckHung (-101) is a check or load that did not
// return within its timeout plus a grace period (it is abandoned, the round
// goes on); ConfigError (-102) is a configuration that cannot be evaluated.
//
// Engine. A round (Evaluator.Round, every [agent] interval) evaluates the
// mappings with at most [agent] workers (default 4) at a time; within a
// mapping the steps run in order and the first failure stops it. A step is
// memoised for the round by type, data, timeout, root and, for checks that
// read the alias (nologin), the alias: the same check in several mappings
// runs once per round (engine.go). The built-in default load is computed at
// most once per round. A step abandoned as hung (timeout + HangGrace)
// reports CheckHung, and keeps reporting it at once in later rounds until
// its goroutine returns (it is not started again meanwhile). The result of
// a round is published atomically; Evaluator.Value, which the SNMP
// responder calls for every GET, only reads it.
//
// Reload. Agent.Reload applies a new configuration: a round with it starts
// at once (the previous answer is served meanwhile); a change of community,
// users or engine ID builds a new responder with engine boots incremented
// (persisted); push settings restart the pusher; listen addresses need a
// restart (Reload returns an error and keeps the old configuration, as for
// any error). Agent.Reread reads the configuration again with the agent's
// Loader (FileLoader(Compiled.File) unless the caller sets one); Run does
// this on SIGHUP.
//
// Watching files. On Linux the agent (Start, and ServePassPersist behind
// snmpd) also watches, with one
// inotify instance (man inotify(7)), the files read by checks whose
// registry entry has WatchPaths (nologin, roger, reboot): one watch per
// distinct directory, the file's parent or, when that does not exist yet,
// its nearest existing ancestor (so /run/systemd/shutdown/scheduled is seen
// when the directory and then the file appear); a file that is a symbolic
// link has the directories of the paths it leads to watched as well (up
// to 8 links: /etc/nologin → /run/nologin). Events are debounced (20
// ms after the last one, at most 200 ms after the first); then the watches
// are brought up to date and Evaluator.Touch starts at once a round of only
// the mappings whose checks read a changed path (RoundChanged; the others
// keep their last outcome), whose usability changes are pushed as usual. An
// event queue overflow starts a full round. The interval rounds go on
// regardless: they are the fallback when inotify is unavailable (a warning
// is logged once), a directory cannot be watched, on other systems
// (watch_other.go), and for changes a directory watch cannot see (a
// directory above the file replaced by a link). A reload watches the new
// configuration's files.
//
// Engine boots. [agent] boots_file, else $STATE_DIRECTORY/boots (systemd
// StateDirectory=), else not persisted (1 at every start, warning logged).
//
// Push. With [agent] push = ["host:port", ...], a round in which an alias
// changes between usable (1..99999) and unusable (anything else, including
// NotReady) sends one SNMPv2c notification to each address — a trap
// (SNMPv2-Trap-PDU), or with push_inform = true an InformRequest resent up
// to push_retries times, push_timeout apart — with community push_community
// (default: [agent] community, else "public"). Variable bindings, in order:
//
//	.1.3.6.1.2.1.1.3.0        sysUpTime.0    TimeTicks: agent uptime, 1/100 s
//	.1.3.6.1.6.3.1.1.4.1.0    snmpTrapOID.0  OID TrapOID = .1.3.6.1.4.1.96.255.2 ("load changed")
//	.1.3.6.1.4.1.96.255.1     the answer     INTEGER or OCTET STRING, exactly what a GET returns now
//	.1.3.6.1.4.1.96.255.3     ChangedOID     OCTET STRING "alias=N,alias2=M": the aliases whose
//	                                         usability changed and their new metric
//	.1.3.6.1.2.1.1.5.0        sysName.0      OCTET STRING: os.Hostname()
//
// A receiver (lbd) should re-evaluate the changed aliases for the member it
// knows by the notification's source address or sysName, using the answer
// as a fresh poll result of that address (or poll again). Notifications are
// sent by one goroutine per address and never delay a round: a target that
// is still busy keeps only the newest pending notification, its changed
// aliases merged with the superseded ones. Load changes within the usable
// range are not pushed (they reach lbd at its next poll).
//
// HAProxy agent-check. With [agent] agent_check_listen the agent also
// answers HAProxy's agent check over TCP (package agentcheck; agentcheck.go
// here binds the listeners at Start and gives the server a Table reading
// Evaluator.Config and Evaluator.State, so a connection never evaluates).
// The alias is the one agent_check_port_alias maps the port to, else the
// line HAProxy's agent-send sends, else the only alias. A usable load
// answers "up ready <w>%" with w = round(100 × agent_check_full_load /
// load) clamped to 1..100; nologin, roger, reboot and not ready answer
// agent_check_drained (default drain); every other unusable state, and an
// unknown alias, agent_check_unusable (default down). Like the other
// listen addresses, agent_check_listen needs a restart; the other keys
// apply at a reload.
//
// Listening. One socket is bound per configured listen address. Every reply
// leaves from the address the request was sent to: a socket bound to one
// address does that by itself; on a wildcard socket (0.0.0.0, ::) the agent
// reads each request's destination (IP_PKTINFO / IPV6_RECVPKTINFO) and sends
// the reply from it, so a multi-homed node answers a poller using a
// connected socket (the existing CERN lbd) on every address it is polled on.
package lbclient
