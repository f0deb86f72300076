// Package debtest tests the Debian packages scripts/mkdeb builds (make deb):
// it builds them, runs lintian (no errors allowed), installs both with
// dpkg -i, runs the installed programs, their -check-config on the
// installed configuration and man -l on each page, and purges them. It
// needs root and the Debian tools (dpkg, lintian, man-db): without them it
// skips, loudly, except under CI=true, where it fails.
package debtest
