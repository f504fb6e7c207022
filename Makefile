# jitssh — the two commands that matter: `make demo` and `make test`.
SHELL   := /bin/bash
GO      ?= go
BIN     := $(CURDIR)/bin
TESTFLAGS ?=

.PHONY: all build demo test test-short lint fuzz clean

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -trimpath -o $(BIN)/ ./cmd/...

# Starts the sandbox, connects with real ssh through jitssh, copies a file with
# scp and back, shows the instance's audit line, and stops the sandbox.
demo: build
	@BIN=$(BIN) ./scripts/demo.sh

# The whole test suite, including the end-to-end tests with the real OpenSSH
# client and (when installed and running as root) the real sshd.
test:
	$(GO) vet ./...
	set -o pipefail; $(GO) test -race -count=1 -timeout 15m -json $(TESTFLAGS) ./... | $(GO) run ./scripts/testreport

test-short:
	$(GO) test -short -count=1 ./...

# Run every fuzz target briefly (FUZZTIME=1m make fuzz for longer).
FUZZTIME ?= 10s
fuzz:
	@./scripts/fuzz.sh $(FUZZTIME)

clean:
	rm -rf $(BIN)
