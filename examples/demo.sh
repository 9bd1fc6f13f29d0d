#!/usr/bin/env bash
# demo.sh — `make demo`: generate a small sample and a seeded, UNTRAINED
# model bundle (examples/make_sample.py), then profile the sample with
# `ipf profile --summary`.  The numbers only show the pipeline working end to
# end (captions -> BERT, images -> Inception-v3, attention, both heads); with
# random weights the predicted topics are meaningless.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${B:-build}
OUT=${IPF_DEMO_OUT:-demo-out}
PY=/usr/bin/python3
export LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

if [ ! -f "$OUT/.stamp" ] || [ examples/make_sample.py -nt "$OUT/.stamp" ]; then
  echo "== generating the sample and a seeded model bundle in $OUT/ (about 110 MB, once)"
  $PY examples/make_sample.py "$OUT"
  touch "$OUT/.stamp"
fi

echo
echo "== ipf profile --summary $OUT/sample/manifest.jsonl"
echo "   NOTE: the model is UNTRAINED (random weights from fixed seeds, a small 2-layer BERT);"
echo "   its topics and confidences are meaningless.  Train one with 'ipf train' for real results."
echo
start=$(date +%s.%N)
"$B/ipf" profile --model "$OUT/model" --summary "$OUT/sample/manifest.jsonl"
end=$(date +%s.%N)
n=$(grep -c . "$OUT/sample/manifest.jsonl")
awk -v s="$start" -v e="$end" -v n="$n" 'BEGIN { printf "\n%d posts profiled in %.1f s (%.0f ms per post, model load included)\n", n, e - s, 1000 * (e - s) / n }'
echo "full JSON output: $B/ipf profile --model $OUT/model $OUT/sample/manifest.jsonl"
