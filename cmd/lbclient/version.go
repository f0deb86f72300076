package main

import "github.com/lbd-project/lbd/internal/version"

func versionString() string { return version.String("lbclient") }
