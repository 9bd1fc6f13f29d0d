#!/usr/bin/env bash
# bench/run.sh — build what the benchmarks need and run them (not part of
# `make check`).  Environment: THREADS (2), BATCHES (1,8), ITERS (10), B (build),
# PASSIVE=1 to make idle worker threads sleep rather than spin in all three
# runtimes (much better on a machine shared with other busy processes).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${B:-build}
THREADS=${THREADS:-2}
BATCHES=${BATCHES:-1,8}
ITERS=${ITERS:-10}
OUT=bench/out
mkdir -p "$OUT"
make -s -j2 all B="$B"
cc -O2 -Iinclude -o "$B/bench_image" bench/bench_image.c -L"$B" -linfluencer_profiler -Wl,-rpath,"$PWD/$B"
if [ ! -d bench/node_modules/onnxruntime-node ]; then
  (cd bench && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-save --no-package-lock onnxruntime-node >/dev/null)
fi
PASSIVE_ARG=()
if [ "${PASSIVE:-0}" = 1 ]; then export OMP_WAIT_POLICY=PASSIVE; PASSIVE_ARG=(--passive); fi
LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 bench/bench_inception.py "$OUT" \
  --threads "$THREADS" --batches "$BATCHES" --iters "$ITERS" "${PASSIVE_ARG[@]}"
# BERT-base text encoder (bench/bench_bert.py; needs the golden from `make gen`).
make -s gen B="$B"
cc -O2 -Iinclude -o "$B/bench_bert" bench/bench_bert.c -L"$B" -linfluencer_profiler -Wl,-rpath,"$PWD/$B"
NODE_PATH="$PWD/bench/node_modules" LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp \
  /usr/bin/python3 bench/bench_bert.py --bert "$B/goldens/bert/bert" --threads "$THREADS" --reps "$ITERS" \
  "${PASSIVE_ARG[@]}" | tee "$OUT/bert.txt"
