// Command lbd is the DNS load-balancing daemon (master or slave). See
// docs/design.md §3 for the command-line contract.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/lbd-project/lbd/internal/logfile"
	"github.com/lbd-project/lbd/lbd"
	"github.com/lbd-project/lbd/lbd/audit"
	"github.com/lbd-project/lbd/lbd/config"
	"github.com/lbd-project/lbd/lbd/cycle"
	"github.com/lbd-project/lbd/lbd/history"
	"github.com/lbd-project/lbd/lbd/legacyconf"
	"github.com/lbd-project/lbd/lbd/metrics"
	"github.com/lbd-project/lbd/lbd/statuspage"
)

func main() {
	setGCPercent()
	os.Exit(run())
}

// gcPercent is lbd's garbage collection target (the Go runtime's GOGC;
// docs/operations.md "Memory"): a cycle allocates a lot over a small live
// heap, and with the Go default of 100 lbd used 12 % more CPU over a
// first zone-per-alias cycle (BENCHMARKS.md). The heap may grow to about
// three times what is live instead of twice.
const gcPercent = 200

// setGCPercent applies gcPercent unless the environment sets GOGC.
func setGCPercent() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
}

func run() int {
	var (
		configPath  = flag.String("config", "/etc/lbd/lbd.toml", "configuration file")
		checkConfig = flag.String("check-config", "", "validate this configuration file and exit")
		convert     = flag.String("convert-legacy", "", "print the TOML equivalent of a legacy lbd configuration (text, or YAML if the name ends in .yaml); exit 1 if it has errors")
		once        = flag.Bool("once", false, "evaluate every alias once, update DNS if allowed, exit")
		dryRun      = flag.Bool("dry-run", false, "like -once, but print the DNS changes instead of sending them")
		hostname    = flag.String("hostname", "", "host name used for role = \"auto\" and the heartbeat (default: os.Hostname())")
		logLevel    = flag.String("log-level", "info", "debug | info | warn | error")
		logJSON     = flag.Bool("log-json", false, "log as JSON")
		logPath     = flag.String("log-file", "", "append logs to this file (default: stderr); reopened on SIGHUP")
		cpuProfile  = flag.String("cpuprofile", "", "write a Go CPU profile to this file until lbd exits (for benchmarks; go tool pprof reads it)")
		admin       adminFlags
	)
	flag.Usage = usage
	flag.StringVar(&admin.drain, "drain", "", "ALIAS/MEMBER: take the member out of the alias (with -for and -reason), through the running master's admin API")
	flag.StringVar(&admin.undrain, "undrain", "", "ALIAS/MEMBER: end the member's drain")
	flag.DurationVar(&admin.dur, "for", time.Hour, "how long a -drain lasts; it ends by itself")
	flag.StringVar(&admin.reason, "reason", "", "why (-drain; shown in status and the audit log)")
	flag.BoolVar(&admin.list, "overrides", false, "list the overrides in force")
	flag.StringVar(&admin.url, "admin-url", "", "the running lbd's URL (default: from [lbd] http_listen)")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "lbd: -cpuprofile:", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}

	log := logrus.New()
	log.SetOutput(os.Stderr)
	if lvl, err := logrus.ParseLevel(*logLevel); err == nil {
		log.SetLevel(lvl)
	} else {
		fmt.Fprintf(os.Stderr, "lbd: bad -log-level %q\n", *logLevel)
		return 2
	}
	if *logJSON {
		log.SetFormatter(&logrus.JSONFormatter{})
	}
	var logOut *logfile.File
	if *logPath != "" {
		var err error
		if logOut, err = logfile.Open(*logPath); err != nil {
			fmt.Fprintln(os.Stderr, "lbd:", err)
			return 2
		}
		log.SetOutput(logOut)
	}

	if *convert != "" {
		return convertLegacy(*convert)
	}
	if *checkConfig != "" {
		return checkConfigFile(*checkConfig)
	}

	cfg, err := config.Load(*configPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%v\n", err)
		return 1
	}
	logWarnings(log, cfg)
	if admin.wanted() {
		return runAdmin(cfg, admin)
	}
	host := *hostname
	if host == "" {
		if host, err = os.Hostname(); err != nil {
			log.Error("hostname: ", err)
			return 1
		}
	}
	d, err := lbd.New(cfg, host, log.WithField("host", host))
	if err != nil {
		log.Error(err)
		return 1
	}
	auditLog, err := openAudit(cfg, d, host)
	if err != nil {
		log.Error(err)
		return 1
	}
	if auditLog != nil {
		defer auditLog.Close()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *once || *dryRun {
		return runOnce(ctx, d, *dryRun, log)
	}

	m, err := metrics.Register(d, cfg) // /metrics on http_listen
	if err != nil {
		log.Error(err)
		return 1
	}

	// The status page at / on http_listen (docs/operations.md, "Status page").
	hist := history.New(history.Options{})
	d.AddObserver(hist)
	d.Handle("/", statuspage.Handler(d, hist))

	// [[render]] files after every cycle (docs/operations.md, "Rendering proxy configuration").
	waitRender := startRender(ctx, d, m, auditLog, log)

	go reloadOnSIGHUP(*configPath, d, m, logOut, auditLog, log)
	log.WithFields(logrus.Fields{"config": *configPath, "aliases": len(cfg.Aliases), "master": d.IsMaster()}).Info("lbd starting")
	err = d.Run(ctx)
	stop() // d.Run also returns on error: end the render worker too
	waitRender()
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Error(err)
		return 1
	}
	log.Info("lbd stopped")
	return 0
}

// logWarnings logs the configuration's non-fatal problems (a heartbeat
// secret readable by every user, …).
func logWarnings(log logrus.FieldLogger, cfg *config.Compiled) {
	for _, w := range cfg.Warnings() {
		log.Warn(w)
	}
}

// convertLegacy is -convert-legacy: the TOML on stdout, the problems on
// stderr, exit 1 when one is an error.
func convertLegacy(path string) int {
	r, err := legacyconf.Load(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%v\n", err)
		return 1
	}
	out, err := r.TOML()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%v\n", err)
		return 1
	}
	fmt.Print(out)
	for _, p := range r.Problems {
		fmt.Fprintf(os.Stderr, "%s: %s\n", path, p)
	}
	if r.Errors() {
		return 1
	}
	return 0
}

// checkConfigFile is -check-config: errors exit 1, warnings are printed.
func checkConfigFile(path string) int {
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%v\n", err)
		return 1
	}
	for _, w := range cfg.Warnings() {
		fmt.Fprintf(os.Stderr, "warning: %s\n", w)
	}
	fmt.Printf("%s: OK (%d aliases)\n", path, len(cfg.Aliases))
	return 0
}

// runOnce is -once and -dry-run: one cycle over every alias, its outcome
// (or the changes it would send) on stdout.
func runOnce(ctx context.Context, d *lbd.Daemon, dryRun bool, log logrus.FieldLogger) int {
	d.DryRun = dryRun
	rep, err := d.Once(ctx)
	for _, a := range rep.Aliases {
		if dryRun {
			printDryRun(a)
		} else {
			fmt.Printf("%s: %s%s\n", a.Alias, a.Decision, wrote(a))
		}
	}
	for _, r := range rep.Removals {
		printRemoval(r, dryRun)
	}
	if err != nil {
		log.Error(err)
		return 1
	}
	return 0
}

func wrote(a lbd.AliasResult) string {
	switch {
	case a.Err != nil:
		return " — ERROR: " + a.Err.Error()
	case a.Wrote:
		return " — DNS updated"
	case a.Passive > 0:
		return fmt.Sprintf(" — %d server(s) differ, not written (slave passive)", a.Passive)
	}
	return " — DNS unchanged"
}

// printDryRun prints the changes -dry-run would have sent for one alias.
func printDryRun(a lbd.AliasResult) {
	for _, v := range a.Views {
		if v.Action == cycle.DryRun {
			fmt.Printf("; alias %s on %s: %s\n%s\n", a.Alias, v.View, a.Decision, v.Change)
		}
	}
}

// printRemoval prints what -once did, or -dry-run would do, to a name the
// configuration no longer has.
func printRemoval(r lbd.RemovalResult, dryRun bool) {
	for _, v := range r.Views {
		switch {
		case dryRun && v.Action == cycle.DryRun:
			fmt.Printf("; alias %s on %s: no longer configured, delete\n%s\n", r.Name, v.View, v.Change)
		case !dryRun && v.Action == cycle.Write && r.Err == nil:
			fmt.Printf("%s: no longer configured — deleted from %s\n", r.Name, v.View)
		}
	}
	if !dryRun && r.Err != nil {
		fmt.Printf("%s: no longer configured — ERROR: %v\n", r.Name, r.Err)
	}
}

// openAudit opens [lbd] audit_log, if set, and registers it with d.
func openAudit(cfg *config.Compiled, d *lbd.Daemon, host string) (*audit.Log, error) {
	if cfg.LBD.AuditLog == "" {
		return nil, nil
	}
	l, err := audit.Open(cfg.LBD.AuditLog, d.Instance(), host)
	if err != nil {
		return nil, err
	}
	d.AddObserver(l)
	return l, nil
}

// reloadOnSIGHUP reopens the log files and reloads the configuration at
// every SIGHUP; an invalid file leaves the running configuration in place.
func reloadOnSIGHUP(path string, d *lbd.Daemon, m *metrics.Collector, logOut *logfile.File, auditLog *audit.Log, log logrus.FieldLogger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	for range hup {
		if logOut != nil {
			if err := logOut.Reopen(); err != nil {
				fmt.Fprintln(os.Stderr, "lbd:", err)
			}
		}
		if auditLog != nil {
			if err := auditLog.Reopen(); err != nil {
				log.Error(err)
			}
		}
		newCfg, err := config.Load(path)
		if err != nil {
			log.WithField("file", path).Error("reload failed, keeping the running configuration: ", err)
			continue
		}
		logWarnings(log, newCfg)
		m.Instrument(newCfg)
		if err := d.SetConfig(newCfg); err != nil {
			log.WithField("file", path).Error("reload failed, keeping the running configuration: ", err)
			continue
		}
		log.WithField("file", path).Infof("configuration reloaded (%d aliases)", len(newCfg.Aliases))
	}
}
