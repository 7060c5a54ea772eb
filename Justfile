# The front door of the lab. `just` lists the recipes.

set shell := ["bash", "-euo", "pipefail", "-c"]

cargo := env_var_or_default("CARGO", "cargo")
go := env_var_or_default("GO", "go")
harness := justfile_directory() / "target/release/harness"

# List the recipes.
default:
    @just --list --unsorted

## Main jobs

# Verifies both services, runs every contract call in interleaved repetitions, times startup,
# measures images, and writes reports/<run-id>/{report.md,index.html,plots/,results.json}.
# The whole comparison, quick suite (scenarios/suites/quick.toml, about 5 min): reports/latest/index.html
[group('main')]
bench *flags="": build
    {{harness}} bench scenarios/suites/quick.toml --no-build {{flags}}

# Longer runs, 5 repetitions, every scenario, and a capacity sweep.
# What CI publishes: the full suite (scenarios/suites/full.toml, about 40 minutes).
[group('main')]
bench-full *flags="": build
    {{harness}} bench scenarios/suites/full.toml --no-build {{flags}}

# Then `harness stability` on the three: exit 1 if a headline verdict differs, two intervals do not
# overlap, or more than 1 run in 50 was left out. Tells whether this machine's verdicts can be trusted.
# The quick suite 3 times in a row (about 18 minutes), into reports/stability-<UTC time>/run-{1,2,3}.
[group('main')]
bench-stability *flags="": build
    #!/usr/bin/env bash
    set -euo pipefail
    dir=reports/stability-$(date -u +%Y%m%dT%H%M%SZ)
    for i in 1 2 3; do
        {{harness}} bench scenarios/suites/quick.toml --no-build --out "$dir/run-$i" {{flags}}
    done
    {{harness}} stability "$dir"/run-1 "$dir"/run-2 "$dir"/run-3 --markdown "$dir/stability.md"

# Then checks the report it wrote: files, plots, re-rendering, compare against itself, the Pages index.
# The whole bench pipeline end to end with 1-second scenarios (scenarios/suites/smoke.toml).
[group('main')]
bench-smoke:
    #!/usr/bin/env bash
    set -euo pipefail
    out=target/bench-smoke/run
    rm -rf target/bench-smoke
    {{harness}} bench scenarios/suites/smoke.toml --no-build --out "$out"
    for f in results.json report.md index.html summary.json; do
        [ -s "$out/$f" ] || { echo "bench-smoke: $out/$f missing or empty" >&2; exit 1; }
    done
    n=$(ls "$out"/plots/*.svg | wc -l)
    [ "$n" -ge 8 ] || { echo "bench-smoke: expected at least 8 plots, found $n" >&2; exit 1; }
    [ "$(readlink target/bench-smoke/latest)" = run ] || { echo "bench-smoke: latest does not point to the run" >&2; exit 1; }
    if grep -qE '(src|href)="(https?:)?//' "$out/index.html"; then
        echo "bench-smoke: index.html refers to the network" >&2; exit 1
    fi
    {{harness}} report "$out/results.json" --out target/bench-smoke/again
    {{harness}} compare "$out/results.json" "$out/results.json" --fail-on-regression > /dev/null
    mkdir -p target/bench-smoke/site/runs && cp -R "$out" target/bench-smoke/site/runs/run
    {{harness}} pages target/bench-smoke/site
    echo "bench-smoke: ok ($n plots)"

# Every check CI runs: formatting, lints, unit and integration tests, generated-code drift, conformance, scenarios.
[group('main')]
test: build lint rs-test go-test gen-check verify scenarios-check drain-check probes-check bench-smoke

## Load

# Run scenarios (files or directories) against a target: just run scenarios/get-user-http1.toml rust
[group('load')]
run scenario target="all" *flags="":
    {{harness}} run {{scenario}} --target {{target}} {{flags}}

# Validate every shipped scenario, then run each against both services at a modest rate; any error fails.
[group('load')]
scenarios-check:
    {{harness}} validate scenarios
    {{harness}} run scenarios --target all --no-build --rate 100 --duration 2s --warmup 0s --after-wait 1s --check --no-spectrum --quiet

# SIGTERM to each service under 1,000 requests/s, over HTTP/1.1 and gRPC: no accepted request may fail.
[group('load')]
drain-check:
    {{harness}} run scenarios/drain.toml scenarios/drain-grpc.toml --target all --no-build --check --quiet --out target/drain-check

# With podman or docker present, every image figure must be measured.
# Startup time of both services (20 fresh processes each), then binary and image sizes.
[group('load')]
probes-check:
    #!/usr/bin/env bash
    set -euo pipefail
    out=target/probes-check
    rm -rf "$out"
    {{harness}} startup --target all -n 20 --no-build --out "$out"
    {{harness}} images --target all --out "$out"
    if command -v podman >/dev/null || command -v docker >/dev/null; then
        n=$(grep -c '"image_compressed_bytes": [0-9]' "$out/results.json" || true)
        [ "$n" -eq 2 ] || { echo "probes-check: expected 2 measured images in $out/results.json, found $n" >&2; exit 1; }
    fi

# The load generator against wrk, and its rate accuracy and memory (needs wrk: Debian package wrk).
[group('load')]
loadgen-bench *flags="": build
    @command -v wrk >/dev/null || { echo "loadgen-bench needs wrk (Debian: apt-get install wrk)" >&2; exit 1; }
    {{harness}} loadgen-bench {{flags}}

## Build

# Release builds of rust-svc, go-svc (target/go-svc/go-svc), their static builds for images, and the harness.
[group('build')]
build:
    {{cargo}} build --release -p harness
    {{harness}} build --target all --static

# Start each service on free ports and run the conformance suite against it.
[group('build')]
verify target="all":
    {{harness}} verify --target {{target}}

# Binary sizes (as built, stripped, static) and FROM-scratch images with podman or docker: just images --out reports/images
[group('build')]
images *flags="": build
    {{harness}} images {{flags}}

## Checks

# Go targets run one after another, then the Rust ones (the first AddressSanitizer build takes minutes).
# Fuzz both services' request decoding and validation, SECONDS per target: go test -fuzz and cargo-fuzz.
[group('checks')]
fuzz seconds="600":
    command -v cargo-fuzz >/dev/null || {{cargo}} install cargo-fuzz --locked
    go-svc/scripts/fuzz.sh {{seconds}}s
    rust-svc/scripts/fuzz.sh {{seconds}}

# Format Rust and Go sources in place.
[group('checks')]
fmt:
    {{cargo}} fmt --all
    cd go-svc && gofmt -w cmd internal

# cargo fmt --check, clippy -D warnings, gofmt -l, go vet, actionlint and shellcheck.
[group('checks')]
lint: rs-lint go-lint ci-lint

# cargo fmt --check, clippy -D warnings, and the harness's layering (harness/tests/layers.rs).
[group('checks')]
rs-lint:
    {{cargo}} fmt --all --check
    {{cargo}} clippy --workspace --all-targets -- -D warnings
    {{cargo}} test -p harness --test layers

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

# actionlint on the GitHub workflows (with shellcheck on their run: scripts), and shellcheck on the CI scripts.
[group('checks')]
ci-lint:
    actionlint -color .github/workflows/*.yml
    shellcheck .ci/run go-svc/scripts/*.sh

## Generated code

# Regenerate go-svc/gen/*.pb.go from proto/ with the plugins pinned in go-svc/go.mod.
[group('generated')]
gen:
    go-svc/scripts/gen.sh

# Fail when go-svc/gen differs from what the proto generates.
[group('generated')]
gen-check:
    go-svc/scripts/gen-check.sh
