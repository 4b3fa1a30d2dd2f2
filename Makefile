# Partner Portal — every target installs what it needs and skips what is already there.
#   make run      build the web app and serve the portal at http://127.0.0.1:8080 (SQLite)
#   make test     all tests: Rust (SQLite, then PostgreSQL when reachable), WASM in Chromium, e2e
#   make e2e      the Playwright end-to-end test only
#   make contract the contract as integrators meet it: a generated TypeScript client, and schemathesis
#   make openapi  regenerate openapi/openapi.json from the code
#   make lint     rustfmt and clippy
#   make bench    load /healthz, a key-authenticated read and /keys/verify side by side (oha)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export PATH := $(CURDIR)/e2e/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)

WASM_SPLIT_VERSION := 0.2.4
WASM_BINDGEN_VERSION := $(shell awk '/^name = "wasm-bindgen"$$/{getline; gsub(/"/,"",$$3); print $$3; exit}' Cargo.lock)
PG_URL ?= postgres://postgres@127.0.0.1:5432
# CI sets REQUIRE_POSTGRES=1: then an unreachable PostgreSQL fails the run instead of skipping it.
REQUIRE_POSTGRES ?= 0
TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)

.PHONY: bench mutants tools-bench run web test test-rust test-postgres test-wasm test-openapi e2e contract openapi lint fmt tools-wasm tools-wasm-target tools-browser tools-node tools-contract tools-python tools-system tools-proxy tools-container test-container clean-test-dbs

run: tools-system web
	cargo run --release -p portal-server --bin partner-portal -- serve

# ---------------------------------------------------------------- tools
tools-wasm-target:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

tools-wasm: tools-wasm-target
	@cargo install --list | grep -q "^wasm_split_cli_support v$(WASM_SPLIT_VERSION):" || \
		cargo install wasm_split_cli_support --locked --version $(WASM_SPLIT_VERSION) --features build-binary
	@wasm-bindgen --version 2>/dev/null | grep -q "$(WASM_BINDGEN_VERSION)" || cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION)

tools-node: e2e/node_modules/.installed
e2e/node_modules/.installed: e2e/package.json e2e/package-lock.json
	cd e2e && npm ci --no-audit --no-fund
	@touch $@

# The C libraries the server links: SAML signatures are checked by xmlsec (the XML Security
# Library, on libxml2 and OpenSSL); its Rust bindings are generated at build time (libclang).
SYSTEM_PACKAGES := libxmlsec1-dev libxml2-dev libssl-dev libclang-dev pkg-config
tools-system:
	@dpkg-query -W -f='$${Status}\n' $(SYSTEM_PACKAGES) 2>/dev/null | grep -c '^install ok installed$$' | grep -qx 5 || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES); }

# Real reverse proxies for the API tests (the client address behind a proxy, TLS at the proxy).
# Debian's packages; their services are not started.
PROXY_PACKAGES := nginx-light caddy
tools-proxy:
	@command -v nginx >/dev/null && command -v caddy >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(PROXY_PACKAGES); }

tools-browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }

SCHEMATHESIS_VERSION := 4.32.5
tools-python:
	@python3 -c 'import aiosmtpd, openapi_spec_validator, dnslib' 2>/dev/null && \
		python3 -m schemathesis.cli --version 2>/dev/null | grep -q 'version $(SCHEMATHESIS_VERSION)$$' || \
		python3 -m pip install --quiet 'aiosmtpd==1.4.6' 'openapi-spec-validator==0.9.0' 'schemathesis==$(SCHEMATHESIS_VERSION)' 'dnslib==0.9.26'

tools-contract: contract/ts/node_modules/.installed
contract/ts/node_modules/.installed: contract/ts/package.json contract/ts/package-lock.json
	cd contract/ts && npm ci --no-audit --no-fund
	@touch $@

# ---------------------------------------------------------------- build
# The web app, split in two (sign-in and the screens behind it) and precompressed:
# frontend/tools/build.mjs says how.
web: tools-wasm tools-node
	node frontend/tools/build.mjs
	node frontend/tools/precompress.mjs frontend/dist

openapi: tools-system
	cargo run --quiet -p portal-server --bin partner-portal -- openapi > openapi/openapi.json
	@echo "openapi/openapi.json regenerated"

# ---------------------------------------------------------------- tests
test: tools-python test-rust test-postgres test-openapi contract test-container test-wasm e2e

# The API tests run the real OpenID provider (oidc-provider, in e2e/node_modules).
test-rust: tools-node tools-system tools-proxy
	@echo "== Rust tests on SQLite"
	cargo test --workspace --exclude portal-frontend

test-postgres: tools-node tools-system tools-proxy clean-test-dbs
	@if psql "$(PG_URL)/postgres" -Atqc 'select 1' >/dev/null 2>&1; then \
		echo "== Rust integration tests on PostgreSQL at $(PG_URL)"; \
		PORTAL_TEST_DATABASE=postgres PORTAL_TEST_POSTGRES_URL="$(PG_URL)" cargo test -p portal-server --test api; \
	elif [ "$(REQUIRE_POSTGRES)" = 1 ]; then \
		echo "PostgreSQL is not reachable at $(PG_URL), and REQUIRE_POSTGRES=1"; exit 1; \
	else \
		echo "== SKIPPED the PostgreSQL run: nothing answers at $(PG_URL) (set PG_URL, or start PostgreSQL)"; \
	fi

# Databases left behind by an interrupted PostgreSQL run.
clean-test-dbs:
	@psql "$(PG_URL)/postgres" -Atqc "select datname from pg_database where datname like 'pp_test_%'" 2>/dev/null | \
		while read -r db; do psql "$(PG_URL)/postgres" -qc "drop database if exists $$db with (force)"; done || true

test-openapi: tools-python
	@echo "== openapi/openapi.json is valid OpenAPI 3.1"
	python3 -m openapi_spec_validator openapi/openapi.json

test-wasm: tools-wasm tools-browser
	@echo "== Web app component tests in headless Chromium"
	CHROMEDRIVER=/usr/bin/chromedriver cargo test --target wasm32-unknown-unknown -p portal-frontend

e2e: web tools-node tools-browser tools-python tools-system
	@echo "== End-to-end test in Chromium against the real server"
	cargo build -p portal-server --bin partner-portal
	cd e2e && PP_BIN="$(TARGET_DIR)/debug/partner-portal" npx playwright test

# Against the release build, as integrators meet it: TypeScript types generated from the served
# document with openapi-typescript, a strict tsc of the smoke scenario and its run; then
# schemathesis (all checks and phases) as a signed-in user and with an API key, each for
# SCHEMATHESIS_SECONDS. Zero failures is the bar; each failure prints the curl that reproduces it.
SCHEMATHESIS_SECONDS ?= 60
contract: tools-python tools-contract tools-system
	@echo "== Contract: generated TypeScript client and schemathesis against the release server"
	cargo build --release -p portal-server --bin partner-portal
	PP_BIN="$(TARGET_DIR)/release/partner-portal" PP_SCHEMATHESIS_SECONDS=$(SCHEMATHESIS_SECONDS) \
		PP_CONTRACT_REPORTS="$(TARGET_DIR)/contract-reports" python3 contract/run.py

# The container image (Dockerfile) built and started with podman, the release binary and the web
# app put in (ops/test-container.sh says why not the build stage).
CONTAINER_PACKAGES := podman runc debootstrap
tools-container:
	@command -v podman >/dev/null && command -v runc >/dev/null && command -v debootstrap >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(CONTAINER_PACKAGES); }

test-container: tools-container tools-system web
	@echo "== Container image: build, start, health check, a volume kept across containers"
	cargo build --release -p portal-server --bin partner-portal
	ops/test-container.sh "$(TARGET_DIR)/release/partner-portal" frontend/dist

# ---------------------------------------------------------------- benchmark
OHA_VERSION := 1.16.0
tools-bench:
	@oha --version 2>/dev/null | grep -q "$(OHA_VERSION)" || cargo install oha --locked --version $(OHA_VERSION)

bench: tools-bench tools-system
	cargo build --release -p portal-server --bin partner-portal --example bench
	PP_BIN="$(TARGET_DIR)/release/partner-portal" BENCH_OUT="$(TARGET_DIR)/bench.md" "$(TARGET_DIR)/release/examples/bench"

# Weakens each rule of the policy in turn; the policy tests must catch every one (issue 24).
mutants:
	scripts/policy-mutations.sh

# ---------------------------------------------------------------- hygiene
# The web app is linted for its own target, which a fresh machine has yet to install.
lint: tools-wasm-target tools-system
	cargo fmt --all -- --check
	cargo clippy --workspace --exclude portal-frontend --all-targets -- -D warnings
	cargo clippy -p portal-frontend --target wasm32-unknown-unknown --all-targets -- -D warnings

fmt:
	cargo fmt --all
