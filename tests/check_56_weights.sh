#!/usr/bin/env bash
# Weights tooling: fetch.sh parses (it needs the internet, so it is not run);
# convert_torchvision.py and make_bundle.py on a seeded local model, the
# bundle loaded by the library through the Python binding (weights/selftest.py).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${B:-build}
bash -n weights/fetch.sh
export IPF_LIBRARY=$PWD/$B/libinfluencer_profiler.so.0 PYTHONDONTWRITEBYTECODE=1
export LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
/usr/bin/python3 weights/selftest.py "$B/weights-test"
