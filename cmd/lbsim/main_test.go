package main

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/lbclient/agent"
	"github.com/lbd-project/lbd/lbclient/sim"
)

// TestMain lets the test binary act as lbsim (LBSIM_MAIN=1), so that the
// flags, the "ready" line, the emitted aliases and the exit status are
// tested in their own process.
func TestMain(m *testing.M) {
	if os.Getenv("LBSIM_MAIN") == "1" {
		os.Args = append([]string{"lbsim"}, strings.Fields(os.Getenv("LBSIM_ARGS"))...)
		main()
	}
	os.Exit(m.Run())
}

// 25,000 agents (more than RLIMIT_NOFILE allows here with a socket each)
// start, hold a handful of descriptors, answer from their own address,
// and stop on SIGINT with status 0.
func TestLbsimManyAgents(t *testing.T) {
	const members, aliases = 25000, 2500
	base := "127.3.0.1"
	port := testenv.FreePort(t, base)
	emit := filepath.Join(t.TempDir(), "aliases.toml")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "LBSIM_MAIN=1", fmt.Sprintf("LBSIM_ARGS=-members %d -aliases %d -base %s -port %d -version 2c -walk 0 -silent 0.1 -seed 2 -emit-config %s",
		members, aliases, base, port, emit))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	ready := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(out).ReadString('\n')
		ready <- l
		io.Copy(io.Discard, out)
	}()
	select {
	case l := <-ready:
		if l != "ready\n" {
			t.Fatalf("first line %q", l)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no ready line in 30 s")
	}
	if fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", cmd.Process.Pid)); err == nil && len(fds) > 20 {
		t.Errorf("lbsim with %d agents holds %d descriptors", members, len(fds))
	}
	conf, err := os.ReadFile(emit)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(conf), "[[alias]]"); n != aliases {
		t.Fatalf("%d [[alias]] tables", n)
	}
	farm, err := sim.New(sim.Config{Members: members, Aliases: aliases, Base: netip.MustParseAddr(base), Seed: 2, Silent: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, members / 2, members - 1} {
		m := farm.Members[i]
		g := &gosnmp.GoSNMP{Target: m.Addr.String(), Port: uint16(port), Version: gosnmp.Version2c, Community: "public",
			Timeout: 500 * time.Millisecond, Retries: 1, Logger: gosnmp.NewLogger(log.New(io.Discard, "", 0))}
		if err := g.Connect(); err != nil { // connected: only a reply from m.Addr is received
			t.Fatal(err)
		}
		res, err := g.Get([]string{agent.OID})
		g.Conn.Close()
		if m.Fault == sim.Silent {
			if err == nil {
				t.Errorf("silent %s answered", m.Addr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", m.Addr, err)
		}
		if got, want := string(res.Variables[0].Value.([]byte)), fmt.Sprintf("%s=%d", m.Aliases[0], m.Load()); got != want {
			t.Errorf("%s: %q, want %q", m.Addr, got, want)
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("lbsim exit: %v", err)
	}
}
