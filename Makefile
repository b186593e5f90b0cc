# ckslab — see README.md. Targets are thin wrappers; the logic lives in Go code and scripts.
SHELL := /bin/bash
GO ?= go
BIN := bin/ckslab
# An execution count, not a duration: a duration races Go 1.26's fuzz coordinator at its deadline on a busy
# machine ("context deadline exceeded" with no failing input; golang/go#75804, fixed in Go 1.27).
FUZZTIME ?= 100000x
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build test test-engine fuzz lint cross install-check bench bench-lab images e2e lab clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/ckslab

test:
	$(GO) test -race -count=1 ./...
	$(MAKE) fuzz

# The unit tests that need a running Docker engine (CKSLAB_TEST_ENGINE=1): the engine probes, the shim, kind's
# provisioning through it, thawing a frozen node. They skip, saying why, without an engine.
test-engine:
	CKSLAB_TEST_ENGINE=1 $(GO) test -count=1 ./internal/...

fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzParseLine$$' -fuzztime=$(FUZZTIME) ./falco
	$(GO) test -run='^$$' -fuzz='^FuzzCheckAnswerFile$$' -fuzztime=$(FUZZTIME) ./grader/answerfile

lint:
	$(GO) vet -tags e2e ./...
	$(GO) run $(STATICCHECK) -tags e2e ./...

# The hosts learners have: ckslab built, and everything vetted, for each OS and architecture (CI runs it).
CROSS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
cross:
	@set -e; for p in $(CROSS); do \
	  echo "== $$p: go build ./cmd/ckslab, go vet ./..."; \
	  GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build -o /dev/null ./cmd/ckslab; \
	  GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) vet ./...; \
	done

# `go install github.com/ckslab/ckslab/cmd/ckslab@VERSION`, as a learner without a clone runs it, from a file
# proxy that holds this repository's HEAD as v0.0.0-ci (hack/modproxy): the binary must report that version.
install-check:
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(GO) run ./hack/modproxy -dir "$$tmp/proxy" -version v0.0.0-ci; \
	GOPROXY="file://$$tmp/proxy,$$($(GO) env GOPROXY)" GONOSUMDB=github.com/ckslab/ckslab GOBIN="$$tmp/bin" \
	  $(GO) install github.com/ckslab/ckslab/cmd/ckslab@v0.0.0-ci; \
	out=$$("$$tmp/bin/ckslab" version); echo "go install ...@v0.0.0-ci: $$out"; \
	case "$$out" in "ckslab v0.0.0-ci "*) ;; *) echo "install-check: ckslab version said '$$out', want v0.0.0-ci" >&2; exit 1;; esac; \
	"$$tmp/bin/ckslab" up --help >/dev/null || { echo "install-check: the installed ckslab up --help failed" >&2; exit 1; }

bench:
	$(GO) test -run='^$$' -bench='ParseSyslog|CheckAnswerFile' -benchtime=5x -benchmem ./falco ./grader/answerfile
	$(GO) test -run='^$$' -bench='^BenchmarkCheck$$' -benchtime=200x -benchmem ./grader/audit
	$(GO) test -run='^$$' -bench='^BenchmarkGrade$$' -benchtime=200x -benchmem ./scenarios/falco-runtime

# The lab's own numbers (up vs bare kind create, reset, grade, memory): RUNS times each; takes a while.
RUNS ?= 3
bench-lab:
	$(GO) run ./hack/benchlab -runs $(RUNS)

images:
	bash images/build.sh

# E2E_LABELS filters specs by label (smoke, lifecycle, grading, falco-standin, audit), e.g. make e2e E2E_LABELS=smoke
E2E_LABELS ?=
# The image set is chosen as make lab chooses it (hack/image-set.sh: CKSLAB_IMAGES, else public when it can be
# pulled, else local, built when missing).
e2e: build
	@bin/ckslab engine start
	mode=$$(bash hack/image-set.sh) && CKSLAB_IMAGES=$$mode $(GO) test -tags e2e ./e2e/ -timeout 60m -count=1 -v -args -ginkgo.v $(if $(E2E_LABELS),-ginkgo.label-filter='$(E2E_LABELS)')

# The README's first command: build ckslab and bring the lab up (public images when they can be pulled,
# else the local set, built first if needed). ARGS go to ckslab up.
lab: build
	@bash hack/lab.sh

clean:
	rm -rf bin _output
