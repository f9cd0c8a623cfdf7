# The two commands a newcomer needs are `make demo` and `make test`.

GO       ?= go
SHELL    := /bin/bash
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
# staticcheck at a pinned version, run through the module proxy: nothing to
# install by hand, and the same findings on every machine.
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: demo test lint build

## demo: run the emulator, serve and a burst of webhooks, then print sample queries;
## the data lives in a temporary folder unless DEMO_DIR names one to keep
## (make demo DEMO_DIR=demo-data; running it again on that folder works too)
DEMO_DIR ?=
demo:
	$(GO) run ./cmd/jiraduck demo $(if $(DEMO_DIR),--data-dir $(DEMO_DIR))

## test: formatting, vet, staticcheck and every test with the race detector
## (the timeout is explicit: past it go test names the test that hung). When
## a test fails, the last lines repeat what failed and why, the hung tests' names and
## the stacks of the tests' goroutines and of ours stuck on a lock or in a call
## for minutes: a log cut to its tail still says which.
## Processes built with the race detector end at once instead of sleeping a
## second for late reports: every test binary and every jiraduck process the
## tests start is one, and many tests wait on such processes one after another.
GORACE ?= atexit_sleep_ms=0
test: lint
	@log=$$(mktemp); trap 'rm -f "$$log"' EXIT; set -o pipefail; \
	if GORACE="$(GORACE)" $(GO) test -race -count=1 -timeout 15m ./... 2>&1 | tee "$$log"; then exit 0; fi; \
	echo; echo "== what failed, repeated from above =="; \
	awk '/^[[:space:]]*--- FAIL/ { msg = 1; print; next } \
	  msg && /^[[:space:]]+/ { print; next } { msg = 0 } \
	  /^(FAIL|panic: )/ && !/^panic: test timed out/ { print }' "$$log" | head -80; \
	sed -n '/^panic: test timed out/,/^$$/p' "$$log"; \
	awk 'BEGIN { RS = ""; FS = "\n" } \
	  /^goroutine [0-9]+ / && /\ntesting\.tRunner\(/ && $$2 !~ /^testing\.\(\*T\)\.(Run|Parallel)|^testing\.tRunner\.func1|^testing\.runTests/ { \
	    if (++n > 8) next; for (i = 1; i <= NF && i <= 40; i++) print $$i; print "" } \
	  /^goroutine [0-9]+ \[(syscall|sync\.|semacquire)[^]]*minutes\]/ && /jiraduck\/internal\// && !/\ntesting\.tRunner\(/ { \
	    if (++m > 8) next; for (i = 1; i <= NF && i <= 40; i++) print $$i; print "" }' "$$log"; \
	exit 1

lint:
	@out=$$(gofmt -l cmd internal migrations sql); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

## build: a versioned release binary in bin/, with its checksum
build:
	mkdir -p bin
	CGO_ENABLED=1 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/jiraduck ./cmd/jiraduck
	sha256sum bin/jiraduck
