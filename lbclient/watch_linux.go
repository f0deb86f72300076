//go:build linux

package lbclient

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
	"unsafe"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// watchDebounce is how long the watcher waits after an event for more
// before reporting the burst (an editor's write, a rename and a chmod are
// one change); watchMaxDelay bounds the wait under a continuous stream.
const (
	watchDebounce = 20 * time.Millisecond
	watchMaxDelay = 200 * time.Millisecond
)

// watchMask is what a directory watch reports (inotify(7)): a file of it
// created, removed, renamed in or out, written or its attributes changed;
// the directory itself removed or renamed. IN_ONLYDIR: a path that is no
// directory (any more) is not watched.
const watchMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO |
	unix.IN_MODIFY | unix.IN_CLOSE_WRITE | unix.IN_ATTRIB |
	unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR

// watcher watches, with one inotify instance, the directories of the
// files that the configuration's file-driven checks read (watchPaths): for
// each file its parent directory or, when that does not exist (yet), its
// nearest existing ancestor, so that creating /run/systemd/shutdown and
// then the file is seen too. One watch per distinct directory.
type watcher struct {
	ev  *Evaluator
	log logrus.FieldLogger
	f   *os.File // the inotify instance (read through the runtime poller)
	ifd int      // its descriptor (f.Fd would make f blocking)

	mu     sync.Mutex
	closed bool                // guarded by mu: f is closed
	files  []string            // guarded by mu: files of the configuration
	links  map[string][]string // guarded by mu: file → the paths its symbolic links lead to (linkTargets)
	dirs   map[string]int32    // guarded by mu: watched directory → watch descriptor
	wds    map[int32][]string  // guarded by mu: watch descriptor → its directories
	failed map[string]struct{} // guarded by mu: directories whose watch failed (logged once)
}

// newWatcher opens an inotify instance and watches the files of cfg; nil
// (logged once, as a warning) when inotify is unavailable: file-driven
// checks then wait for the interval.
func newWatcher(cfg *Compiled, ev *Evaluator, log logrus.FieldLogger) *watcher {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		log.WithError(err).Warn("inotify unavailable: file-driven checks (nologin, roger, reboot) are re-evaluated every interval only")
		return nil
	}
	w := &watcher{ev: ev, log: log, f: os.NewFile(uintptr(fd), "inotify"), ifd: fd,
		dirs: map[string]int32{}, wds: map[int32][]string{}, failed: map[string]struct{}{}}
	w.setConfig(cfg)
	return w
}

// setConfig watches the files of cfg (and no longer the others).
func (w *watcher) setConfig(cfg *Compiled) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.files = watchPaths(cfg)
	w.resyncLocked()
}

// watchDir is the directory to watch for file: its parent, else the
// nearest existing ancestor.
func watchDir(file string) string {
	d := filepath.Dir(file)
	for {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			return d
		}
		up := filepath.Dir(d)
		if up == d {
			return d
		}
		d = up
	}
}

// resyncLocked makes the watched directories those of w.files.
func (w *watcher) resyncLocked() {
	if w.closed {
		return
	}
	want := map[string]bool{}
	w.links = map[string][]string{}
	for _, f := range w.files {
		want[watchDir(f)] = true
		// A file that is a symbolic link (/etc/nologin → /run/nologin)
		// changes where its target is: that directory is watched too.
		for _, t := range linkTargets(f) {
			w.links[f] = append(w.links[f], t)
			want[watchDir(t)] = true
		}
	}
	for d, wd := range w.dirs {
		if want[d] {
			continue
		}
		delete(w.dirs, d)
		w.wds[wd] = slices.DeleteFunc(w.wds[wd], func(x string) bool { return x == d })
		if len(w.wds[wd]) == 0 {
			delete(w.wds, wd)
			_, _ = unix.InotifyRmWatch(w.fd(), uint32(wd))
		}
	}
	for d := range want {
		if _, ok := w.dirs[d]; ok {
			continue
		}
		wd, err := unix.InotifyAddWatch(w.fd(), d, watchMask)
		if err != nil {
			f := w.log.WithField("dir", d).WithError(err)
			if _, seen := w.failed[d]; seen {
				f.Debug("cannot watch directory")
			} else {
				w.failed[d] = struct{}{}
				f.Warn("cannot watch directory: its file-driven checks are re-evaluated every interval only")
			}
			continue
		}
		delete(w.failed, d)
		w.dirs[d] = int32(wd)
		if !slices.Contains(w.wds[int32(wd)], d) { // the same directory by another path shares the descriptor
			w.wds[int32(wd)] = append(w.wds[int32(wd)], d)
		}
	}
}

func (w *watcher) fd() int { return w.ifd }

// event is one change read from inotify: the path (a watched directory,
// or a name in it); all after a queue overflow.
type event struct {
	path string
	all  bool
}

// read sends the events read from w.f until it is closed.
func (w *watcher) read(out chan<- []event, done <-chan struct{}) {
	defer close(out)
	buf := make([]byte, 64*1024)
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				w.log.WithError(err).Warn("inotify read failed: file-driven checks are re-evaluated every interval only")
			}
			return
		}
		evs := w.parse(buf[:n])
		select {
		case out <- evs:
		case <-done:
			return
		}
	}
}

// parse decodes a read of struct inotify_event records (inotify(7)).
func (w *watcher) parse(b []byte) []event {
	var out []event
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(b) >= unix.SizeofInotifyEvent {
		raw := (*unix.InotifyEvent)(unsafe.Pointer(&b[0]))
		end := unix.SizeofInotifyEvent + int(raw.Len)
		if end > len(b) {
			break
		}
		name := string(b[unix.SizeofInotifyEvent:end])
		for len(name) > 0 && name[len(name)-1] == 0 {
			name = name[:len(name)-1]
		}
		b = b[end:]
		if raw.Mask&unix.IN_Q_OVERFLOW != 0 {
			out = append(out, event{all: true})
			continue
		}
		dirs := w.wds[raw.Wd]
		switch {
		case raw.Mask&unix.IN_IGNORED != 0: // the watch is gone (directory removed): resync re-adds one above
			w.forgetLocked(raw.Wd, dirs)
		case raw.Mask&unix.IN_MOVE_SELF != 0:
			// The directory was renamed: its watch follows it to the new
			// name, and its old path (perhaps made again at once) is no
			// longer watched. Dropped, so that resync watches the path.
			w.forgetLocked(raw.Wd, dirs)
			_, _ = unix.InotifyRmWatch(w.fd(), uint32(raw.Wd))
		}
		for _, d := range dirs {
			p := d
			if name != "" {
				p = filepath.Join(d, name)
			}
			out = append(out, event{path: p})
		}
	}
	return out
}

// forgetLocked drops watch descriptor wd, of directories dirs, from the
// watched set.
func (w *watcher) forgetLocked(wd int32, dirs []string) {
	for _, d := range dirs {
		delete(w.dirs, d)
	}
	delete(w.wds, wd)
}

// run reports the changes (debounced) to the evaluator until ctx is done,
// then closes the inotify descriptor.
func (w *watcher) run(ctx context.Context) {
	evc := make(chan []event)
	done := make(chan struct{})
	var rd sync.WaitGroup
	rd.Add(1)
	go func() {
		defer rd.Done()
		w.read(evc, done)
	}()
	defer func() {
		close(done)
		w.mu.Lock()
		w.closed = true
		w.f.Close() // unblocks read
		w.mu.Unlock()
		rd.Wait()
	}()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var first time.Time
	pending := map[string]bool{}
	all := false
	for {
		select {
		case <-ctx.Done():
			return
		case evs, ok := <-evc:
			if !ok {
				evc = nil // read failed: the interval rounds go on
				continue
			}
			for _, e := range evs {
				all = all || e.all
				if e.path != "" {
					pending[e.path] = true
				}
			}
			now := time.Now()
			if first.IsZero() {
				first = now
			}
			timer.Reset(min(watchDebounce, max(0, watchMaxDelay-now.Sub(first))))
		case <-timer.C:
			w.flush(pending, all)
			clear(pending)
			all, first = false, time.Time{}
		}
	}
}

// flush re-watches (a directory may have appeared or gone) and touches the
// configuration's files affected by the changed paths.
func (w *watcher) flush(pending map[string]bool, all bool) {
	w.mu.Lock()
	links := w.links // before the resync: what the links led to when the change happened
	w.resyncLocked()
	files := slices.Clone(w.files)
	w.mu.Unlock()
	if all {
		w.ev.Touch(nil)
		return
	}
	var changed []string
	for _, f := range files {
		paths := append([]string{f}, links[f]...)
	files:
		for p := range pending {
			for _, path := range paths {
				if affects(p, path) {
					changed = append(changed, f)
					break files
				}
			}
		}
	}
	if len(changed) > 0 {
		w.ev.Touch(changed)
	}
}

// maxLinks bounds the symbolic links followed from one file (a loop ends
// there).
const maxLinks = 8

// linkTargets lists the paths the symbolic links from file lead to, in
// order, the last one possibly not existing (/etc/nologin → /run/nologin
// before anyone created it); nil when file is not a symbolic link.
func linkTargets(file string) []string {
	var out []string
	cur := file
	for range maxLinks {
		fi, err := os.Lstat(cur)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			break
		}
		to, err := os.Readlink(cur)
		if err != nil {
			break
		}
		if !filepath.IsAbs(to) {
			to = filepath.Join(filepath.Dir(cur), to)
		}
		cur = filepath.Clean(to)
		out = append(out, cur)
	}
	return out
}
