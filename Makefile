# Roomgate build and test entry points. `make test` is what CI runs
# (.ci/run): it installs the interop peers when missing, then checks
# formatting, vets, builds without cgo, runs the unit tests with the race
# detector and again as pure Go, runs the interop suite against real SIP
# peers, and fuzzes every Fuzz target briefly.

GO              ?= go
FUZZTIME        ?= 3s
UNIT_TIMEOUT    ?= 10m
INTEROP_TIMEOUT ?= 10m
BENCHTIME       ?= 1s

# Every package except the interop suite, which has its own step.
UNIT_PKGS = $$($(GO) list ./... | grep -v '/interop$$')

export GO FUZZTIME INTEROP_TIMEOUT

.PHONY: test peers fmt-check vet build unit-test unit-test-purego interop fuzz-smoke run bench

test: peers fmt-check vet build unit-test unit-test-purego interop fuzz-smoke
	@echo "make test: all checks passed"

peers:
	./scripts/install-peers.sh

fmt-check:
	@files=$$(gofmt -l $$(find . -name '*.go' -not -path './.git/*')); \
	if [ -n "$$files" ]; then echo "gofmt needed on:"; echo "$$files"; exit 1; fi

vet:
	$(GO) vet ./...

build:
	CGO_ENABLED=0 $(GO) build ./...

# The race detector needs cgo.
unit-test:
	CGO_ENABLED=1 $(GO) test -race -timeout $(UNIT_TIMEOUT) $(UNIT_PKGS)

# The product must build and pass without cgo.
unit-test-purego:
	CGO_ENABLED=0 $(GO) test -timeout $(UNIT_TIMEOUT) $(UNIT_PKGS)

# Real peers against a pure-Go server binary, in a loopback-only network
# namespace when running as root (scripts/interop.sh).
interop:
	./scripts/interop.sh

fuzz-smoke:
	./scripts/fuzz-smoke.sh

run:
	$(GO) run ./cmd/roomgate $(ARGS)

bench:
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=$(BENCHTIME) ./...
