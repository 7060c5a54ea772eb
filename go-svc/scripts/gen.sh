#!/usr/bin/env bash
# Regenerates gen/lab/v1/*.pb.go from ../proto/lab/v1/lab.proto with the
# plugin versions pinned by the `tool` lines in go.mod.
# Usage: scripts/gen.sh [OUT_DIR]   (OUT_DIR defaults to go-svc/gen)
set -euo pipefail

svc_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
proto_dir="$(cd "$svc_dir/../proto" && pwd)"
out_dir="${1:-$svc_dir/gen}"
protoc="${PROTOC:-protoc}"

bin_dir="$(mktemp -d)"
trap 'rm -rf "$bin_dir"' EXIT

# Build the pinned plugins; go.mod's `tool` directives fix their versions.
(cd "$svc_dir" && go build -o "$bin_dir/protoc-gen-go" google.golang.org/protobuf/cmd/protoc-gen-go)
(cd "$svc_dir" && go build -o "$bin_dir/protoc-gen-go-grpc" google.golang.org/grpc/cmd/protoc-gen-go-grpc)

mkdir -p "$out_dir"
"$protoc" \
  -I "$proto_dir" \
  --plugin=protoc-gen-go="$bin_dir/protoc-gen-go" \
  --plugin=protoc-gen-go-grpc="$bin_dir/protoc-gen-go-grpc" \
  --go_out="$out_dir" --go_opt=paths=source_relative \
  --go-grpc_out="$out_dir" --go-grpc_opt=paths=source_relative \
  lab/v1/lab.proto
