// Command lbsim runs a farm of simulated lbclient agents on loopback
// addresses for testing and measuring lbd (package lbclient/sim). It prints
// "ready" on stdout once every agent listens, and runs until SIGINT/SIGTERM.
// All agents share one wildcard UDP socket (0.0.0.0:port) and each answers
// from the address it was polled at, so the farm's size is not bounded by
// the open-file limit; -per-address restores one socket per agent.
//
//	lbsim -members 1000 -aliases 100 -port 10161 -version 3 -auth-password secret123 \
//	      -silent 0.1 -emit-config aliases.toml
//
// The flags are kept stable: scripts outside the project use them.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/lbd-project/lbd/lbclient/agent"
	"github.com/lbd-project/lbd/lbclient/sim"
)

func main() { os.Exit(run()) }

func run() int {
	defPort := 1161
	if os.Geteuid() == 0 {
		defPort = 161
	}
	var (
		members   = flag.Int("members", 100, "number of simulated agents")
		aliases   = flag.Int("aliases", 10, "number of aliases (member i serves alias i mod M)")
		port      = flag.Int("port", defPort, "UDP port every agent listens on (161 when run as root)")
		base      = flag.String("base", "127.1.0.1", "address of the first agent (IPv4 loopback)")
		version   = flag.String("version", "3", "SNMP version the agents answer: 2c | 3 (v2c is also answered when -community is set)")
		community = flag.String("community", "", "v2c community (default \"public\" with -version 2c)")
		user      = flag.String("user", "loadbalancing", "SNMPv3 user")
		authProto = flag.String("auth-protocol", "md5", "SNMPv3 auth protocol: md5 | sha | sha256 | sha512")
		authPass  = flag.String("auth-password", "", "SNMPv3 auth password (≥ 8 characters)")
		privProto = flag.String("priv-protocol", "", "SNMPv3 priv protocol: \"\" | aes | aes256")
		privPass  = flag.String("priv-password", "", "SNMPv3 priv password")
		silent    = flag.Float64("silent", 0, "fraction of agents that never answer")
		garbage   = flag.Float64("garbage", 0, "fraction of agents that answer garbage")
		slow      = flag.Float64("slow", 0, "fraction of agents that answer late")
		slowDelay = flag.Duration("slow-delay", 1500*time.Millisecond, "delay of slow agents")
		zone      = flag.String("zone", "lb.sim", "zone the alias names are generated under")
		walk      = flag.Duration("walk", time.Second, "period of the load random walk (0 = fixed loads)")
		seed      = flag.Int64("seed", 1, "random seed (faults, loads)")
		emit      = flag.String("emit-config", "", "write the [[alias]] tables for lbd to this file")
		perAddr   = flag.Bool("per-address", false, "one socket per agent bound to its address (default: one wildcard socket 0.0.0.0:port for all, answering from each polled address)")
		readers   = flag.Int("readers", 0, "goroutines reading the wildcard socket (0 = GOMAXPROCS, 2..8)")
	)
	flag.Parse()
	base4, err := netip.ParseAddr(*base)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lbsim: -base:", err)
		return 2
	}
	cfg := sim.Config{Members: *members, Aliases: *aliases, Base: base4, Port: *port, Community: *community,
		Silent: *silent, Garbage: *garbage, Slow: *slow, SlowDelay: *slowDelay, Zone: *zone, Walk: *walk, Seed: *seed,
		PerAddress: *perAddr, Readers: *readers}
	switch *version {
	case "2c":
		if cfg.Community == "" {
			cfg.Community = "public"
		}
	case "3":
		cfg.Users = []agent.User{{Name: *user, AuthProtocol: *authProto, AuthPassword: *authPass,
			PrivProtocol: *privProto, PrivPassword: *privPass}}
	default:
		fmt.Fprintf(os.Stderr, "lbsim: -version must be 2c or 3, not %q\n", *version)
		return 2
	}
	farm, err := sim.New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lbsim:", err)
		return 2
	}
	if *emit != "" {
		f, err := os.Create(*emit)
		if err == nil {
			err = farm.EmitConfig(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "lbsim: -emit-config:", err)
			return 1
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := farm.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "lbsim:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "lbsim: %d agents from %s on port %d, %d socket(s)\n", len(farm.Members), farm.Members[0].Addr, farm.Port(), farm.Sockets())
	fmt.Println("ready")
	<-ctx.Done()
	farm.Wait()
	return 0
}
