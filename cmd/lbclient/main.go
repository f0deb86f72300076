// Command lbclient is the member-node agent of the DNS load balancer: it
// evaluates the configured checks and loads in the background and answers
// SNMP GETs of .1.3.6.1.4.1.96.255.1 (see package lbclient and
// etc/lbclient.toml).
//
//	lbclient -config FILE                 run the agent until SIGTERM/SIGINT
//	lbclient -config FILE -once           evaluate once, print "alias load reason" per alias
//	lbclient -config FILE -check-config   validate the file (also: -check-config FILE)
//
// Logs go to stderr.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/sirupsen/logrus"

	"github.com/lbd-project/lbd/lbclient"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
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
	fs := flag.NewFlagSet("lbclient", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "/etc/lbclient.toml", "configuration file (TOML)")
	once := fs.Bool("once", false, "evaluate every alias once, print \"alias load reason\" lines and exit")
	var check checkFlag
	fs.Var(&check, "check-config", "validate the configuration and exit (non-zero with file:line: key errors)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	file := *config
	if check.set {
		switch {
		case check.file != "":
			file = check.file
		case fs.NArg() == 1:
			file = fs.Arg(0)
		}
	}
	if fs.NArg() > 0 && !(check.set && check.file == "" && fs.NArg() == 1) {
		fmt.Fprintf(stderr, "lbclient: unexpected arguments %q\n", fs.Args())
		return 2
	}

	log := logrus.New()
	log.SetOutput(stderr)
	lvl, err := logrus.ParseLevel(*level)
	if err != nil {
		fmt.Fprintf(stderr, "lbclient: -log-level: %v\n", err)
		return 2
	}
	log.SetLevel(lvl)

	cfg, err := lbclient.Load(file)
	if err != nil {
		fmt.Fprintf(stderr, "lbclient: %v\n", err)
		return 1
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
