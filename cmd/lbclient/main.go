// Command lbclient is the member-node agent of the DNS load balancer: it
// evaluates the configured checks and loads in the background and answers
// SNMP GETs of .1.3.6.1.4.1.96.255.1 (see package lbclient and
// etc/lbclient.toml), natively or behind net-snmp's snmpd.
//
//	lbclient -config FILE                 run the SNMP agent until SIGTERM/SIGINT
//	lbclient -config FILE -once           evaluate once, print "alias load reason" per alias
//	lbclient -config FILE -check-config   validate the file (also: -check-config FILE)
//	lbclient -legacy-dir DIR -once        the same for a legacy directory (also -check-config)
//	lbclient -convert-legacy DIR          print the TOML equivalent of a legacy directory
//	lbclient [-config FILE | -legacy-dir DIR] -g OID | -n OID | -s OID TYPE VALUE
//	                                      net-snmp "pass" (see etc/snmpd-lbclient.conf)
//	lbclient [-config FILE | -legacy-dir DIR] -pass-persist
//	                                      net-snmp "pass_persist" on stdin/stdout
//
// Configuration source: -config FILE when given explicitly (or
// -check-config FILE); otherwise the pass modes read the legacy directory
// (-legacy-dir, default /usr/local/etc), and -once / -check-config read it
// when -legacy-dir is given explicitly; otherwise /etc/lbclient.toml. The
// standalone agent needs a TOML file (SNMP users are not in the legacy
// files).
//
// Logs go to stderr, or to -log-file. In the pass modes nothing but the
// answer is ever written: stdout carries only the protocol, file descriptor
// 2 is redirected to -log-file or /dev/null before anything else, and logs
// go to -log-file, else to syslog (facility daemon) when it is reachable,
// else nowhere.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/syslog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	lsyslog "github.com/sirupsen/logrus/hooks/syslog"

	"github.com/lbd-project/lbd/internal/logfile"
	"github.com/lbd-project/lbd/lbclient"
	"github.com/lbd-project/lbd/lbclient/legacy"
)

func main() {
	if isPassMode(os.Args[1:]) {
		// snmpd merges stderr into the answer: nothing may ever reach it,
		// not even a runtime crash trace.
		if err := lbclient.RedirectStderr(flagValue(os.Args[1:], "log-file")); err != nil {
			_ = lbclient.RedirectStderr("")
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := runIO(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// passFlags are the flags selecting a net-snmp mode.
var passFlags = []string{"g", "n", "s", "pass-persist"}

// isPassMode reports whether args select a net-snmp mode (before parsing,
// so that not even a flag error is printed then).
func isPassMode(args []string) bool {
	for _, f := range passFlags {
		if flagPresent(args, f) {
			return true
		}
	}
	return false
}

// flagPresent reports whether -name or --name (with or without =value)
// appears among the flags of args (before "--" or the first non-flag that
// is not a flag's value; approximated by scanning every argument).
func flagPresent(args []string, name string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if !strings.HasPrefix(a, "-") {
			continue
		}
		a = strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

// flagValue returns the value of -name VALUE or -name=VALUE, or "".
func flagValue(args []string, name string) string {
	for i, a := range args {
		if !strings.HasPrefix(a, "-") {
			continue
		}
		a = strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// checkFlag is -check-config, usable bare (with -config) or as
// -check-config=FILE / -check-config FILE (the file is then the argument).
type checkFlag struct {
	set  bool
	file string
}

func (c *checkFlag) String() string   { return c.file }
func (c *checkFlag) IsBoolFlag() bool { return true }
func (c *checkFlag) Set(s string) error {
	c.set = true
	if b, err := strconv.ParseBool(s); err == nil {
		c.set = b
	} else {
		c.file = s
	}
	return nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runIO(ctx, args, os.Stdin, stdout, stderr)
}

// options are the parsed flags.
type options struct {
	fs                                *flag.FlagSet
	set                               map[string]bool // flags given explicitly
	config, level, logFile, legacyDir string
	root, convert, getOID, nextOID    string
	setOID                            string
	once, persist, version, logJSON   bool
	check                             checkFlag
	interval, deadline                time.Duration
}

// parseFlags parses args; ok false means exit with code.
func parseFlags(args []string, pass bool, stderr io.Writer) (o *options, code int, ok bool) {
	o = &options{fs: flag.NewFlagSet("lbclient", flag.ContinueOnError), set: map[string]bool{}}
	fs := o.fs
	fs.SetOutput(stderr)
	if pass {
		fs.SetOutput(io.Discard)
	}
	fs.StringVar(&o.config, "config", "/etc/lbclient.toml", "configuration file (TOML)")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.BoolVar(&o.once, "once", false, "evaluate every alias once, print \"alias load reason\" lines and exit")
	fs.Var(&o.check, "check-config", "validate the configuration and exit (non-zero with file:line: key errors)")
	fs.StringVar(&o.level, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&o.logFile, "log-file", "", "append logs to this file (default: stderr; in the pass modes syslog, else nowhere); reopened on SIGHUP")
	fs.BoolVar(&o.logJSON, "log-json", false, "log as JSON")
	fs.StringVar(&o.legacyDir, "legacy-dir", legacy.DefaultDir,
		"legacy configuration directory (lbaliases, lbclient.conf, lbclient.conf.<alias>), used when -config is not given")
	fs.StringVar(&o.root, "root", "", "file-system root the checks read under (default: [agent] root, or / for a legacy directory)")
	fs.DurationVar(&o.interval, "interval", lbclient.DefaultInterval, "evaluation period of a legacy configuration (pass_persist)")
	fs.StringVar(&o.convert, "convert-legacy", "", "print the TOML equivalent of this legacy configuration directory and exit")
	fs.StringVar(&o.getOID, "g", "", "net-snmp pass: GET of `OID` (prints three lines or nothing)")
	fs.StringVar(&o.nextOID, "n", "", "net-snmp pass: GETNEXT of `OID`")
	fs.StringVar(&o.setOID, "s", "", "net-snmp pass: SET of `OID` TYPE VALUE (answers not-writable)")
	fs.BoolVar(&o.persist, "pass-persist", false, "net-snmp pass_persist protocol on stdin/stdout")
	fs.DurationVar(&o.deadline, "pass-deadline", lbclient.PassDeadline, "pass mode and -legacy-dir -once: bound of one evaluation of every mapping; a legacy line gets 30 s or this, whichever is shorter")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `lbclient runs on every member of a DNS alias. It evaluates the alias's
health checks and load metric in the background and answers lbd's SNMP GETs
of the load OID with the result (lower is better; 0 or negative takes the
member out), by itself or behind net-snmp's pass / pass_persist. It reads
its TOML configuration, or the existing CERN lbclient's files. SIGHUP
reloads (and reopens -log-file); SIGTERM stops.

Examples:
  lbclient -config /etc/lbd/lbclient.toml              run the agent
  lbclient -config /etc/lbd/lbclient.toml -once        print each alias's load and why, then exit

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) && !pass {
			return nil, 0, false
		}
		return nil, 2, false
	}
	fs.Visit(func(f *flag.Flag) { o.set[f.Name] = true })
	return o, 0, true
}

// setupLog makes the logger. In the pass modes a bad -log-level or
// -log-file must not silence the answer: the defaults (info, syslog) are
// used instead. The returned close func closes the log file.
func setupLog(o *options, pass bool, stderr io.Writer) (log *logrus.Logger, closeLog func(), code int, ok bool) {
	lvl, err := logrus.ParseLevel(o.level)
	if err != nil {
		if !pass {
			fmt.Fprintf(stderr, "lbclient: -log-level: %v\n", err)
			return nil, nil, 2, false
		}
		lvl = logrus.InfoLevel
	}
	log = logrus.New()
	log.SetLevel(lvl)
	if o.logJSON {
		log.SetFormatter(&logrus.JSONFormatter{})
	}
	closeLog = func() {}
	var logOut *logfile.File
	if o.logFile != "" {
		logOut, err = logfile.Open(o.logFile)
		if err != nil && !pass {
			fmt.Fprintf(stderr, "lbclient: -log-file: %v\n", err)
			return nil, nil, 2, false
		}
	}
	switch {
	case logOut != nil:
		// Reopened on SIGHUP (log rotation), alongside the reload.
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		done := make(chan struct{})
		go func() {
			for {
				select {
				case <-hup:
					if err := logOut.Reopen(); err != nil {
						fmt.Fprintf(stderr, "lbclient: %v\n", err)
					}
				case <-done:
					return
				}
			}
		}()
		closeLog = func() { signal.Stop(hup); close(done); logOut.Close() }
		log.SetOutput(logOut)
	case pass:
		log.SetOutput(io.Discard)
		if h, err := lsyslog.NewSyslogHook("", "", syslog.LOG_DAEMON|syslog.LOG_INFO, "lbclient"); err == nil {
			log.AddHook(h)
		}
	default:
		log.SetOutput(stderr)
	}
	return log, closeLog, 0, true
}

func runIO(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	pass := isPassMode(args)
	o, code, ok := parseFlags(args, pass, stderr)
	if !ok {
		return code
	}
	if o.version && !pass {
		fmt.Fprintln(stdout, versionString())
		return 0
	}
	log, closeLog, code, ok := setupLog(o, pass, stderr)
	if !ok {
		return code
	}
	defer closeLog()
	fs := o.fs
	switch {
	case pass:
		return runPass(ctx, passArgs{
			get: o.getOID, next: o.nextOID, setOID: o.setOID, set: o.set, persist: o.persist, rest: fs.Args(),
			config: o.config, useConfig: o.set["config"], legacyDir: o.legacyDir, root: o.root, interval: o.interval,
			deadline: o.deadline,
		}, stdin, stdout, log)
	case o.convert != "":
		return runConvert(o, stdout, stderr)
	}
	file, useConfig := o.config, o.set["config"]
	if o.check.set {
		switch {
		case o.check.file != "":
			file, useConfig = o.check.file, true
		case fs.NArg() == 1:
			file, useConfig = fs.Arg(0), true
		}
	}
	if fs.NArg() > 0 && !(o.check.set && o.check.file == "" && fs.NArg() == 1) {
		fmt.Fprintf(stderr, "lbclient: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if !useConfig && o.set["legacy-dir"] {
		opts := legacy.Options{Root: o.root, Interval: o.interval}
		if o.once {
			opts.Timeout = legacy.LineTimeoutWithin(o.deadline)
		}
		return runLegacy(ctx, o.legacyDir, opts, o.check.set, o.once, o.deadline, stdout, stderr, log)
	}
	return runTOML(ctx, o, file, stdout, stderr, log)
}

// runConvert is -convert-legacy.
func runConvert(o *options, stdout, stderr io.Writer) int {
	if o.fs.NArg() > 0 {
		fmt.Fprintf(stderr, "lbclient: unexpected arguments %q\n", o.fs.Args())
		return 2
	}
	lc := legacy.Load(o.convert, legacy.Options{Root: o.root, Interval: o.interval})
	for _, p := range lc.Problems {
		fmt.Fprintf(stderr, "lbclient: %s\n", p)
	}
	fmt.Fprint(stdout, legacy.Convert(lc))
	if lc.HasErrors() {
		return 1
	}
	return 0
}

// runTOML is -check-config, -once or the standalone agent for a TOML file.
func runTOML(ctx context.Context, o *options, file string, stdout, stderr io.Writer, log *logrus.Logger) int {
	cfg, err := lbclient.Load(file)
	if err != nil {
		fmt.Fprintf(stderr, "lbclient: %v\n", err)
		return 1
	}
	if o.root != "" {
		cfg.Agent.Root = o.root
	}
	switch {
	case o.check.set:
		fmt.Fprintf(stdout, "%s: OK (%d aliases, %d mappings)\n", file, len(cfg.Aliases()), len(cfg.Mappings()))
		return 0
	case o.once:
		if log.GetLevel() == logrus.InfoLevel {
			log.SetLevel(logrus.WarnLevel) // the printed lines say it all
		}
		st := lbclient.NewEvaluator(cfg, log).Round(ctx)
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "lbclient: interrupted")
			return 1
		}
		for _, l := range st.Loads {
			fmt.Fprintf(stdout, "%s %d %s\n", l.Alias, l.Metric, l.Reason)
		}
		return 0
	}
	if err := lbclient.Run(ctx, cfg, lbclient.FileLoader(file), log); err != nil {
		log.WithError(err).Error("lbclient stopped")
		return 1
	}
	log.Info("lbclient stopped")
	return 0
}

// runLegacy is -once / -check-config for a legacy directory.
func runLegacy(ctx context.Context, dir string, opts legacy.Options, check, once bool, deadline time.Duration, stdout, stderr io.Writer, log *logrus.Logger) int {
	lc := legacy.Load(dir, opts)
	for _, p := range lc.Problems {
		fmt.Fprintf(stderr, "lbclient: %s\n", p)
	}
	switch {
	case check:
		if lc.HasErrors() {
			fmt.Fprintf(stdout, "%s: ERRORS (%d aliases, %d mappings)\n", dir, len(lc.Aliases()), len(lc.Mappings()))
			return 1
		}
		fmt.Fprintf(stdout, "%s: OK (%d aliases, %d mappings)\n", dir, len(lc.Aliases()), len(lc.Mappings()))
		return 0
	case once:
		if log.GetLevel() == logrus.InfoLevel {
			log.SetLevel(logrus.WarnLevel)
		}
		loads := lbclient.EvaluateOnce(ctx, lc.Compiled, deadline, nil)
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "lbclient: interrupted")
			return 1
		}
		for _, l := range loads {
			fmt.Fprintf(stdout, "%s %d %s\n", l.Alias, l.Metric, l.Reason)
		}
		return 0
	}
	fmt.Fprintln(stderr, "lbclient: the standalone SNMP agent needs a TOML configuration (-config FILE): "+
		"the legacy directory holds no SNMP settings; see -convert-legacy, or run behind snmpd with -g/-n/-pass-persist")
	return 2
}

type passArgs struct {
	get, next, setOID string
	set               map[string]bool
	persist           bool
	rest              []string
	config            string
	useConfig         bool
	legacyDir, root   string
	interval          time.Duration
	deadline          time.Duration
}

// runPass runs a net-snmp mode. Nothing but the protocol is written to
// stdout, in one write per answer; a panic exits 1 silently.
func runPass(ctx context.Context, a passArgs, stdin io.Reader, stdout io.Writer, log *logrus.Logger) (code int) {
	defer func() {
		if p := recover(); p != nil {
			log.WithField("panic", fmt.Sprint(p)).Error("pass mode: internal error, no answer")
			code = 1
		}
	}()
	modes := 0
	for _, f := range passFlags {
		if a.set[f] {
			modes++
		}
	}
	switch {
	case modes != 1:
		log.WithField("args", fmt.Sprint(a.set)).Error("pass mode: give exactly one of -g, -n, -s, -pass-persist")
		return 2
	case a.set["s"]:
		// SET: nothing is writable (snmpd.conf(5): print not-writable)
		io.WriteString(stdout, lbclient.PassNotWritable+"\n")
		return 0
	case len(a.rest) > 0:
		log.WithField("args", strings.Join(a.rest, " ")).Error("pass mode: unexpected arguments")
		return 2
	}
	var op lbclient.PassOp
	oid := a.get
	if a.set["n"] {
		op, oid = lbclient.PassGetNext, a.next
	}
	if !a.persist && !lbclient.Serves(op, oid) {
		return 0 // not ours: nothing (snmpd answers noSuchObject / end of subtree)
	}

	src := loadSource(a, log)
	if a.persist {
		err := lbclient.ServePassPersist(ctx, src, stdin, stdout, lbclient.PassPersistOptions{Log: log})
		if err != nil && ctx.Err() == nil {
			log.WithError(err).Error("pass_persist stopped")
			return 1
		}
		return 0
	}
	out := lbclient.Pass(ctx, src, op, oid, a.deadline, log)
	if ctx.Err() != nil {
		return 1
	}
	io.WriteString(stdout, out)
	return 0
}

// loadSource loads the TOML file (-config given) or the legacy directory.
// A TOML file that does not load answers the INTEGER lbclient.ConfigError
// (its aliases are unknown); the error is logged.
func loadSource(a passArgs, log *logrus.Logger) *lbclient.Compiled {
	if a.useConfig {
		cfg, err := lbclient.Load(a.config)
		if err != nil {
			log.WithError(err).Errorf("configuration error: answering %d", lbclient.ConfigError)
			return lbclient.BrokenConfig()
		}
		if a.root != "" {
			cfg.Agent.Root = a.root
		}
		return cfg
	}
	opts := legacy.Options{Root: a.root, Interval: a.interval}
	if !a.persist {
		// one answer: every line within the pass deadline
		opts.Timeout = legacy.LineTimeoutWithin(a.deadline)
	}
	lc := legacy.Load(a.legacyDir, opts)
	lc.Log(log)
	return lc.Compiled
}
