package legacyconf

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lbd-project/lbd/lbd/config"
)

func loadLegacyFixture(t *testing.T, name string) *Result {
	t.Helper()
	r, err := Load(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// docs/protocol.md §11 C: text and YAML fixtures give identical models, no
// parameter leaks between aliases, and the report flags missing best_hosts,
// unknown metrics and cmsweb.
func TestLegacyTextAndYAMLAgree(t *testing.T) {
	text, yml := loadLegacyFixture(t, "lbd.conf"), loadLegacyFixture(t, "lbd.yaml")
	a, b := *text.Config, *yml.Config
	a.File, b.File = "", ""
	if !reflect.DeepEqual(a, b) {
		ta, _ := text.TOML()
		tb, _ := yml.TOML()
		t.Fatalf("text and YAML models differ:\n%s\n---\n%s", ta, tb)
	}
	cfg := text.Config
	if len(cfg.Aliases) != 2 || cfg.Aliases[0].Name != "foo.example.org" || cfg.Aliases[1].Name != "bar.example.org" {
		t.Fatalf("aliases %+v", cfg.Aliases)
	}
	foo, bar := cfg.Aliases[0], cfg.Aliases[1]
	if *foo.BestHosts != 2 || *foo.Fallback != "minimum" || foo.External || foo.TTL.Duration != time.Minute ||
		foo.PollingInterval.Duration != 5*time.Minute || len(foo.Members) != 3 {
		t.Fatalf("foo %+v", foo)
	}
	if *bar.BestHosts != -1 || *bar.Fallback != "cmsfrontier" || !bar.External || bar.TTL.Duration != time.Minute ||
		bar.PollingInterval.Duration != 2*time.Minute {
		t.Fatalf("bar %+v (ttl 30 must be raised to 60)", bar)
	}
	if cfg.DNS.Server != "192.0.2.53:53" || cfg.DNS.InternalKey.Name != "abcd-internal." ||
		cfg.DNS.ExternalKey.Name != "abcd-external." || cfg.DNS.InternalKey.Algorithm != "hmac-md5" {
		t.Fatalf("dns %+v", cfg.DNS)
	}
	if cfg.Heartbeat.File != "/var/www/html/load-balancing/heartbeat" ||
		cfg.Heartbeat.URL != "http://lbmaster.example.org/load-balancing/heartbeat" || cfg.LBD.Master != "lbmaster.example.org" {
		t.Fatalf("heartbeat %+v master %q", cfg.Heartbeat, cfg.LBD.Master)
	}
	for _, r := range []*Result{text, yml} {
		report := ""
		for _, p := range r.Problems {
			report += p.String() + "\n"
		}
		for _, want := range []string{
			"error: alias zero.example.org: best_hosts is missing or 0",
			"error: alias web.example.org: metric cmsweb is rejected",
			"error: alias odd.example.org: unknown metric \"whatever\"",
			"warning: alias nohosts.example.org: needs both parameters and a non-empty clusters entry",
			"warning: alias bar.example.org: ttl 30 raised to 60 s",
			"unknown key",
		} {
			if !strings.Contains(report, want) {
				t.Errorf("%s: report lacks %q:\n%s", r.File, want, report)
			}
		}
		if !r.Errors() {
			t.Errorf("%s: Errors() false", r.File)
		}
	}
}

func TestLegacyTextReportsLinesAndSurvivesGarbage(t *testing.T) {
	src := "master = m.example.org\r\nparameters\nclusters a.example.org\n  weird line here\n" +
		"parameters a.example.org = best_hosts#1 metric#minino nohash\nclusters a.example.org = h1\n"
	r := ParseText("x.conf", []byte(src))
	report := ""
	for _, p := range r.Problems {
		report += p.String() + "\n"
	}
	for _, want := range []string{"line 2: error: parameters line must be", "line 3: error: clusters line must be",
		"line 4: error: unparsable line", "line 5: error: alias a.example.org: parameter \"nohash\" is not key#value",
		"dns_manager is missing"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if len(r.Config.Aliases) != 1 || *r.Config.Aliases[0].BestHosts != 1 {
		t.Fatalf("aliases %+v", r.Config.Aliases)
	}
}

// The converted TOML is a valid lbd configuration.
func TestLegacyTOMLLoads(t *testing.T) {
	out, err := loadLegacyFixture(t, "lbd.conf").TOML()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("converted.toml", []byte(out))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(cfg.Aliases) != 2 || cfg.Params[1].Fallback != config.FallbackKeep || cfg.Params[0].Fallback != config.FallbackAllRandom {
		t.Fatalf("converted: %+v", cfg.Aliases)
	}
}

func FuzzLegacyText(f *testing.F) {
	for _, s := range []string{"master = x\n", "parameters a = best_hosts#1\nclusters a = h\n", "parameters\n", "= = =\n", "clusters a =\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := ParseText("f", []byte(s))
		if _, err := r.TOML(); err != nil {
			t.Fatal(err)
		}
	})
}
