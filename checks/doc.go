// Package checks holds the member health checks and load sources of the
// lbclient agent, one file per check, all registered in one explicit table
// (registry.go).
//
// Each registry Entry carries every fact about a check: its constructor,
// its code, whether its result depends on Env.Alias (the lbclient engine
// shares a run between mappings of different aliases only when it does
// not), its argument rule (NoArgs, OptionalArgs, RequiredArgs) and, when
// they differ from its name and code, its legacy keyword and code. New,
// NewLoad, CheckNames and LoadNames, the engine (Lookup, LookupLoad) and
// the legacy parser (LookupLegacy) all read the entries; no other table
// exists. A new check is one file (its constructor), one entry in
// registry.go and its row in the table below.
//
// Every check validates its arguments when it is built (at config load) and
// returns a Result with a reason when it runs. Checks read files under
// Env.Root (default "/"), so tests point them at fixture trees. Codes follow
// docs/protocol.md §5.3/§5.7: a failed check reports -Code as the load. A soft
// failure (Hard false) means the node is unhealthy; a hard failure (Hard
// true) is a configuration or execution error.
//
// This package does not log; callers log Result.Reason with their own fields.
//
// # Checks (New)
//
//	name             code  passes when / fails when                                    example Spec
//	nologin          1     fails if /etc/nologin exists, or /etc/iss.nologin (default   {Type: "nologin"}
//	                       mapping) / /etc/iss.nologin.<Env.Alias> (alias mapping)
//	tmpfull          6     fails if /tmp blocks ≥ 90% used (1−avail/total) or inodes    {Type: "tmpfull"}
//	                       ≥ 95% used (1−free/total; zero inodes fails); statfs error
//	                       is hard
//	xsessions        6     always passes (accepted no-op)                               {Type: "xsessions"}
//	swapping         6     always passes (accepted no-op)                               {Type: "swapping"}
//	swaping          6     always passes (accepted no-op, legacy spelling)              {Type: "swaping"}
//	sshdaemon        7     a local TCP LISTEN or bound UDP socket on port 22            {Type: "sshdaemon"}
//	webdaemon        8     same, port 80                                                {Type: "webdaemon"}
//	ftpdaemon        9     same, port 21                                                {Type: "ftpdaemon"}
//	afs              10    fails if Data (default /afs/cern.ch/user/) does not exist;   {Type: "afs"}
//	                       other stat errors pass; a stat outliving ctx is hard
//	gridftpdaemon    11    same as sshdaemon, port 2811                                 {Type: "gridftpdaemon"}
//	lemon            12    always a hard failure "obsolete/unsupported" at run time     {Type: "lemon", Data: "[1234]>0"}
//	lemonload        12    always a hard failure at run time                            {Type: "lemonload"}
//	roger            13    last "appstate:" of /etc/roger/current.yaml is production    {Type: "roger"}
//	                       or ignore_roger; unreadable file is hard
//	command          14    the command exits 0; other exit soft; cannot start, exit     {Type: "command", Data: "/usr/bin/test -f /etc/ok", Timeout: 5*time.Second}
//	                       126/127, signal, timeout hard (see below)
//	collectd         15    collectd expression ≥ 0 (false = −1; 0 passes); NaN value    {Type: "collectd", Data: "[systemd-sshd/gauge-running]>0"}
//	                       soft; collectd errors, missing metric/key/anchor hard
//	collectd_alarms  15    every metric of every JSON object is in a wanted state       {Type: "collectd_alarms", Data: `[{"load/load": ["okay", "warning"]}]`}
//	collectdload     15    always a hard failure at run time                            {Type: "collectdload"}
//	daemon           17    a local socket matches the JSON (see below)                  {Type: "daemon", Data: `{"port": [80, 443], "protocol": "tcp"}`}
//	eos              18    no FUSE mount /eos/<x>[/<y>] answers "eosxd get eos.mgmurl"  {Type: "eos"}
//	                       with ENOTCONN/EOPNOTSUPP/EIO text; unreadable mounts, eosxd
//	                       exit 126/127, signal or timeout hard
//	reboot           19    fails if /run/systemd/shutdown/scheduled exists              {Type: "reboot"}
//
// # Load sources (NewLoad)
//
//	name      code  value                                                           example Spec
//	constant  16    Data as a float truncated to int; negative fails                {Type: "constant", Data: "100"}
//	collectd  15    collectd expression truncated to int32; negative fails          {Type: "collectd", Data: "[load/load-relative:shortterm]*125 + 1"}
//	lemon     12    always a hard failure "obsolete/unsupported" at run time        {Type: "lemon", Data: "[1234]"}
//
// When a mapping's metric is 0 after all lines the caller uses DefaultLoad
// (docs/protocol.md §5.6), which reads /proc/meminfo, /proc/loadavg and the
// /proc/<pid>/status (effective uid) and /proc/<pid>/cmdline files instead
// of running "ps auxw".
//
// # Socket checks
//
// daemon's Data holds a JSON object (the first {...} of the text):
// "port" (mandatory: integer or numeric string, 1..65535, or a list),
// "protocol" ("tcp"/"udp" or a list; default both), "ip" ("ipv4"/"4",
// "ipv6"/"6" or a list; default both), "host" (literal IPs or a list;
// default any; a host of a family "ip" leaves out is accepted and never
// matches, as only the tables of the families in "ip" are read). Unknown
// and duplicate keys are tolerated (the last duplicate wins). The tables <root>/proc/net/tcp, tcp6, udp and udp6 are
// read; only LOCAL addresses count: TCP sockets in state LISTEN (0A) and
// UDP sockets bound and unconnected (07), never the remote end of a
// connection (D15). Addresses are decoded as the kernel prints them (each
// 32-bit word little-endian). A host is satisfied by a listener on exactly
// that address (IPv4-mapped IPv6 addresses count as IPv4) or by a wildcard
// listener (0.0.0.0 or ::) of the same family, since a wildcard accepts
// connections on every address of its family. A match in any readable
// table passes; no match while a selected table is unreadable or malformed
// is a hard failure.
//
// # Commands
//
// command's Data is split into argv without a shell ('...' and "..."
// quote; backslash escapes). Data "bash:<script>" runs bash -c <script>
// and "sh:<script>" runs /bin/sh -c <script>; the legacy parser builds
// "check command <text>" with NewShellCommand(text, timeout), i.e.
// bash -c "<text>". Commands (and eosxd, collectdctl) run in their own
// process group, which is killed as a whole at Spec.Timeout (default
// DefaultCommandTimeout, 3 s) or the ctx deadline, whichever is first.
//
// # collectd
//
// Expressions follow docs/protocol.md §5.4 and are evaluated with
// github.com/expr-lang/expr: a lone "=" between "]"/digit and digit/"["
// becomes "==", blanks are removed, Lemon "_NNN[:k]" becomes "[NNN[:k]]";
// each [name] or [name:anchor] becomes a variable (no anchor: first value;
// integer k: k-th value; text: the value with that key). Operators:
// + - * / % ** == != < <= > >= && || ! ?: and parentheses (% also on
// floats). Values come from collectd's unixsock protocol
// (Env.CollectdSocket, default /var/run/collectd-unixsock under Root):
// GETVAL "<host>/<plugin>/<type>", with Env.Hostname (default
// os.Hostname()) prepended to names with a single "/", one GETVAL per
// distinct name per run, under Spec.Timeout (default 3 s) and the ctx
// deadline. Any float form is accepted; NaN makes the check or load fail
// softly with -15.
//
// collectd_alarms uses "collectdctl [-s Env.CollectdSocket] listval
// state=<state>" (Env.Collectdctl, default collectdctl from $PATH), once
// per distinct wanted state, because the unixsock LISTVAL command reports
// no notification state. A "plugin/type" metric matches that identifier
// on any host; a "host/plugin/type" metric must match exactly.
package checks
