package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/internal/tsig"
)

// The status page at / (docs/operations.md, "Status page") loaded by a real
// headless Chromium from a running lbd: the DOM Chromium built has every
// alias, and each alias's SVG timeline with a bar per span it published,
// also after a membership change.
func TestStatusPageInChromium(t *testing.T) {
	testenv.RequireChromium(t)
	const api = "api.lb.test" // no agent serves it: all-random publishes its member
	agents := startThreeAgents(t)
	n := testenv.StartNamed(t, testenv.NamedOptions{Zones: []string{alias, api},
		Keys: []tsig.Spec{lbdKey}})
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "127.0.0.1"))
	cfg := writeLBDConfig(t, lbdOpts{Role: "master", Server: n.Addr, SNMPPort: agents[0].Port, HTTP: httpAddr,
		Alias: alias, Members: []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}, BestHosts: 2, Polling: "200ms",
		Extra: aliasTable(api, "127.0.0.3") + "fallback = \"all-random\"\n"})
	startLBD(t, "-config", cfg, "-hostname", "master.test")
	url := "http://" + httpAddr + "/"
	waitHTTP(t, url)
	waitFor(t, 20*time.Second, func() bool {
		got, _ := published(t, n, alias)
		return equal(got, []string{"127.0.0.2", "127.0.0.3"})
	})

	// A change: 127.0.0.2 drains, 127.0.0.4 takes its place.
	agents[0].nologin(t, true)
	waitFor(t, 20*time.Second, func() bool {
		got, _ := published(t, n, alias)
		return equal(got, []string{"127.0.0.3", "127.0.0.4"})
	})
	waitFor(t, 20*time.Second, func() bool {
		got, _ := published(t, n, api)
		return len(got) == 1
	})

	// The server's HTML first (what Chromium gets).
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}

	dom := testenv.DumpDOM(t, url)
	doc, err := html.Parse(strings.NewReader(dom))
	if err != nil {
		t.Fatalf("parse Chromium's DOM: %v", err)
	}
	if !strings.Contains(text(doc), "master") {
		t.Error("the role is not shown")
	}
	for name, want := range map[string]map[string]int{
		// 127.0.0.2 until the drain, 127.0.0.3 throughout, 127.0.0.4 since.
		alias: {"127.0.0.2": 1, "127.0.0.3": 1, "127.0.0.4": 1},
		api:   {"127.0.0.3": 1},
	} {
		sec := find(doc, func(n *html.Node) bool { return n.Data == "section" && attr(n, "id") == "alias-"+name })
		if sec == nil {
			t.Errorf("no section for %s in the DOM", name)
			continue
		}
		if h2 := find(sec, func(n *html.Node) bool { return n.Data == "h2" }); h2 == nil || !strings.HasPrefix(text(h2), name) {
			t.Errorf("%s: section heading missing", name)
		}
		svg := find(sec, func(n *html.Node) bool { return n.Data == "svg" && attr(n, "id") == "timeline-"+name })
		if svg == nil {
			t.Errorf("no timeline <svg id=timeline-%s> in the DOM", name)
			continue
		}
		bars := map[string]int{}
		total := 0
		walk(svg, func(n *html.Node) {
			if n.Type == html.ElementNode && n.Data == "g" && attr(n, "class") == "row" {
				walk(n, func(r *html.Node) {
					if r.Type == html.ElementNode && r.Data == "rect" && attr(r, "class") == "bar" {
						bars[attr(n, "data-host")]++
						total++
					}
				})
			}
		})
		if total == 0 {
			t.Errorf("%s: timeline without a bar", name)
		}
		for host, n := range want {
			if bars[host] < n {
				t.Errorf("%s: %d bars for %s, want %d (bars %v)", name, bars[host], host, n, bars)
			}
		}
	}
	if t.Failed() {
		t.Logf("DOM:\n%s", dom)
	}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func walk(n *html.Node, f func(*html.Node)) {
	f(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, f)
	}
}

func find(n *html.Node, match func(*html.Node) bool) *html.Node {
	var found *html.Node
	walk(n, func(c *html.Node) {
		if found == nil && c.Type == html.ElementNode && match(c) {
			found = c
		}
	})
	return found
}

func text(n *html.Node) string {
	var b strings.Builder
	walk(n, func(c *html.Node) {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	})
	return b.String()
}
