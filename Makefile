# hookflow — `make run` starts everything on a fresh machine, `make test` runs the suite.

GO            ?= go
# Make splits paths at spaces; say so at once rather than fail oddly later.
ifneq ($(word 2,$(CURDIR)),)
$(error the checkout's path "$(CURDIR)" contains a space, which make cannot handle: move or clone it to a path without one)
endif
BIN           := $(CURDIR)/bin
TEMPORAL      := $(BIN)/temporal
HOOKFLOW      := $(BIN)/hookflow
TEMPORAL_CLI  := $(shell sed -n 's/^require github.com\/temporalio\/cli \(v[^ ]*\).*/\1/p;s/^\tgithub.com\/temporalio\/cli \(v[^ ]*\)$$/\1/p' tools/temporal/go.mod | head -1)
# The Temporal CLI takes minutes to compile; one build per version is kept outside the
# checkout so fresh clones on the same machine reuse it.
TEMPORAL_CACHE := $(HOME)/.cache/hookflow/temporal-cli-$(TEMPORAL_CLI)
# The pinned Helm renders and lints deploy/helm/hookflow in `make test`; built once per
# version and kept beside the Temporal CLI.
HELM          := $(BIN)/helm
HELM_VERSION  := $(shell sed -n 's/^require helm.sh\/helm\/v3 \(v[^ ]*\).*/\1/p;s/^\thelm.sh\/helm\/v3 \(v[^ ]*\)$$/\1/p' tools/helm/go.mod | head -1)
HELM_CACHE    := $(HOME)/.cache/hookflow/helm-$(HELM_VERSION)
# The benchmark's (p) runs the Temporal server itself on PostgreSQL persistence: the server
# version the pinned CLI embeds, with its SQL schema tool and schema, built once per version
# beside the others. Only `make bench` needs it.
TEMPORAL_SERVER         := $(BIN)/temporal-server
TEMPORAL_SERVER_VERSION := $(shell sed -n 's/^require go.temporal.io\/server \(v[^ ]*\).*/\1/p;s/^\tgo.temporal.io\/server \(v[^ ]*\)$$/\1/p' tools/temporal-server/go.mod | head -1)
TEMPORAL_SERVER_CACHE   := $(HOME)/.cache/hookflow/temporal-server-$(TEMPORAL_SERVER_VERSION)

export PATH := $(BIN):$(PATH)

.PHONY: run test bench build lint fuzz reliability temporal temporal-server helm generate clean

build:
	$(GO) build -o $(HOOKFLOW) ./cmd/hookflow

temporal: $(TEMPORAL)

$(TEMPORAL): tools/temporal/go.mod tools/temporal/go.sum
	@mkdir -p $(BIN) $(dir $(TEMPORAL_CACHE))
	@if [ ! -x "$(TEMPORAL_CACHE)" ]; then \
		echo "building the Temporal CLI $(TEMPORAL_CLI) (once, a few minutes)"; \
		cd tools/temporal && $(GO) build -o "$(TEMPORAL_CACHE).tmp" github.com/temporalio/cli/cmd/temporal && mv "$(TEMPORAL_CACHE).tmp" "$(TEMPORAL_CACHE)"; \
	fi
	cp "$(TEMPORAL_CACHE)" $(TEMPORAL)

temporal-server: $(TEMPORAL_SERVER)

# The cache is a directory built under a temporary name and renamed when complete, so an
# interrupted build is never taken for a finished one.
$(TEMPORAL_SERVER): tools/temporal-server/go.mod tools/temporal-server/go.sum
	@mkdir -p $(BIN) $(dir $(TEMPORAL_SERVER_CACHE))
	@if [ ! -x "$(TEMPORAL_SERVER_CACHE)/temporal-server" ]; then \
		echo "building the Temporal server $(TEMPORAL_SERVER_VERSION) and temporal-sql-tool (once, a few minutes)"; \
		rm -rf "$(TEMPORAL_SERVER_CACHE).tmp" && mkdir -p "$(TEMPORAL_SERVER_CACHE).tmp" && \
		cd tools/temporal-server && \
		$(GO) build -o "$(TEMPORAL_SERVER_CACHE).tmp/temporal-sql-tool" go.temporal.io/server/cmd/tools/sql && \
		$(GO) build -o "$(TEMPORAL_SERVER_CACHE).tmp/temporal-server" go.temporal.io/server/cmd/server && \
		cp -R "$$($(GO) list -m -f '{{.Dir}}' go.temporal.io/server)/schema/postgresql/v12" "$(TEMPORAL_SERVER_CACHE).tmp/schema" && \
		chmod -R u+w "$(TEMPORAL_SERVER_CACHE).tmp/schema" && \
		rm -rf "$(TEMPORAL_SERVER_CACHE)" && mv "$(TEMPORAL_SERVER_CACHE).tmp" "$(TEMPORAL_SERVER_CACHE)"; \
	fi
	rm -rf $(BIN)/temporal-server-schema
	cp -R "$(TEMPORAL_SERVER_CACHE)/schema" $(BIN)/temporal-server-schema
	cp "$(TEMPORAL_SERVER_CACHE)/temporal-sql-tool" $(BIN)/temporal-sql-tool
	cp "$(TEMPORAL_SERVER_CACHE)/temporal-server" $(TEMPORAL_SERVER)

helm: $(HELM)

$(HELM): tools/helm/go.mod tools/helm/go.sum
	@mkdir -p $(BIN) $(dir $(HELM_CACHE))
	@if [ ! -x "$(HELM_CACHE)" ]; then \
		echo "building Helm $(HELM_VERSION) (once, a few minutes)"; \
		cd tools/helm && $(GO) build -o "$(HELM_CACHE).tmp" helm.sh/helm/v3/cmd/helm && mv "$(HELM_CACHE).tmp" "$(HELM_CACHE)"; \
	fi
	cp "$(HELM_CACHE)" $(HELM)

run: build $(TEMPORAL)
	./scripts/run.sh

test: $(TEMPORAL) $(HELM) $(TEMPORAL_SERVER) lint
	./scripts/ensure-postgres.sh
	./scripts/ensure-chromium.sh
	./scripts/ensure-node.sh
	@# The TypeScript client's tests (run by e2e/sdk_typescript_test.go) install with npm,
	@# which Debian packages apart from nodejs.
	@command -v npm >/dev/null 2>&1 || ./scripts/apt-install.sh npm
	$(GO) test -p 2 -count=1 -timeout 30m ./...
	cd tools/helm && $(GO) test -count=1 ./...
	$(MAKE) fuzz

# Each fuzz target runs briefly on top of its seed corpus (which every `go test` runs).
# Counted iterations rather than a duration: a time limit that expires while the fuzzer
# minimises a new input fails the run with "context deadline exceeded".
FUZZTIME ?= 50000x
FUZZFLAGS = -run='^$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=100x
fuzz:
	$(GO) test $(FUZZFLAGS) -fuzz='^FuzzMatchEventType$$' .
	$(GO) test $(FUZZFLAGS) -fuzz='^FuzzSubscriptionValidate$$' .
	$(GO) test $(FUZZFLAGS) -fuzz='^FuzzEventInput$$' .
	$(GO) test $(FUZZFLAGS) -fuzz='^FuzzVerify$$' ./signing
	$(GO) test $(FUZZFLAGS) -fuzz='^FuzzVerifyV1a$$' ./signing
	$(GO) test $(FUZZFLAGS) -fuzz='^FuzzForbidden$$' ./egress
	$(GO) test $(FUZZFLAGS) -fuzz='^FuzzDecodeBody$$' ./api

# (p) needs the Temporal server; a run that skips it does not build it.
bench: build $(TEMPORAL) $(if $(findstring -skip-postgres-temporal,$(BENCH_FLAGS)),,$(TEMPORAL_SERVER))
	./scripts/ensure-postgres.sh
	$(GO) run ./bench -report bench/report.md -readme README.md -hookflow $(HOOKFLOW) -temporal-server $(TEMPORAL_SERVER) -profile bench/hookflow-cpu.pprof $(BENCH_FLAGS)

# Runs the fault and security end-to-end tests and writes their tables to docs/ (the
# README's "Reliability and security" section).
reliability: $(TEMPORAL)
	./scripts/ensure-postgres.sh
	HOOKFLOW_RELIABILITY_REPORT=$(CURDIR)/docs/reliability.md $(GO) test -count=1 -run 'Fault|Private|Redirect|RateLimit|Gone' ./e2e
	HOOKFLOW_BAD_INPUTS_REPORT=$(CURDIR)/docs/bad-inputs.md $(GO) test -count=1 -run TestBadInputCatalogue ./api

# Regenerates the Go and TypeScript clients from api/openapi.yaml; their tests fail while
# either is stale.
generate:
	$(GO) generate ./client
	cd sdk/typescript && npm ci --no-audit --no-fund && npm run generate

lint:
	gofmt -l . | (! grep .)
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	$(GO) tool workflowcheck ./...

clean:
	rm -rf $(BIN) .data
