package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RunWithBinaries is a TestMain body for packages that run the project's
// programs as processes: it builds cmd/<name> for each name into a new
// temporary directory, passes that directory to set, runs the tests and
// removes the directory. It exits the process with the tests' code.
func RunWithBinaries(m *testing.M, set func(dir string), names ...string) {
	dir, err := os.MkdirTemp("", "lbd-test-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, c := range names {
		out, err := exec.Command("go", "build", "-o", filepath.Join(dir, c), "github.com/lbd-project/lbd/cmd/"+c).CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", c, err, out)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	set(dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
