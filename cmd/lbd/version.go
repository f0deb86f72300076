package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/lbd-project/lbd/internal/version"
)

func versionString() string { return version.String("lbd") }

// versionFlag is -version: a boolean flag that prints versionString and
// exits when it is parsed (flag.Parse in main), so main needs no change.
type versionFlag struct{}

func (versionFlag) String() string   { return "false" }
func (versionFlag) IsBoolFlag() bool { return true }
func (versionFlag) Set(s string) error {
	if s != "true" {
		return nil
	}
	fmt.Println(versionString())
	os.Exit(0)
	return nil
}

func init() { flag.Var(versionFlag{}, "version", "print the version and exit") }
