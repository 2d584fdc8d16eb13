# hookflow — `make run` starts everything on a fresh machine, `make test` runs the suite.

GO            ?= go
BIN           := $(CURDIR)/bin
TEMPORAL      := $(BIN)/temporal
HOOKFLOW      := $(BIN)/hookflow
TEMPORAL_CLI  := $(shell sed -n 's/^require github.com\/temporalio\/cli \(v[^ ]*\).*/\1/p;s/^\tgithub.com\/temporalio\/cli \(v[^ ]*\)$$/\1/p' tools/temporal/go.mod | head -1)
# The Temporal CLI takes minutes to compile; one build per version is kept outside the
# checkout so fresh clones on the same machine reuse it.
TEMPORAL_CACHE := $(HOME)/.cache/hookflow/temporal-cli-$(TEMPORAL_CLI)

export PATH := $(BIN):$(PATH)

.PHONY: run test bench build lint temporal clean

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

run: build $(TEMPORAL)
	./scripts/run.sh

test: $(TEMPORAL)
	./scripts/ensure-postgres.sh
	./scripts/ensure-chromium.sh
	$(GO) vet ./...
	$(GO) test -p 2 -count=1 -timeout 30m ./...

bench: build $(TEMPORAL)
	./scripts/ensure-postgres.sh
	$(GO) run ./bench -report bench/report.md

lint:
	gofmt -l . | (! grep .)
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@latest ./...
	$(GO) run go.temporal.io/sdk/contrib/tools/workflowcheck@latest ./...

clean:
	rm -rf $(BIN) .data
