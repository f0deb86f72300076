package testenv

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// chromiumTimeout bounds one headless Chromium run.
const chromiumTimeout = 60 * time.Second

// chromiumFlags keep headless Chromium off the network (no updates, sync,
// field trials, QUIC) and runnable as root.
var chromiumFlags = []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
	"--disable-default-apps", "--mute-audio", "--hide-scrollbars"}

// RequireChromium returns the path of the Debian chromium binary; missing,
// it fails the test under CI=true and skips it otherwise.
func RequireChromium(t testing.TB) string {
	t.Helper()
	return Require(t, "chromium")[0]
}

// DumpDOM loads url in headless Chromium and returns the DOM it built
// (--dump-dom), after the page's load event.
func DumpDOM(t testing.TB, url string) string {
	t.Helper()
	out := runChromium(t, "--dump-dom", url)
	if !strings.Contains(out, "<html") {
		t.Fatalf("chromium --dump-dom %s: no DOM in its output:\n%s", url, out)
	}
	return out
}

// Screenshot loads url in headless Chromium with a width×height window
// and writes what it shows to png.
func Screenshot(t testing.TB, url, png string, width, height int) {
	t.Helper()
	runChromium(t, fmt.Sprintf("--window-size=%d,%d", width, height), "--screenshot="+png, url)
	if st, err := os.Stat(png); err != nil || st.Size() == 0 {
		t.Fatalf("chromium --screenshot %s: no image written (%v)", url, err)
	}
}

// runChromium runs headless Chromium with a profile of its own (removed
// afterwards) and returns its standard output. Chromium's helper processes
// are in its process group, which is killed when the time is up.
func runChromium(t testing.TB, args ...string) string {
	t.Helper()
	bin := RequireChromium(t)
	profile, err := os.MkdirTemp("", "lbd-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(profile)
	ctx, cancel := context.WithTimeout(context.Background(), chromiumTimeout)
	defer cancel()
	full := append(append(append([]string{}, chromiumFlags...), "--user-data-dir="+profile), args...)
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = append(os.Environ(), "HOME="+profile)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // helpers left behind
	}
	if ctx.Err() != nil {
		t.Fatalf("chromium %v: not done after %v\nstderr:\n%s", args, chromiumTimeout, stderr.String())
	}
	if err != nil {
		t.Fatalf("chromium %v: %v\nstderr:\n%s", args, err, stderr.String())
	}
	return stdout.String()
}
