#!/usr/bin/env bash
# demo.sh — `make demo`: train the profiler in C on a synthetic data set and
# profile held-out influencers.
#
#  1. examples/make_dataset.py: 56 training influencers and 24 held-out ones
#     over the paper's 8 topics (posts mostly on topic, some product / other /
#     off-topic; images with per-category colours, shapes and textures;
#     captions with topic words, hashtags, emoji, some other languages).
#  2. examples/make_demo_model.py: a seeded UNTRAINED bundle: small BERT
#     (2 layers, hidden 128), the full Inception-v3 trunk with random weights
#     (BatchNorm statistics from the training images) at a reduced input size
#     (IPF_DEMO_CROP, default 75 px) so the 2-core demo stays short, random heads.
#  3. ipf train: the encoders stay frozen in the first three models (their
#     features are computed once and cached); the heads (post encoder, attention, both heads) are trained with
#     Adam, dropout 0.5, the post loss weighted 1, features standardised (random
#     encoders give badly scaled features; the standardisation is folded into
#     the saved weights).  Four models: attention pooling with 20 sampled
#     posts per influencer, mean pooling, all posts, and attention with 20 posts
#     plus Inception's top two blocks (Mixed_7b, 7c) fine-tuned (the paper's setting).
#  4. Each trained bundle is evaluated on the held-out influencers and the
#     results are printed like the paper's Tables 1 and 2; then `ipf profile`
#     shows two held-out influencers' profiles.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${B:-build}
OUT=${IPF_DEMO_OUT:-demo-out}
CROP=${IPF_DEMO_CROP:-75}
EPOCHS=${IPF_DEMO_EPOCHS:-20}
PY=/usr/bin/python3
export LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# OpenMP threads that sleep instead of spinning while they wait: on a busy
# (shared) machine spinning made feature extraction ~15x slower.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
t_start=$(date +%s.%N)
elapsed() { awk -v s="$t_start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.0f s", e - s }'; }

stamp="$OUT/.stamp-$CROP"
if [ ! -f "$stamp" ] || [ examples/make_dataset.py -nt "$stamp" ] || [ examples/make_demo_model.py -nt "$stamp" ]; then
  rm -rf "$OUT"
  echo "== data: 56 training and 24 held-out influencers ($OUT/train, $OUT/test)"
  $PY examples/make_dataset.py --out "$OUT/train" --influencers 56 --posts 10 --seed 0
  $PY examples/make_dataset.py --out "$OUT/test" --influencers 24 --posts 10 --seed 1
  echo "== model: seeded untrained bundle ($OUT/model; small BERT, Inception-v3 at $CROP px)"
  $PY examples/make_demo_model.py "$OUT/model" --manifest "$OUT/train/manifest.jsonl" --crop "$CROP"
  touch "$stamp"
fi
echo "   [$(elapsed)]"

common=(--data "$OUT/train/manifest.jsonl" --feature-cache "$OUT/train/features.bin" --epochs "$EPOCHS"
        --standardize --val-fraction 0.15 --batch 8 --seed 1)
train() { # name, extra options...
  local name=$1; shift
  echo "== ipf train: $name  (metrics per epoch: $OUT/$name.train.jsonl)"
  "$B/ipf" train --model "$OUT/model" --out "$OUT/$name" "${common[@]}" "$@" > "$OUT/$name.train.jsonl"
  tail -n 1 "$OUT/$name.train.jsonl" | $PY -c 'import json,sys; m=json.loads(sys.stdin.read()); print("   epoch %d: training loss %.3f; validation (8 influencers): influencer accuracy %.2f, post accuracy %.2f" % (m["epoch"], m["train_loss"], m["influencer_accuracy"], m["post_accuracy"]))'
}
evaluate() { # name, extra options...
  local name=$1; shift
  "$B/ipf" train --model "$OUT/$name" --data "$OUT/test/manifest.jsonl" --feature-cache "$OUT/test/features.bin" \
    --epochs 0 --val-fraction 0 --quiet "$@" > "$OUT/$name.test.json"
}
train attention-20 --posts 20 --pooling attention
train mean-20 --posts 20 --pooling mean --quiet
train attention-all --posts 0 --pooling attention --quiet
train attention-20-ft --posts 20 --pooling attention --inception-blocks 2 --quiet
echo "== evaluating on the held-out influencers ($OUT/test)"
evaluate attention-20 --eval-posts 20
evaluate mean-20 --eval-posts 20
evaluate attention-all --eval-posts 0
evaluate attention-20-ft --eval-posts 20
echo "   [$(elapsed)]"
$PY examples/demo_report.py "attention,20=$OUT/attention-20.test.json" "mean,20=$OUT/mean-20.test.json" \
  "attention,all=$OUT/attention-all.test.json" "att,20,ft-7bc=$OUT/attention-20-ft.test.json"

echo
echo "== ipf profile --summary: two held-out influencers with the trained model"
grep -E '"influencer_00[01]"' "$OUT/test/manifest.jsonl" > "$OUT/test/two.jsonl"
"$B/ipf" profile --model "$OUT/attention-20" --summary "$OUT/test/two.jsonl"
echo
echo "demo finished in $(elapsed) (models in $OUT/attention-20, $OUT/mean-20, $OUT/attention-all, $OUT/attention-20-ft)"
