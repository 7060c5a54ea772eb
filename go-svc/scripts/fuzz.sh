#!/usr/bin/env bash
# Runs every native Go fuzz target under internal/ for DURATION each (a Go
# duration such as 60s or 10m, or a count such as 5000x), one after another.
# A finding is written to the package's testdata/fuzz/<Target>/, where plain
# `go test` replays it from then on; the script then exits 1.
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 DURATION" >&2
  exit 2
fi
duration="$1"
cd "$(dirname "${BASH_SOURCE[0]}")/.."

failed=()
for pkg in $(go list ./internal/...); do
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    echo "fuzz: $target ($pkg) for $duration"
    # Minimizing each new corpus entry for up to go's default 60s stalled
    # every worker for half of a 60s run; a finding is still minimized.
    if go test -run='^$' -fuzz="^${target}\$" -fuzztime="$duration" -fuzzminimizetime=5s "$pkg"; then
      echo "fuzz: $target ok"
    else
      echo "fuzz: $target FAILED; the input is under $(go list -f '{{.Dir}}' "$pkg")/testdata/fuzz/$target/"
      failed+=("$target")
    fi
  done
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: findings in ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: every target ran $duration without a finding"
