package testenv

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestChromiumDumpsDOMAndScreenshots(t *testing.T) {
	RequireChromium(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!DOCTYPE html><title>t</title><p id="x">served &amp; parsed</p><svg id="s"><rect width="5" height="5"/></svg>`))
	}))
	defer srv.Close()
	dom := DumpDOM(t, srv.URL)
	if !strings.Contains(dom, `<p id="x">served &amp; parsed</p>`) || !strings.Contains(dom, `<svg id="s">`) {
		t.Fatalf("DOM:\n%s", dom)
	}
	png := filepath.Join(t.TempDir(), "shot.png")
	Screenshot(t, srv.URL, png, 400, 300)
	b, err := os.ReadFile(png)
	if err != nil || len(b) < 8 || string(b[1:4]) != "PNG" {
		t.Fatalf("not a PNG (%v)", err)
	}
}
