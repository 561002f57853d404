# Two commands (see README):
#   make synth   create the environment, then `cdk synth` (-> cdk.out/) and `cdk8s synth` (-> manifests/)
#   make test    create the environment, build the upstream checks (Go), run the whole test suite
# Everything runs from the project's virtualenv (.venv) and node_modules: no global tools.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(CURDIR)/node_modules/.bin:$(PATH)
# Keep CDK and cdk8s offline and quiet: no version checks, no telemetry, no notices.
export CDK_DISABLE_VERSION_CHECK := true
export CDK_CLI_TELEMETRY := false

PYTEST_ARGS ?=

.PHONY: setup setup-dev upstream upstream-tests debian-packages synth cdk-synth cdk8s-synth test test-fast lint clean

STEP := scripts/step.sh
UV := scripts/uv.sh pip install --quiet --python $(BIN)/python
UV_VERSION := $(shell sed -n 's/^uv==//p' requirements.txt)

# What `make synth` needs: the runtime packages (requirements.txt) and the pinned CLIs. The
# tests' and linters' packages (requirements-dev.txt) come with `make test`/`make lint` only.
setup: $(VENV)/.runtime node_modules/.installed

setup-dev: setup $(VENV)/.dev

$(VENV)/.runtime: requirements.txt pyproject.toml scripts/link_node.py
	@$(STEP) "Python virtualenv with uv $(UV_VERSION) (1/4)" \
		scripts/uv.sh venv --quiet --allow-existing --python $(PYTHON) $(VENV)
	@$(STEP) "Python packages, runtime only (2/4)" $(UV) --only-binary :all: -r requirements.txt
	@$(STEP) "This package, editable, and Node.js 24 links (3/4)" sh -c '$(UV) --no-deps -e . \
		&& $(BIN)/python scripts/link_node.py'
	@touch $@

node_modules/.installed: package.json package-lock.json $(VENV)/.runtime
	@$(STEP) "Node.js CLIs: AWS CDK and cdk8s (4/4)" npm ci --no-fund --no-audit --loglevel=error
	@touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	@$(STEP) "Python packages for the tests and linters" $(UV) -r requirements-dev.txt
	@touch $@

# The two synths are independent: on two cores they run side by side (output kept per target).
synth: setup
	@$(MAKE) --no-print-directory -j2 --output-sync=target cdk-synth cdk8s-synth

cdk-synth: setup
	cdk synth --quiet --no-notices
	@echo "CloudFormation templates written to cdk.out/"

cdk8s-synth: setup
	cdk8s synth --check-upgrade false
	@echo "Kubernetes manifests written to manifests/"

# Karpenter, the API server's validation, Helm and the device plugin's config loader, pinned in
# constructs/eks_gpu_sharing/upstream/go.mod, built once into ~/.cache/eks-gpu-sharing (minutes
# the first time). Only the tests and `eks-gpu-sharing simulate` need it; synth never does.
upstream: setup
	$(BIN)/python -m eks_gpu_sharing.upstream

# The program the test suite runs: the same plus the commands only the tests call
# (testtools_*.go, build tag `testtools`; the wheel and `simulate`'s build leave them out).
upstream-tests: setup
	$(BIN)/python -m eks_gpu_sharing.upstream --test-tools

# The whole suite on both cores (pytest-xdist), after the lint and type checks CI runs.
# Debian's prometheus and promtool for the estimate and monitoring tests (root or sudo).
debian-packages:
	scripts/install_debian_packages.sh

test: setup-dev upstream-tests debian-packages lint
	$(BIN)/python -m pytest -n auto $(PYTEST_ARGS)

# The quick loop: everything but the tests marked slow (whole CDK app synths, doc examples).
test-fast: setup-dev upstream-tests debian-packages
	$(BIN)/python -m pytest -n auto -m "not slow" $(PYTEST_ARGS)

# Each check says when it starts, every 30 s while it runs and when it ends (scripts/step.sh):
# the first mypy pass and go vet over Kubernetes take minutes on two cores.
GO_VET := GOTOOLCHAIN=auto CGO_ENABLED=0 GOFLAGS=-mod=readonly go vet
lint: setup-dev
	@$(STEP) "Lint: ruff check" $(BIN)/ruff check .
	@$(STEP) "Lint: ruff format --check" $(BIN)/ruff format --check .
	@$(STEP) "Lint: mypy (minutes the first time)" $(BIN)/mypy
	@$(STEP) "Lint: gofmt" sh -c 'test -z "$$(gofmt -l constructs/eks_gpu_sharing/upstream)"'
	@$(STEP) "Lint: go vet (minutes the first time)" sh -c 'cd constructs/eks_gpu_sharing/upstream \
		&& $(GO_VET) . && $(GO_VET) -tags testtools .'

clean:
	rm -rf $(VENV) node_modules cdk.out
