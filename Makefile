# IMAPCopy — build, run and test. The two commands a newcomer needs:
#   make run    install what is missing, build the release, serve http://127.0.0.1:3000
#   make test   install what is missing, run every Rust test and every Playwright spec
# Nothing here downloads anything but packages from crates.io, npm and Debian.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
CARGO ?= cargo
WASM_BINDGEN_VERSION := 0.2.130
SITE := target/site
PKG := $(SITE)/pkg
WASM_TARGET := wasm32-unknown-unknown
# Cargo's output directory (CARGO_TARGET_DIR when set, e.g. a worktree sharing a warm target).
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
WASM_OUT := $(TARGET_DIR)/$(WASM_TARGET)/wasm-release/app.wasm
# The WASM bundle's budget, gzip bytes (issue 15: 300 KB, decimal like its 446 KB baseline of
# 445,864 bytes): `make site` fails above it.
WASM_MAX_GZIP := 300000
# -Oz, after flattening and re-running the relooper: about 5 KB gzip less than -Oz alone.
WASM_OPT_PASSES := --flatten --rereloop -Oz -Oz
APT_BUILD :=
APT_TEST := dovecot-imapd chromium isync python3-aiosmtpd openssl
export PATH := $(HOME)/.cargo/bin:$(PATH)

# Prints how long a stage took: $(call stage,name,command)
define stage
	@start=$$(date +%s); echo "==> $(1)"; $(2); echo "==> $(1): $$(( $$(date +%s) - start )) s"
endef

.PHONY: help
help:
	@echo "make run      build (release) and serve http://127.0.0.1:3000 with data in ./data"
	@echo "make test     every Rust test and every Playwright spec (installs what is missing)"
	@echo "make build    release server binary target/release/imapcopy and the site in $(SITE)"
	@echo "make lint     rustfmt check and clippy"
	@echo "make bench    imapcopy vs mbsync, 2k and 10k messages, 0/40/100 ms round trip (bench/)"

# ---------------------------------------------------------------- set-up (idempotent)
.PHONY: deps-build deps-test
deps-build:
	@command -v cargo >/dev/null || { echo "Rust (rustup) is required: https://rustup.rs"; exit 1; }
	@rustup target list --installed | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)
	@if [ "$$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $(WASM_BINDGEN_VERSION)" ]; then \
	  echo "installing wasm-bindgen-cli $(WASM_BINDGEN_VERSION) (about 3 minutes)"; \
	  $(CARGO) install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION) --force; fi
	@command -v npm >/dev/null || { $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends nodejs npm; }
	@[ -x node_modules/.bin/wasm-opt ] || npm ci --no-audit --no-fund

deps-test: deps-build
	@missing=""; for p in $(APT_TEST); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -q; \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $$missing; fi
	@[ -d end2end/node_modules/@playwright/test ] || (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
	@[ -d server/testkit/oauth2/node_modules/oidc-provider ] || (cd server/testkit/oauth2 && npm ci --no-audit --no-fund)

# ---------------------------------------------------------------- build
.PHONY: build build-server build-wasm site
build: deps-build build-server build-wasm site

build-server:
	$(CARGO) build -p imapcopy --release --locked

build-wasm:
	$(CARGO) build -p app --lib --target $(WASM_TARGET) --profile wasm-release --no-default-features --features hydrate --locked
	@mkdir -p $(PKG)
	wasm-bindgen --target web --no-typescript --out-dir $(PKG) --out-name imapcopy $(WASM_OUT)
	node_modules/.bin/wasm-opt $(WASM_OPT_PASSES) --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue -o $(PKG)/imapcopy_bg.wasm $(PKG)/imapcopy_bg.wasm

site:
	@mkdir -p $(PKG)
	cp style/main.css $(PKG)/imapcopy.css
	cp -r public/. $(SITE)/
	@raw=$$(stat -c %s $(PKG)/imapcopy_bg.wasm); gz=$$(gzip -9c $(PKG)/imapcopy_bg.wasm | wc -c); \
	printf 'wasm: %s bytes raw, %s bytes gzip (at most %s)\n' "$$raw" "$$gz" "$(WASM_MAX_GZIP)"; \
	if [ "$$gz" -gt $(WASM_MAX_GZIP) ]; then \
	  echo "the WASM bundle is over its budget: see ARCHITECTURE.md, 'The WASM bundle'"; exit 1; fi

# ---------------------------------------------------------------- run
.PHONY: run
run: build
	target/release/imapcopy serve --data-dir data --site-root $(SITE)

# ---------------------------------------------------------------- test
.PHONY: test test-rust test-e2e versions
test: deps-test
	$(call stage,lint (rustfmt + clippy),$(MAKE) --no-print-directory lint)
	$(call stage,build (release server + site),$(MAKE) --no-print-directory build-server build-wasm site)
	$(call stage,rust tests,$(MAKE) --no-print-directory test-rust)
	$(call stage,playwright,$(MAKE) --no-print-directory test-e2e)

# `app` is tested with ssr only: building it with ssr and hydrate together is a mix never shipped.
test-rust:
	$(CARGO) test --locked -p mailcopy -p testkit -p imapcopy
	$(CARGO) test --locked -p app --features ssr --lib

versions:
	@echo "chromium: $$(chromium --version 2>/dev/null || echo missing)"
	@echo "playwright: $$(cd end2end && npx --no-install playwright --version)"
	@echo "dovecot: $$(dovecot --version 2>/dev/null || echo missing)"

# The harness binary (target/debug/testkit) comes from the same build as the Rust tests (same
# feature set: no rebuild when `test-rust` ran first).
test-e2e: versions
	$(CARGO) test --locked -p mailcopy -p testkit -p imapcopy --no-run
	cd end2end && npx --no-install playwright test

# ---------------------------------------------------------------- benchmark (not part of test)
# imapcopy and mbsync side by side: 2,000 and 10,000 messages, loopback and through the delay
# proxy at 0, 40 and 100 ms round trip per side (bench/README.md). About 12 minutes.
.PHONY: bench
bench: deps-test
	@dpkg -s time >/dev/null 2>&1 || { $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends time; }
	$(CARGO) build --locked -p imapcopy --release
	$(CARGO) build --locked -p testkit --bin testkit
	bench/matrix.sh

# ---------------------------------------------------------------- quality
.PHONY: lint fmt
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked -p mailcopy -p testkit -p imapcopy --all-targets -- -D warnings
	$(CARGO) clippy --locked -p app --features ssr --all-targets -- -D warnings
	$(CARGO) clippy --locked -p app --features hydrate --target $(WASM_TARGET) -- -D warnings

fmt:
	$(CARGO) fmt --all

.PHONY: clean
clean:
	rm -rf $(SITE)
