#!/usr/bin/env bash
# check_45_cli_train.sh — `ipf train` end to end on the small golden bundle
# (tests/gen/profiler.py: E=40, X=16, classes cats/dogs/birds, posts a-d)
# with a generated manifest of cached features (no encoders needed):
# per-epoch JSON metrics, a trained bundle that loads and profiles, the
# saved weights evaluating to the last epoch's validation loss, bit-exact
# resume from a checkpoint, gzip manifests, and clear errors (unknown class
# with its line number, fine-tuning without an encoder, non-finite loss).
set -euo pipefail
B=${B:-build}
G=${IPF_GOLDEN_DIR:-$B/goldens}/profiler/small
IPF=$B/ipf
PY=/usr/bin/python3
[ -f "$G/profiler.safetensors" ] || { echo "check_cli_train: FAIL: $G missing (run make gen)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "check_cli_train: FAIL: $*" >&2; exit 1; }

# 24 influencers x 6 posts; features drawn around per-class means
$PY - "$tmp" <<'PY'
import json, sys, numpy as np
out = sys.argv[1]
rng = np.random.default_rng(0)
inf, post = ["cats", "dogs", "birds"], ["a", "b", "c", "d"]
mt, mi = rng.normal(0, 1, (4, 16)), np.abs(rng.normal(0, 1, (4, 40)))
with open(f"{out}/m.jsonl", "w") as f:
    for i in range(24):
        c = i % 3
        for j in range(6):
            pc = c if rng.random() < 0.7 else 3
            line = {"influencer": f"u{i}", "post": f"u{i}/{j}", "caption": None,
                    "text_feature": [round(float(x), 5) for x in mt[pc] + rng.normal(0, 0.8, 16)],
                    "image_feature": [round(float(x), 5) for x in np.abs(mi[pc] + rng.normal(0, 0.8, 40))],
                    "influencer_label": inf[c], "post_label": post[pc] if rng.random() < 0.7 else None}
            f.write(json.dumps(line) + "\n")
PY

opts=(--epochs 4 --seed 3 --batch 4 --posts 4 --lr 3e-3 --val-fraction 0.25)
"$IPF" train --model "$G" --data "$tmp/m.jsonl" --out "$tmp/out" "${opts[@]}" --checkpoint "$tmp/ckA" \
  > "$tmp/a.jsonl" 2> "$tmp/a.err" || { cat "$tmp/a.err" >&2; fail "ipf train exited non-zero"; }
grep -q "wrote $tmp/out" "$tmp/a.err" || fail "no 'wrote' line on stderr"
grep -q "144 posts" "$tmp/a.err" || fail "no data summary on stderr"
[ -f "$tmp/out/profiler.safetensors" ] || fail "no profiler.safetensors in --out"
$PY - "$tmp/a.jsonl" <<'PY' || fail "per-epoch metrics"
import json, sys
ms = [json.loads(l) for l in open(sys.argv[1])]
assert [m["epoch"] for m in ms] == [1, 2, 3, 4], [m["epoch"] for m in ms]
for m in ms:
    for k in ("train_loss", "loss", "influencer_accuracy", "post_accuracy", "influencer_macro_f1", "post_macro_f1"):
        assert k in m and m[k] == m[k], k
    assert set(m["influencer_f1"]) == {"cats", "dogs", "birds"} and set(m["post_f1"]) == {"a", "b", "c", "d"}
assert ms[-1]["train_loss"] < ms[0]["train_loss"], "training loss did not decrease"
assert ms[-1]["n_influencers"] == 6, ms[-1]["n_influencers"]
PY

# the trained bundle loads, profiles, and evaluates to the last epoch's validation loss
"$IPF" profile --model "$tmp/out" "$tmp/m.jsonl" > "$tmp/prof.jsonl" || fail "ipf profile on the trained bundle"
[ "$(grep -c influencer "$tmp/prof.jsonl")" -eq 24 ] || fail "ipf profile: expected 24 influencers"
"$IPF" train --model "$tmp/out" --data "$tmp/m.jsonl" --epochs 0 --seed 3 --val-fraction 0.25 --quiet > "$tmp/e.json" \
  || fail "evaluation-only run"
$PY - "$tmp/a.jsonl" "$tmp/e.json" <<'PY' || fail "saved weights do not reproduce the validation loss"
import json, sys
last = [json.loads(l) for l in open(sys.argv[1])][-1]
ev = json.loads(open(sys.argv[2]).read())
assert abs(ev["loss"] - last["loss"]) <= 1e-5 * abs(last["loss"]) + 1e-6, (ev["loss"], last["loss"])
assert ev["influencer_accuracy"] == last["influencer_accuracy"]
PY

# resume: 2 epochs, then continue to 4 from the checkpoint = 4 straight epochs, bit for bit
"$IPF" train --model "$G" --data "$tmp/m.jsonl" --out "$tmp/outB" --epochs 2 --seed 3 --batch 4 --posts 4 --lr 3e-3 \
  --val-fraction 0.25 --checkpoint "$tmp/ckB" --quiet > /dev/null || fail "2-epoch run"
"$IPF" train --model "$G" --data "$tmp/m.jsonl" --out "$tmp/outB" "${opts[@]}" --checkpoint "$tmp/ckB" --resume \
  > "$tmp/b.jsonl" 2> "$tmp/b.err" || { cat "$tmp/b.err" >&2; fail "resumed run"; }
grep -q "resumed from" "$tmp/b.err" || fail "no 'resumed from' on stderr"
$PY - "$tmp/a.jsonl" "$tmp/b.jsonl" <<'PY' || fail "resumed run differs from the uninterrupted one"
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert [m["epoch"] for m in b] == [3, 4], [m["epoch"] for m in b]
for x, y in zip(a[2:], b):
    x.pop("seconds"); y.pop("seconds")
    assert x == y, (x, y)
PY
cmp -s "$tmp/out/profiler.safetensors" "$tmp/outB/profiler.safetensors" || fail "resumed bundle differs"

# gzip manifests read the same
gzip -c "$tmp/m.jsonl" > "$tmp/m.jsonl.gz"
"$IPF" train --model "$G" --data "$tmp/m.jsonl.gz" --out "$tmp/outC" "${opts[@]}" --quiet > "$tmp/c.jsonl" \
  || fail "gzip manifest"
$PY - "$tmp/a.jsonl" "$tmp/c.jsonl" <<'PY' || fail "gzip manifest gives different results"
import json, sys
a, c = [[json.loads(l) for l in open(p)] for p in sys.argv[1:3]]
for x, y in zip(a, c):
    x.pop("seconds"); y.pop("seconds")
    assert x == y
PY

# errors
set +e
sed '5s/"cats"/"horses"/' "$tmp/m.jsonl" > "$tmp/bad.jsonl"
"$IPF" train --model "$G" --data "$tmp/bad.jsonl" --out "$tmp/x" --quiet > /dev/null 2> "$tmp/err"
[ $? -eq 1 ] && grep -q 'bad.jsonl:5: influencer_label "horses"' "$tmp/err" || { cat "$tmp/err" >&2; fail "unknown class"; }
"$IPF" train --model "$G" --data "$tmp/m.jsonl" --out "$tmp/x" --inception-blocks 2 --quiet > /dev/null 2> "$tmp/err"
[ $? -eq 1 ] && grep -q "has no image encoder" "$tmp/err" || { cat "$tmp/err" >&2; fail "fine-tuning without an encoder"; }
"$IPF" train --model "$G" --data "$tmp/m.jsonl" --out "$tmp/x" --bert-layers 1 --quiet > /dev/null 2> "$tmp/err"
[ $? -eq 1 ] && grep -q "has no text encoder" "$tmp/err" || { cat "$tmp/err" >&2; fail "BERT fine-tuning without BERT"; }
"$IPF" train --model "$G" --out "$tmp/x" > /dev/null 2> "$tmp/err"
[ $? -eq 2 ] || fail "missing --data should exit 2"
"$IPF" train --model "$G" --data "$tmp/m.jsonl" --out "$tmp/x" --lr 1e30 --epochs 5 --checkpoint "$tmp/ckN" --quiet \
  > /dev/null 2> "$tmp/err"
[ $? -eq 1 ] && grep -q "training stopped" "$tmp/err" && grep -q "last good checkpoint" "$tmp/err" \
  || { cat "$tmp/err" >&2; fail "non-finite loss"; }
set -e
echo "check_cli_train: ok"
