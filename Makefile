# Patrol's one entry point, for people and CI. Every target installs what it needs
# (idempotently, into ignored folders: .venv/, node_modules/, target/).
#
#   make demo    validate rules.toml, synthesize the CDK app (real bundling, cdk-nag),
#                replay the sample events through every rule
#   make test    every test: Rust (unit, integration, end-to-end), CDK, cfn-lint, lints
#   make lint    cargo fmt --check, clippy -D warnings, tsc --noEmit
#   make fmt     format Rust code
#   make bench   pattern-engine, `patrol match` and `patrol replay` (2 GB archive) benchmarks
#   make fuzz    fuzz pattern parsing and matching (nightly)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

ROOT := $(CURDIR)
VENV := $(ROOT)/.venv
export PATH := $(VENV)/bin:$(PATH)
# No AWS account here, and none needed: synth and tests run offline.
export AWS_REGION ?= us-east-1
export AWS_DEFAULT_REGION ?= us-east-1
export AWS_EC2_METADATA_DISABLED := true
export CDK_DISABLE_VERSION_CHECK := true
export CDK_CLI_NOTICES := false
export PATROL_BIN := $(ROOT)/target/debug/patrol
CARGO := cargo
CARGO_FLAGS := --locked
PATROL := $(PATROL_BIN)
MANIFEST ?= rules.toml
# arm64 is the deployment default; hosts whose toolchain cannot add it build x86_64.
ARCH ?= $(shell rustup target list --installed 2>/dev/null | grep -q '^aarch64-unknown-linux-gnu$$' && echo arm64 || echo x86_64)
CDK := npx --no-install cdk
CDK_FLAGS := --no-notices --no-version-reporting --ci -c patrol:architecture=$(ARCH) -c patrol:manifest=$(ROOT)/$(MANIFEST)
BUILD := $(ROOT)/build

.PHONY: help setup setup-rust demo test test-rust test-cdk synth cfn-lint lint fmt build validate bench fuzz clean

help:
	@grep -E '^#   make' Makefile | sed 's/^#   //'

## --- setup (idempotent) ---------------------------------------------------------

setup: $(VENV)/.installed node_modules/.installed setup-rust

$(VENV)/.installed: requirements-dev.txt
	test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/.installed: package-lock.json package.json cdk/package.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup-rust:
	@rustup component add rustfmt clippy >/dev/null 2>&1 || true
	@rustup target list --installed | grep -q '^aarch64-unknown-linux-gnu$$' \
	  || rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1 \
	  || echo "note: the arm64 Rust target is unavailable here; building x86_64 functions instead"

build: setup-rust
	$(CARGO) build $(CARGO_FLAGS) -p patrol-cli -p notify

validate: build
	$(PATROL) --manifest $(MANIFEST) validate

## --- demo ----------------------------------------------------------------------

demo: setup build
	@echo "==> 1/4 patrol validate"
	$(PATROL) --manifest $(MANIFEST) validate
	@echo "==> 2/4 patrol test (every rule's inline tests)"
	$(PATROL) --manifest $(MANIFEST) test
	@echo "==> 3/4 cdk synth (real cargo-lambda bundling, $(ARCH); cdk-nag AwsSolutions checks)"
	$(CDK) synth $(CDK_FLAGS) --quiet
	@echo "    templates: $$(ls cdk.out/*.template.json | tr '\n' ' ')"
	@echo "==> 4/4 patrol replay tests/events (the sample CloudTrail events through every rule)"
	$(PATROL) --manifest $(MANIFEST) replay --format text tests/events

## --- tests ---------------------------------------------------------------------

test: setup build lint test-cdk cfn-lint test-rust

# One real-bundling synth of the default manifest, checked by cdk-nag (inside synth) and cfn-lint.
synth: setup build
	rm -rf $(BUILD)/cdk.out
	$(CDK) synth $(CDK_FLAGS) --quiet -o $(BUILD)/cdk.out

cfn-lint: synth
	cfn-lint --ignore-checks W3005 -- $(BUILD)/cdk.out/*.template.json
	@echo "cfn-lint: $$(ls $(BUILD)/cdk.out/*.template.json | wc -l) templates clean"

test-cdk: setup build
	mkdir -p $(BUILD)
	npm test -w cdk 2>&1 | tee $(BUILD)/vitest.log

# The e2e tests run the real notify binary (built above) against moto from .venv/.
# The last line totals every Rust and CDK test for CI.
test-rust: setup build
	mkdir -p $(BUILD)
	$(CARGO) test $(CARGO_FLAGS) --workspace 2>&1 | tee $(BUILD)/cargo-test.log
	@rust=$$(grep -E '^test result:' $(BUILD)/cargo-test.log | awk '{p+=$$4; f+=$$6} END {print p+0, f+0}'); \
	  cdk=$$(sed 's/\x1b\[[0-9;]*m//g' $(BUILD)/vitest.log 2>/dev/null | grep -E '^ +Tests +' | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || echo 0); \
	  set -- $$rust; echo "total: $$(( $$1 + $${cdk:-0} )) passed, $$2 failed"

## --- benchmarks and fuzzing (not part of `make test`) -------------------------

# Pattern engine vs the quamina crate on the same events (../shared/corpus), then the
# whole `patrol match` process over 200,000 events. PATROL_BENCH_SECS sets time per run.
# Then `patrol replay` over a 2 GiB CloudTrail archive (built once into
# target/bench-data/replay/) on 1 and 2 cores, against the floor (gunzip + parse only).
bench: setup-rust
	$(CARGO) bench $(CARGO_FLAGS) -p patrol-core --bench match
	crates/patrol-core/benches/match-process.sh
	crates/patrol-cli/benches/replay-bench.sh

# Coverage-guided fuzzing of pattern parsing and matching (needs a nightly toolchain).
FUZZ_SECS ?= 300
fuzz:
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	cd fuzz && mkdir -p corpus/pattern_match && cargo +nightly fuzz run pattern_match corpus/pattern_match seeds/pattern_match -- -max_total_time=$(FUZZ_SECS) -max_len=4096

## --- lints ---------------------------------------------------------------------

lint: setup
	$(CARGO) fmt --all --check
	$(CARGO) clippy $(CARGO_FLAGS) --workspace --all-targets -- -D warnings
	npm run typecheck -w cdk

fmt:
	$(CARGO) fmt --all

clean:
	rm -rf $(BUILD) cdk.out
