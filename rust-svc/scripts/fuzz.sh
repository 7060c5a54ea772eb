#!/usr/bin/env bash
# Builds the cargo-fuzz targets in rust-svc/fuzz and runs each for
# DURATION_SECONDS. Exits 1 if any target finds a failing input (kept in
# rust-svc/fuzz/artifacts/TARGET/), 2 for bad usage.
#
# Usage: scripts/fuzz.sh DURATION_SECONDS [TARGET...]   (default: every target)
#   FUZZ_SANITIZER=address|none   (default: address)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). On stable Rust,
# RUSTC_BOOTSTRAP=1 lets rustc accept the -Z flags cargo-fuzz passes.
# New corpus entries go to fuzz/corpus/TARGET (ignored by git); the committed
# seeds in fuzz/seeds/TARGET are read too.
set -euo pipefail

svc_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
usage="usage: scripts/fuzz.sh DURATION_SECONDS [TARGET...]"
duration="${1:-}"
if [[ ! $duration =~ ^[1-9][0-9]*$ ]]; then
  echo "$usage" >&2
  exit 2
fi
shift
sanitizer="${FUZZ_SANITIZER:-address}"

export RUSTC_BOOTSTRAP=1
cd "$svc_dir"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
fi

cargo fuzz build --sanitizer "$sanitizer"

failed=()
for target in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$target"
  corpora=("fuzz/corpus/$target")
  if [ -d "fuzz/seeds/$target" ]; then
    corpora+=("fuzz/seeds/$target")
  fi
  echo "fuzz.sh: $target for ${duration}s" >&2
  if ! cargo fuzz run --sanitizer "$sanitizer" "$target" "${corpora[@]}" -- \
    -max_total_time="$duration" -print_final_stats=1; then
    failed+=("$target")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: failing inputs found by: ${failed[*]} (see fuzz/artifacts/)" >&2
  exit 1
fi
echo "fuzz.sh: no findings in ${targets[*]} (${duration}s each)" >&2
