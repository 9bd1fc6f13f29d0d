#!/usr/bin/env bash
# Python binding tests (bindings/python/tests), once with numpy and once
# without (IPF_PY_NO_NUMPY=1: results as lists).  Uses Debian's python3.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${B:-build}
export B IPF_LIBRARY="$PWD/$B/libinfluencer_profiler.so.0"
export IPF_GOLDEN_DIR=${IPF_GOLDEN_DIR:-$PWD/$B/goldens}
export LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export PYTHONDONTWRITEBYTECODE=1
cd bindings/python/tests
echo "python binding: with numpy"
/usr/bin/python3 -m unittest -q "$@"
echo "python binding: without numpy"
IPF_PY_NO_NUMPY=1 /usr/bin/python3 -m unittest -q "$@"
