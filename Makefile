# lbd — see README.md. Targets: build test race vet fmt-check demo screenshot bench faults deb clean
GO      ?= go
BIN     := bin
PKGS    := ./...
# The whole suite runs with the race detector: it is small enough on 2 cores.
TESTFLAGS ?= -race -count=1 -timeout 12m

.PHONY: all build test race vet fmt-check fmt demo screenshot bench faults clean deps deb

all: build

build:
	$(GO) build -o $(BIN)/lbd ./cmd/lbd
	$(GO) build -o $(BIN)/lbclient ./cmd/lbclient
	$(GO) build -o $(BIN)/lbsim ./cmd/lbsim
	$(GO) build -o $(BIN)/dnsq ./scripts/dnsq

deps:
	@scripts/ensure-deps.sh

# Includes the short form of the fault matrix (internal/faults runs a fast
# subset unless LBD_FAULTS=long; see `make faults`).
test: deps vet fmt-check
	$(GO) test $(TESTFLAGS) $(PKGS)

race:
	$(GO) test -race -count=1 $(PKGS)

vet:
	$(GO) vet $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

fmt:
	gofmt -w $$(git ls-files '*.go')

# The demo needs nothing but this project (embedded DNS server, no root).
demo: build
	@scripts/demo.sh

# docs/img/status.png: the status page of a running lbd (embedded DNS
# server, 3 agents, a minute of membership changes) in headless Chromium.
screenshot: build
	@scripts/screenshot.sh

# Go micro-benchmarks, then the multi-process harness (scripts/bench: lbsim,
# lbd, lbclient, named on loopback; prints the tables and writes them as
# markdown). Pass harness flags with BENCHFLAGS, e.g. BENCHFLAGS=-quick or
# BENCHFLAGS="-only poll,agent -out /tmp/bench.md".
BENCHFLAGS ?=
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(GO) run ./scripts/bench $(BENCHFLAGS)

# The fault matrix, every case (README "Fault matrix"): real named, lbd
# master and slave, simulated members; one "FAULT <case>: <figure>" line per
# case, repeated as a summary at the end. The log is kept in bin/faults.log.
FAULTFLAGS ?= -count=1 -v -timeout 15m
faults: deps
	@mkdir -p $(BIN)
	@{ LBD_FAULTS=long $(GO) test $(FAULTFLAGS) -run TestFaults ./internal/faults/ 2>&1; echo $$? > $(BIN)/faults.rc; } | tee $(BIN)/faults.log
	@echo; echo "Fault matrix:"; grep '^FAULT' $(BIN)/faults.log || true
	@exit $$(cat $(BIN)/faults.rc)

clean:
	rm -rf $(BIN)

# Debian packages lbd_<version>_<arch>.deb and lbclient_… in $(BIN)/deb
# (scripts/mkdeb: dpkg-deb; version from VERSION or git describe).
# scripts/debtest, run by `make test` as root, installs and purges them.
deb:
	$(GO) run ./scripts/mkdeb -out $(BIN)/deb
