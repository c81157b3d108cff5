# Patrol's one entry point, for people and CI. Every target installs what it needs
# (idempotently, into ignored folders: .venv/, node_modules/, target/).
#
#   make demo    validate rules.toml, synthesize the CDK app (real bundling, cdk-nag),
#                replay the sample events through every rule
#   make test    every test: Rust (unit, integration, end-to-end), CDK, cfn-lint, lints
#   make lint    cargo fmt --check, clippy -D warnings, tsc --noEmit
#   make fmt     format Rust code
#   make synth   templates into build/cdk.out (MANIFEST=path, LAMBDA_PROFILE=release|lambda-dev)
#   make bench   pattern engine, `patrol match`, `patrol replay` (2 GB archive), Lambda cold start
#   make fuzz    fuzz every parser: patterns, manifests, templates, webhooks, replay (nightly)

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
# Every step prints its time since the outermost `make` started (scripts/step).
ifndef PATROL_MAKE_START
export PATROL_MAKE_START := $(shell date +%s)
endif
STEP := $(ROOT)/scripts/step
CARGO := cargo
CARGO_FLAGS := --locked
PATROL := $(PATROL_BIN)
MANIFEST ?= rules.toml
# arm64 is the deployment default; hosts whose toolchain cannot add it build x86_64.
ARCH ?= $(shell rustup target list --installed 2>/dev/null | grep -q '^aarch64-unknown-linux-gnu$$' && echo arm64 || echo x86_64)
ARCH_FLAG = $(if $(filter arm64,$(ARCH)),--arm64,--x86-64)
# The functions that `make demo`, `make test` and `make synth` bundle are built with the
# `lambda-dev` profile (Cargo.toml): the same cargo-lambda build as a deployment, minutes
# faster. `cdk deploy` builds `release` (cdk.json's default).
LAMBDA_PROFILE ?= lambda-dev
# One crate per handler; the CDK app bundles each with cargo-lambda.
HANDLERS := $(notdir $(patsubst %/Cargo.toml,%,$(wildcard lambdas/*/Cargo.toml)))
CDK := npx --no-install cdk
CDK_FLAGS = --no-notices --no-version-reporting --ci -c patrol:architecture=$(ARCH) \
  -c patrol:cargoProfile=$(LAMBDA_PROFILE) -c patrol:manifest=$(abspath $(MANIFEST)) \
  -c patrol:allowExampleIds=true
BUILD := $(ROOT)/build

.PHONY: help setup setup-build setup-python setup-node setup-rust first-run-notice demo \
  next-steps test test-rust test-cdk synth functions cfn-lint lint fmt build build-patrol \
  validate bench bench-lambda bench-synth bench-covers fuzz clean

help:
	@grep -E '^#   make' Makefile | sed 's/^#   //'

## --- setup (idempotent) ---------------------------------------------------------

# Everything the tests need; `setup-build` is the part `make demo` needs.
setup: first-run-notice setup-rust $(VENV)/.installed-dev node_modules/.installed
setup-build: first-run-notice setup-rust $(VENV)/.installed-build node_modules/.installed

first-run-notice:
	@if [ ! -x $(PATROL_BIN) ]; then \
	  echo "First run: this installs Python and npm tools into .venv/ and node_modules/ and"; \
	  echo "compiles Patrol and its ~400 crates (host and Lambda builds). On 2 cores that takes"; \
	  echo "several minutes (see the README's quick start for figures); later runs take seconds."; \
	fi

$(VENV)/.installed-build: requirements-build.txt
	@$(STEP) "pip install: cargo-lambda and zig into .venv/" bash -c '\
	  test -x $(VENV)/bin/python || python3 -m venv $(VENV); \
	  $(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-build.txt'
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed-build requirements-dev.txt
	@$(STEP) "pip install: moto and cfn-lint into .venv/" \
	  $(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/.installed: package-lock.json package.json cdk/package.json
	@$(STEP) "npm ci: the CDK app's packages into node_modules/" \
	  npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup-rust:
	@rustup component add rustfmt clippy >/dev/null 2>&1 || true
	@rustup target list --installed | grep -q '^aarch64-unknown-linux-gnu$$' \
	  || rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1 \
	  || echo "note: the arm64 Rust target is unavailable here; building x86_64 functions instead"

## --- builds ----------------------------------------------------------------------

# Host debug builds, in one cargo invocation so that every step shares one feature
# resolution (cargo resolves features per invocation; a different package selection
# rebuilds much of the tree): the CLI, every handler and every test target. The CDK app
# runs `patrol`; the end-to-end tests run `patrol` and the handlers.
build: setup-rust
	@$(STEP) "cargo build: patrol, the handlers and every test (debug)" \
	  $(CARGO) build $(CARGO_FLAGS) --workspace --all-targets

# Only the CLI, for targets that need nothing else (`make demo`, `make validate`).
build-patrol: setup-rust
	@$(STEP) "cargo build: patrol (debug)" $(CARGO) build $(CARGO_FLAGS) -p patrol-cli

# Each handler exactly as the CDK app bundles it (same directory, flags and profile), so
# the bundling inside `cdk synth` finds it built; built here to show cargo's progress.
functions: setup-rust $(VENV)/.installed-build
	@for h in $(HANDLERS); do \
	  $(STEP) "cargo lambda build: $$h ($(ARCH), profile $(LAMBDA_PROFILE))" bash -c "cd lambdas/$$h && \
	    cargo lambda build $(CARGO_FLAGS) --profile $(LAMBDA_PROFILE) $(ARCH_FLAG) --bin $$h \
	      --lambda-dir $(ROOT)/target/lambda-$(LAMBDA_PROFILE)-$(ARCH)"; \
	done

validate: build-patrol
	$(PATROL) --manifest $(MANIFEST) validate

## --- demo ----------------------------------------------------------------------

# The demo synthesizes without building the functions (DEMO_BUNDLING=1 builds them for
# arm64 first, several minutes per handler the first time): the templates and the cdk-nag
# report are the same but for the functions' asset hashes. `make test` synthesizes with
# real bundles, and `cdk deploy` builds the release ones.
DEMO_BUNDLING ?= 0
demo: setup-build build-patrol
	@$(STEP) "patrol validate: $(MANIFEST)" $(PATROL) --manifest $(MANIFEST) validate
	@$(STEP) "patrol test: every rule's inline test events" $(PATROL) --manifest $(MANIFEST) test
	@$(if $(filter 1,$(DEMO_BUNDLING)),$(MAKE) --no-print-directory functions,true)
	@$(STEP) "cdk synth: CloudFormation templates into cdk.out/, cdk-nag AwsSolutions checks$(if $(filter 1,$(DEMO_BUNDLING)),, (function bundling skipped: DEMO_BUNDLING=1 builds them))" \
	  $(CDK) synth $(CDK_FLAGS) $(if $(filter 1,$(DEMO_BUNDLING)),,-c 'patrol:skipBundling=true') --quiet
	@echo "    templates: $$(ls cdk.out/*.template.json | tr '\n' ' ')"
	@$(STEP) "patrol replay: the sample CloudTrail events in tests/events through every rule" \
	  $(PATROL) --manifest $(MANIFEST) replay --format text tests/events
	@$(MAKE) --no-print-directory next-steps

next-steps:
	@echo
	@echo "Next: target/debug/patrol explain tests/events/cloudtrail/stop-logging.json  (which rules match, and why not)"
	@echo "      target/debug/patrol replay path/to/AWSLogs/  (your CloudTrail archive, .json.gz or NDJSON; README: patrol replay)"
	@echo "      npx cdk deploy 'PatrolCentral*', then 'PatrolOrganization*'  (README: Deploying)"

## --- tests ---------------------------------------------------------------------

test: setup build lint cfn-lint test-cdk test-rust

# One real-bundling synth of the manifest, checked by cdk-nag (inside synth) and cfn-lint.
# BUNDLING=0 skips building the functions (any manifest, in seconds).
BUNDLING ?= 1
synth: setup build $(if $(filter 0,$(BUNDLING)),,functions)
	rm -rf $(BUILD)/cdk.out
	@$(STEP) "cdk synth: $(MANIFEST) into build/cdk.out$(if $(filter 0,$(BUNDLING)), (bundling skipped),)" \
	  $(CDK) synth $(CDK_FLAGS) $(if $(filter 0,$(BUNDLING)),-c 'patrol:skipBundling=true',) --quiet -o $(BUILD)/cdk.out

cfn-lint: synth
	@$(STEP) "cfn-lint: every synthesized template" \
	  cfn-lint --ignore-checks W3005 -- $(BUILD)/cdk.out/*.template.json
	@echo "    $$(ls $(BUILD)/cdk.out/*.template.json | wc -l) templates clean"

test-cdk: setup build
	mkdir -p $(BUILD)
	@$(STEP) "vitest: the CDK app's tests" bash -c 'npm test -w cdk 2>&1 | tee $(BUILD)/vitest.log'

# The e2e tests run the real patrol and handler binaries (built above) against moto from
# .venv/. The last line totals every Rust and CDK test for CI.
test-rust: setup build
	mkdir -p $(BUILD)
	@$(STEP) "cargo test: every Rust test (unit, integration, end-to-end against moto)" \
	  bash -c '$(CARGO) test $(CARGO_FLAGS) --workspace 2>&1 | tee $(BUILD)/cargo-test.log'
	@rust=$$(grep -E '^test result:' $(BUILD)/cargo-test.log | awk '{p+=$$4; f+=$$6} END {print p+0, f+0}'); \
	  cdk=$$(sed 's/\x1b\[[0-9;]*m//g' $(BUILD)/vitest.log 2>/dev/null | grep -E '^ +Tests +' | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || echo 0); \
	  set -- $$rust; echo "total: $$(( $$1 + $${cdk:-0} )) passed, $$2 failed"

## --- benchmarks and fuzzing (not part of `make test`) -------------------------

# Pattern engine vs the quamina crate on the same events (../shared/corpus), then the
# whole `patrol match` process over 200,000 events. PATROL_BENCH_SECS sets time per run.
# Then `patrol replay` over a 2 GiB CloudTrail archive (built once into
# target/bench-data/replay/) on 1 and 2 cores, against the floor (gunzip + parse only).
bench: setup-rust bench-lambda bench-synth bench-covers
	$(CARGO) bench $(CARGO_FLAGS) -p patrol-core --bench match
	crates/patrol-core/benches/match-process.sh
	crates/patrol-cli/benches/replay-bench.sh

# Each handler built with `release` (what `cdk deploy` ships) and `lambda-dev` (what the
# demo and tests bundle): size and deflated size of the arm64 bundles, and cold start to the
# first Runtime API poll and peak RSS of the same code built for this host's CPU.
bench-lambda: setup-rust $(VENV)/.installed-build
	$(CARGO) build $(CARGO_FLAGS) --profile release $(addprefix -p ,$(HANDLERS))
	$(CARGO) build $(CARGO_FLAGS) --profile lambda-dev $(addprefix -p ,$(HANDLERS))
	$(MAKE) --no-print-directory functions LAMBDA_PROFILE=release
	$(MAKE) --no-print-directory functions LAMBDA_PROFILE=lambda-dev
	@# The harness only spawns processes and waits on a socket: its own profile does not
	@# matter, and dev reuses the test build.
	$(CARGO) bench $(CARGO_FLAGS) --profile dev -p patrol-tests --bench lambda-cold-start -- $(foreach h,$(HANDLERS),$(foreach p,release lambda-dev,\
	  "$(h) $(p) $(ARCH)=$(ROOT)/target/lambda-$(p)-$(ARCH)/$(h)/bootstrap" "$(h) $(p) host=$(ROOT)/target/$(p)/$(h)"))
	$(CARGO) bench $(CARGO_FLAGS) --profile dev -p patrol-tests --bench lambda-per-event -- \
	  "notify release host=$(ROOT)/target/release/notify" "notify lambda-dev host=$(ROOT)/target/lambda-dev/notify"

# Synth time, largest template and its resources, rules on the central bus and the member
# template's size, for 30, 300 and 1,000 generated rules (bundling skipped).
bench-synth: setup build-patrol
	npx --no-install tsx cdk/bench/synth.ts 30 300 1000 2>/dev/null

# What members forward against what the rules match, over the corpus and the test events.
bench-covers: build-patrol
	$(PATROL) --manifest $(MANIFEST) covers $(ROOT)/../shared/corpus/cloudtrail-records.jsonl tests/events

# Coverage-guided fuzzing (needs a nightly toolchain): each target in turn for FUZZ_SECS
# seconds, with debug assertions, starting from fuzz/seeds/<target> (built from the test
# data by fuzz/seeds/build.py) and the corpus it grew before (fuzz/corpus/, not
# committed). Prints each target's run count; stops at the first crash, whose input is
# in fuzz/artifacts/<target>/ (fuzz/artifacts-notes.md: crashes handed over, and how).
FUZZ_SECS ?= 600
FUZZ_TARGETS ?= pattern_match manifest template_condition webhook replay_read policy
fuzz:
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	@mkdir -p $(BUILD)/fuzz
	@$(STEP) "fuzz seeds from the test data" python3 fuzz/seeds/build.py
	@cd fuzz && for t in $(FUZZ_TARGETS); do \
	  mkdir -p corpus/$$t; \
	  log=$(BUILD)/fuzz/$$t.log; \
	  $(STEP) "cargo fuzz: $$t for $(FUZZ_SECS)s (log: $$log)" bash -c "cargo +nightly fuzz run --debug-assertions $$t corpus/$$t seeds/$$t -- -max_total_time=$(FUZZ_SECS) -timeout=30 > $$log 2>&1" \
	    || { tail -n 60 $$log; exit 1; }; \
	  echo "    $$t: $$(grep -E '^Done [0-9]+ runs' $$log)"; \
	done

## --- lints ---------------------------------------------------------------------

lint: setup
	@$(STEP) "cargo fmt --check" $(CARGO) fmt --all --check
	@$(STEP) "cargo clippy -D warnings (every target)" \
	  $(CARGO) clippy $(CARGO_FLAGS) --workspace --all-targets -- -D warnings
	@$(STEP) "tsc --noEmit: the CDK app" npm run --silent typecheck -w cdk

fmt:
	$(CARGO) fmt --all

clean:
	rm -rf $(BUILD) cdk.out
