#!/usr/bin/env bash
# Go binding: go vet, go test, and go test -race (goroutines sharing one
# model with a session each).  Offline (GOPROXY=off, no external modules);
# Go's cache and path live under $B/go so nothing is written outside build/.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${B:-build}
ROOT=$PWD
if ! command -v go >/dev/null; then echo "check_51_go: go not installed (golang-go)"; exit 1; fi
export B GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local GOTELEMETRY=off
export GOCACHE=$ROOT/$B/go/cache GOPATH=$ROOT/$B/go/path GOENV=off
export IPF_GOLDEN_DIR=${IPF_GOLDEN_DIR:-$ROOT/$B/goldens}
# The package's #cgo flags point at ../../build; another $B is added here.
export CGO_CFLAGS="-I$ROOT/include" CGO_LDFLAGS="-L$ROOT/$B -Wl,-rpath,$ROOT/$B"
mkdir -p "$GOCACHE" "$GOPATH"
cd bindings/go
echo "go: $(go version)"
test -z "$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
go vet ./...
go test -count=1 ./...
go test -count=1 -race ./...
