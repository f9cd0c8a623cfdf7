# The two commands a newcomer needs are `make demo` and `make test`.

GO       ?= go
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
## (the timeout is explicit: past it go test names the test that hung)
test: lint
	$(GO) test -race -count=1 -timeout 15m ./...

lint:
	@out=$$(gofmt -l cmd internal migrations sql); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

## build: a versioned release binary in bin/, with its checksum
build:
	mkdir -p bin
	CGO_ENABLED=1 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/jiraduck ./cmd/jiraduck
	sha256sum bin/jiraduck
