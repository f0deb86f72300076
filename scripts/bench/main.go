// Command bench is the multi-process part of `make bench`: it starts the
// project's binaries (bin/lbd, bin/lbclient, bin/lbsim) and a throwaway BIND
// named on loopback, measures them, and prints a table per section (also
// written as markdown to -out).
//
//	go run ./scripts/bench                      # every section, full sizes
//	go run ./scripts/bench -quick               # small sizes, a smoke run
//	go run ./scripts/bench -only poll,agent     # some sections
//
// Sections: poll (one lbd cycle over an lbsim farm), reaction (nologin →
// DNS answer, with and without push), failover (master SIGKILLed → slave
// writes), shard (one of three sharded lbd SIGKILLed → its zones written
// by their new owners; restarted → its leases back), dns (alias changes/s
// into named), agent (lbclient GETs/s).
//
// All traffic stays on 127.0.0.0/8; every loop is bounded in count and
// time; every process started is stopped at the end, also on error or
// SIGINT/SIGTERM. Run from the repository root after `make build`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// options are the command-line settings shared by every section.
type options struct {
	bin          string
	out          string
	quick        bool
	only         map[string]bool
	pushFlips    int
	timeout      time.Duration
	reps         int
	pollSizes    []size
	snmpRetries  int
	snmpTimeout  time.Duration
	dnsAliases   int
	dnsRounds    int
	agentReqs    int
	agentConns   []int
	keep         bool
	verbose      bool
	profile      bool
	daemonCycles int
}

type size struct{ members, aliases int }

var sections = []string{"poll", "zones", "reaction", "failover", "shard", "dns", "agent"}

func main() { os.Exit(run()) }

// parseFlags reads the command line into options; an error is a usage error.
func parseFlags() (options, error) {
	var (
		o         options
		only      = flag.String("only", strings.Join(sections, ","), "comma-separated sections: "+strings.Join(sections, ","))
		sizes     = flag.String("poll-sizes", "", "poll section farm sizes, members/aliases,… (default 1000/100,10000/1000; -quick 200/20)")
		reps      = flag.Int("reps", 0, "repetitions of the failover and shard measurements and of the reaction section's polling row (default 10; -quick 2)")
		flips     = flag.Int("push-flips", 0, "nologin flips of the reaction section's push row, half of them drains (default 40, the 20 drains of issue 13's target; -quick 4)")
		dnsAl     = flag.Int("dns-aliases", 0, "aliases (and zones) of the DNS throughput section (default 1000; -quick 100)")
		dnsRounds = flag.Int("dns-rounds", 0, "rounds of the DNS throughput section (default 3; -quick 2)")
		agentReqs = flag.Int("agent-requests", 0, "GETs per SNMP version and client count in the agent section (default 200000; -quick 5000)")
		agentCli  = flag.String("agent-clients", "1,8", "concurrent SNMP clients in the agent section, one run per entry")
	)
	flag.StringVar(&o.bin, "bin", "bin", "directory holding lbd, lbclient, lbsim")
	flag.StringVar(&o.out, "out", "", "markdown results file (default: bench-results.md in a new temp directory)")
	flag.BoolVar(&o.quick, "quick", false, "small sizes and few repetitions (smoke run)")
	flag.DurationVar(&o.timeout, "timeout", 15*time.Minute, "hard limit for the whole run")
	flag.IntVar(&o.snmpRetries, "snmp-retries", 0, "lbd [snmp] retries in the poll section")
	flag.DurationVar(&o.snmpTimeout, "snmp-timeout", time.Second, "lbd [snmp] timeout in the poll section")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (configs, logs)")
	flag.IntVar(&o.daemonCycles, "daemon-cycles", 0, "poll section: also run lbd as a daemon and report the median of this many full cycles after its first (engines discovered, sockets open)")
	flag.BoolVar(&o.profile, "cpuprofile", false, "poll and zones sections: lbd writes a CPU profile per run (lbd-runN.prof in the work directory; use with -keep)")
	flag.BoolVar(&o.verbose, "v", false, "progress details on stderr")
	flag.Parse()
	if o.verbose {
		verbose = true
	}

	o.only = map[string]bool{}
	for _, s := range strings.Split(*only, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !contains(sections, s) {
			return o, fmt.Errorf("unknown section %q (known: %s)", s, strings.Join(sections, ", "))
		}
		o.only[s] = true
	}
	pick := func(v, full, quick int) int {
		switch {
		case v > 0:
			return v
		case o.quick:
			return quick
		}
		return full
	}
	o.reps = pick(*reps, 10, 2)
	o.pushFlips = pick(*flips, 40, 4)
	o.dnsAliases = pick(*dnsAl, 1000, 100)
	o.dnsRounds = pick(*dnsRounds, 3, 2)
	o.agentReqs = pick(*agentReqs, 200000, 5000)
	def := "1000/100,10000/1000"
	if o.quick {
		def = "200/20"
	}
	if *sizes == "" {
		*sizes = def
	}
	for _, s := range strings.Split(*sizes, ",") {
		var z size
		if _, err := fmt.Sscanf(strings.TrimSpace(s), "%d/%d", &z.members, &z.aliases); err != nil || z.members < 1 || z.aliases < 1 || z.aliases > z.members {
			return o, fmt.Errorf("bad -poll-sizes entry %q (want members/aliases)", s)
		}
		o.pollSizes = append(o.pollSizes, z)
	}
	for _, c := range strings.Split(*agentCli, ",") {
		var k int
		if _, err := fmt.Sscanf(strings.TrimSpace(c), "%d", &k); err != nil || k < 1 || k > 256 {
			return o, fmt.Errorf("bad -agent-clients entry %q (1..256)", c)
		}
		o.agentConns = append(o.agentConns, k)
	}
	for _, b := range []string{"lbd", "lbclient", "lbsim"} {
		if _, err := os.Stat(filepath.Join(o.bin, b)); err != nil {
			return o, fmt.Errorf("%v (run `make build` first)", err)
		}
	}
	abs, err := filepath.Abs(o.bin)
	if err == nil {
		o.bin = abs
	}
	return o, nil
}

func run() int {
	o, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}

	// 10,000 simulated agents need 10,000 sockets: raise the soft limit to
	// the hard one. Setting it explicitly (not just Go's start-up raise)
	// makes the children inherit it.
	raiseNofile()

	work, err := os.MkdirTemp("", "lbd-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	if o.out == "" {
		o.out = filepath.Join(work, "bench-results.md")
	}

	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	ctx, stopSig := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stopSig()
	defer stopAll()

	rep := &report{}
	rep.header = machineHeader(o)
	fmt.Print(rep.header)

	type section struct {
		name string
		run  func(context.Context, options, string) []*table
	}
	all := []section{
		{"poll", pollSection},
		{"zones", zonesSection},
		{"reaction", reactionSection},
		{"failover", failoverSection},
		{"shard", shardSection},
		{"dns", dnsSection},
		{"agent", agentSection},
	}
	failed := false
	for _, s := range all {
		if !o.only[s.name] {
			continue
		}
		if ctx.Err() != nil {
			rep.add(&table{title: s.name, notes: []string{"not run: " + context.Cause(ctx).Error()}})
			failed = true
			continue
		}
		dir := filepath.Join(work, s.name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		progress("== section %s (work dir %s)", s.name, dir)
		start := time.Now()
		tables := s.run(ctx, o, dir)
		stopAll() // nothing of a section outlives it
		for _, t := range tables {
			t.notes = append(t.notes, fmt.Sprintf("section time %.1f s", time.Since(start).Seconds()))
			if t.failed {
				failed = true
			}
			rep.add(t)
			fmt.Println(t.text())
		}
	}
	if err := os.WriteFile(o.out, []byte(rep.markdown()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "bench: write results:", err)
		failed = true
	} else {
		fmt.Printf("results (markdown): %s\n", o.out)
	}
	if o.keep {
		fmt.Printf("work directory kept: %s\n", work)
	} else {
		// Keep the results file if it lives in the work directory.
		entries, _ := os.ReadDir(work)
		for _, e := range entries {
			if filepath.Join(work, e.Name()) != o.out {
				os.RemoveAll(filepath.Join(work, e.Name()))
			}
		}
	}
	if failed {
		fmt.Fprintln(os.Stderr, "bench: some measurements failed (see the notes above)")
		return 1
	}
	return 0
}

func raiseNofile() {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			fmt.Fprintln(os.Stderr, "bench: raise RLIMIT_NOFILE:", err)
		}
	}
}

func nofile() uint64 {
	var rl syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	return rl.Cur
}

func machineHeader(o options) string {
	var b strings.Builder
	uname := "?"
	if out, err := exec.Command("uname", "-srm").Output(); err == nil {
		uname = strings.TrimSpace(string(out))
	}
	gov := runtime.Version()
	if out, err := exec.Command("go", "version").Output(); err == nil {
		gov = strings.TrimSpace(string(out))
	}
	cpu := ""
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, "model name") {
				if i := strings.Index(l, ":"); i >= 0 {
					cpu = strings.TrimSpace(l[i+1:])
				}
				break
			}
		}
	}
	load := ""
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = strings.Join(strings.Fields(string(data))[:3], " ")
	}
	mode := "full"
	if o.quick {
		mode = "quick"
	}
	fmt.Fprintf(&b, "# lbd benchmarks (%s run)\n\n", mode)
	fmt.Fprintf(&b, "- date: %s\n", time.Now().Format(time.RFC3339))
	fmt.Fprintf(&b, "- machine: nproc %d, %s; %s\n", runtime.NumCPU(), cpu, uname)
	fmt.Fprintf(&b, "- %s\n", gov)
	fmt.Fprintf(&b, "- load average at start: %s; RLIMIT_NOFILE %d\n", load, nofile())
	fmt.Fprintf(&b, "- command: %s\n\n", strings.Join(os.Args, " "))
	return b.String()
}

var verbose = os.Getenv("BENCH_VERBOSE") != ""

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

func debugf(format string, args ...any) {
	if verbose {
		fmt.Fprintf(os.Stderr, "bench:   "+format+"\n", args...)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// errSkip marks a measurement that could not run for a reason outside the
// project (a missing program).
var errSkip = errors.New("skipped")
