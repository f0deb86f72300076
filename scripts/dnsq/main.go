// Command dnsq prints the sorted A and AAAA addresses a DNS server answers
// for a name, on one line: the demo's stand-in for `dig +short`, so that
// `make demo` needs nothing but this project.
//
//	go run ./scripts/dnsq -server 127.0.0.1:15353 www.lb.demo
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"
)

func main() {
	server := flag.String("server", "127.0.0.1:53", "DNS server host:port")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: dnsq -server HOST:PORT NAME")
		os.Exit(2)
	}
	name := dns.Fqdn(flag.Arg(0))
	c := &dns.Client{Timeout: time.Second}
	var out []string
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		m := new(dns.Msg)
		m.SetQuestion(name, qt)
		m.RecursionDesired = false
		r, _, err := c.Exchange(m, *server)
		if err != nil {
			fmt.Fprintln(os.Stderr, "dnsq:", err)
			os.Exit(1)
		}
		for _, rr := range r.Answer {
			switch a := rr.(type) {
			case *dns.A:
				out = append(out, a.A.String())
			case *dns.AAAA:
				out = append(out, a.AAAA.String())
			}
		}
	}
	sort.Strings(out)
	fmt.Println(strings.Join(out, " "))
}
