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

	"github.com/lbd-project/lbd/lbclient"
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

func runIO(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	pass := isPassMode(args)
	fs := flag.NewFlagSet("lbclient", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if pass {
		fs.SetOutput(io.Discard)
	}
	config := fs.String("config", "/etc/lbclient.toml", "configuration file (TOML)")
	once := fs.Bool("once", false, "evaluate every alias once, print \"alias load reason\" lines and exit")
	var check checkFlag
	fs.Var(&check, "check-config", "validate the configuration and exit (non-zero with file:line: key errors)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	logFile := fs.String("log-file", "", "append logs to this file (default: stderr; in the pass modes syslog, else nowhere)")
	legacyDir := fs.String("legacy-dir", lbclient.DefaultLegacyDir,
		"legacy configuration directory (lbaliases, lbclient.conf, lbclient.conf.<alias>), used when -config is not given")
	root := fs.String("root", "", "file-system root the checks read under (default: [agent] root, or / for a legacy directory)")
	interval := fs.Duration("interval", lbclient.DefaultInterval, "evaluation period of a legacy configuration (pass_persist)")
	convert := fs.String("convert-legacy", "", "print the TOML equivalent of this legacy configuration directory and exit")
	getOID := fs.String("g", "", "net-snmp pass: GET of `OID` (prints three lines or nothing)")
	nextOID := fs.String("n", "", "net-snmp pass: GETNEXT of `OID`")
	setOID := fs.String("s", "", "net-snmp pass: SET of `OID` TYPE VALUE (answers not-writable)")
	persist := fs.Bool("pass-persist", false, "net-snmp pass_persist protocol on stdin/stdout")
	deadline := fs.Duration("pass-deadline", lbclient.PassDeadline, "pass mode: bound of one evaluation of every mapping")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) && !pass {
			return 0
		}
		return 2
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	// In the pass modes a bad -log-level or -log-file must not silence the
	// answer: the defaults (info, syslog) are used instead.
	lvl, err := logrus.ParseLevel(*level)
	if err != nil {
		if !pass {
			fmt.Fprintf(stderr, "lbclient: -log-level: %v\n", err)
			return 2
		}
		lvl = logrus.InfoLevel
	}
	log := logrus.New()
	log.SetLevel(lvl)
	var logOut *os.File
	if *logFile != "" {
		logOut, err = os.OpenFile(*logFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil && !pass {
			fmt.Fprintf(stderr, "lbclient: -log-file: %v\n", err)
			return 2
		}
	}
	switch {
	case logOut != nil:
		defer logOut.Close()
		log.SetOutput(logOut)
	case pass:
		log.SetOutput(io.Discard)
		if h, err := lsyslog.NewSyslogHook("", "", syslog.LOG_DAEMON|syslog.LOG_INFO, "lbclient"); err == nil {
			log.AddHook(h)
		}
	default:
		log.SetOutput(stderr)
	}

	if pass {
		return runPass(ctx, passArgs{
			get: *getOID, next: *nextOID, setOID: *setOID, set: set, persist: *persist, rest: fs.Args(),
			config: *config, useConfig: set["config"], legacyDir: *legacyDir, root: *root, interval: *interval,
			deadline: *deadline,
		}, stdin, stdout, log)
	}

	if *convert != "" {
		if fs.NArg() > 0 {
			fmt.Fprintf(stderr, "lbclient: unexpected arguments %q\n", fs.Args())
			return 2
		}
		lc := lbclient.LoadLegacy(*convert, lbclient.LegacyOptions{Root: *root, Interval: *interval})
		for _, p := range lc.Problems {
			fmt.Fprintf(stderr, "lbclient: %s\n", p)
		}
		fmt.Fprint(stdout, lbclient.ConvertLegacy(lc))
		if lc.HasErrors() {
			return 1
		}
		return 0
	}

	file := *config
	useConfig := set["config"]
	if check.set {
		switch {
		case check.file != "":
			file, useConfig = check.file, true
		case fs.NArg() == 1:
			file, useConfig = fs.Arg(0), true
		}
	}
	if fs.NArg() > 0 && !(check.set && check.file == "" && fs.NArg() == 1) {
		fmt.Fprintf(stderr, "lbclient: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if !useConfig && set["legacy-dir"] {
		return runLegacy(ctx, *legacyDir, lbclient.LegacyOptions{Root: *root, Interval: *interval}, check.set, *once, stdout, stderr, log)
	}

	cfg, err := lbclient.Load(file)
	if err != nil {
		fmt.Fprintf(stderr, "lbclient: %v\n", err)
		return 1
	}
	if *root != "" {
		cfg.Agent.Root = *root
	}
	switch {
	case check.set:
		fmt.Fprintf(stdout, "%s: OK (%d aliases, %d mappings)\n", file, len(cfg.Aliases()), len(cfg.Mappings()))
		return 0
	case *once:
		if lvl == logrus.InfoLevel {
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
	if err := lbclient.Run(ctx, cfg, log); err != nil {
		log.WithError(err).Error("lbclient stopped")
		return 1
	}
	log.Info("lbclient stopped")
	return 0
}

// runLegacy is -once / -check-config for a legacy directory.
func runLegacy(ctx context.Context, dir string, opts lbclient.LegacyOptions, check, once bool, stdout, stderr io.Writer, log *logrus.Logger) int {
	lc := lbclient.LoadLegacy(dir, opts)
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
		loads := lbclient.EvaluateOnce(ctx, lc.Config, 0, nil)
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
// A TOML file that does not load answers the INTEGER
// lbclient.LegacyConfigError (its aliases are unknown); the error is logged.
func loadSource(a passArgs, log *logrus.Logger) lbclient.Source {
	if a.useConfig {
		cfg, err := lbclient.Load(a.config)
		if err != nil {
			log.WithError(err).Errorf("configuration error: answering %d", lbclient.LegacyConfigError)
			return lbclient.ConfigErrorSource()
		}
		if a.root != "" {
			cfg.Agent.Root = a.root
		}
		return lbclient.TOMLSource(cfg)
	}
	lc := lbclient.LoadLegacy(a.legacyDir, lbclient.LegacyOptions{Root: a.root, Interval: a.interval})
	lc.Log(log)
	return lc.Source()
}
