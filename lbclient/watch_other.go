//go:build !linux

package lbclient

import (
	"context"

	"github.com/sirupsen/logrus"
)

// watcher is Linux only (inotify(7), watch_linux.go); elsewhere
// file-driven checks are re-evaluated every interval.
type watcher struct{}

func newWatcher(*Compiled, *Evaluator, logrus.FieldLogger) *watcher { return nil }

func (*watcher) setConfig(*Compiled) {}

func (*watcher) run(context.Context) {}
