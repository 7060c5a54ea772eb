# The front door of the lab. `just` lists the recipes.

set shell := ["bash", "-euo", "pipefail", "-c"]

cargo := env_var_or_default("CARGO", "cargo")
go := env_var_or_default("GO", "go")
harness := justfile_directory() / "target/release/harness"

# List the recipes.
default:
    @just --list --unsorted

## Main jobs

# Build everything and prove both services equivalent (load runs and reports: see README, Status).
[group('main')]
bench: build verify
    @echo "bench: both targets verified. Load scenarios, statistics and reports are not built yet (README, 'Status')."

# Every check CI runs: formatting, lints, unit and integration tests, generated-code drift, conformance.
[group('main')]
test: build lint rs-test go-test gen-check verify

## Build

# Release builds of rust-svc, go-svc (target/go-svc/go-svc) and the harness.
[group('build')]
build:
    {{cargo}} build --release -p harness
    {{harness}} build --target all

# Start each service on free ports and run the conformance suite against it.
[group('build')]
verify target="all":
    {{harness}} verify --target {{target}}

## Checks

# Format Rust and Go sources in place.
[group('checks')]
fmt:
    {{cargo}} fmt --all
    cd go-svc && gofmt -w cmd internal

# cargo fmt --check, clippy -D warnings, gofmt -l and go vet.
[group('checks')]
lint: rs-lint go-lint

# cargo fmt --check and clippy -D warnings.
[group('checks')]
rs-lint:
    {{cargo}} fmt --all --check
    {{cargo}} clippy --workspace --all-targets -- -D warnings

# gofmt -l and go vet.
[group('checks')]
go-lint:
    #!/usr/bin/env bash
    set -euo pipefail
    cd go-svc
    unformatted=$(gofmt -l .)
    if [ -n "$unformatted" ]; then echo "gofmt would change:"; echo "$unformatted"; exit 1; fi
    {{go}} vet ./...

# cargo test for the whole workspace.
[group('checks')]
rs-test:
    {{cargo}} test --workspace

# go test -race for go-svc.
[group('checks')]
go-test:
    cd go-svc && {{go}} test -race ./...

## Generated code

# Regenerate go-svc/gen/*.pb.go from proto/ with the plugins pinned in go-svc/go.mod.
[group('generated')]
gen:
    go-svc/scripts/gen.sh

# Fail when go-svc/gen differs from what the proto generates.
[group('generated')]
gen-check:
    go-svc/scripts/gen-check.sh
