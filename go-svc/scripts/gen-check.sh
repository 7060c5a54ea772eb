#!/usr/bin/env bash
# Fails with a diff when the committed gen/ differs from a fresh generation.
set -euo pipefail

svc_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

"$svc_dir/scripts/gen.sh" "$tmp"
if ! diff -ru "$svc_dir/gen" "$tmp"; then
  echo "gen-check: go-svc/gen is stale; run go-svc/scripts/gen.sh" >&2
  exit 1
fi
echo "gen-check: go-svc/gen is up to date"
