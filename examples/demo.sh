#!/usr/bin/env bash
# make demo: profile sample influencers end to end with the ipf tool and the
# Python binding.
#
# Model: weights/cache/bundle when weights/fetch.sh has been run (real
# BERT-base + Inception-v3 weights; heads untrained until `ipf train`).
# Otherwise — no network here — a bundle from the seeded test encoders that
# `make gen` writes (random BERT and Inception weights), so the numbers only
# show the machinery working: the demo trains the heads on a small synthetic
# set (coloured images + topical captions) and profiles it.
# Everything goes to demo-out/ (gitignored).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
B=${B:-build}
OUT=${DEMO_OUT:-$ROOT/demo-out}
PY=/usr/bin/python3
IPF=$ROOT/$B/ipf
export LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export IPF_LIBRARY=$ROOT/$B/libinfluencer_profiler.so.0
rm -rf "$OUT"
mkdir -p "$OUT"
say() { printf '\n== %s\n' "$*"; }

say "libinfluencer_profiler $("$IPF" version)"

if [ -f weights/cache/bundle/profiler.safetensors ]; then
    BUNDLE=weights/cache/bundle
    echo "using real weights: $BUNDLE"
else
    echo "no weights/cache/bundle (weights/fetch.sh needs the internet): using the seeded test encoders"
    make -s B="$B" "$B/goldens/.bert.stamp" "$B/goldens/.inception.stamp"
    BUNDLE=$OUT/bundle
    $PY weights/make_bundle.py "$BUNDLE" --bert "$B/goldens/bert/bert_small" \
        --inception "$B/goldens/inception/model.safetensors" --link --seed 7
fi

say "a synthetic data set: 16 influencers x 6 posts, 8 topics"
$PY - "$OUT/data" <<'PY'
import json, os, random, sys
from PIL import Image, ImageDraw
out = sys.argv[1]
os.makedirs(os.path.join(out, 'images'), exist_ok=True)
topics = {
    'beauty': ((220, 80, 140), 'lipstick mascara skincare glow makeup'),
    'family': ((250, 200, 90), 'kids mom dad weekend home together'),
    'fashion': ((40, 40, 40), 'outfit dress style shoes designer'),
    'fitness': ((40, 180, 80), 'workout gym run squat protein'),
    'food': ((230, 120, 30), 'brunch recipe pasta dessert delicious'),
    'interior': ((150, 120, 90), 'sofa living room decor plants design'),
    'pet': ((120, 90, 200), 'dog puppy cat cute walk'),
    'travel': ((30, 140, 230), 'beach flight island sunset adventure'),
}
rng = random.Random(3)
lines = []
for k in range(16):
    topic = list(topics)[k % 8]
    colour, words = topics[topic]
    for j in range(6):
        off = rng.random() < 0.2  # an off-topic post now and then
        t = rng.choice(list(topics)) if off else topic
        c, w = topics[t]
        img = Image.new('RGB', (rng.randint(300, 420), rng.randint(300, 420)),
                        tuple(max(0, min(255, v + rng.randint(-25, 25))) for v in c))
        d = ImageDraw.Draw(img)
        for _ in range(6):
            x, y = rng.randint(0, 250), rng.randint(0, 250)
            d.ellipse([x, y, x + 60, y + 60], fill=tuple(255 - v for v in c))
        name = 'inf%02d_p%d.jpg' % (k, j)
        img.save(os.path.join(out, 'images', name), quality=90)
        caption = ' '.join(rng.sample(w.split(), 3)) + ' #' + t
        lines.append({'influencer': 'inf%02d' % k, 'post': 'p%d' % j, 'caption': caption,
                      'image': 'images/' + name, 'influencer_label': topic, 'post_label': t})
with open(os.path.join(out, 'manifest.jsonl'), 'w') as f:
    for l in lines:
        f.write(json.dumps(l) + '\n')
print('%d posts in %s/manifest.jsonl' % (len(lines), out))
PY

say "ipf train (heads only; encoders frozen, features cached and standardised); last epoch:"
"$IPF" train --model "$BUNDLE" --data "$OUT/data/manifest.jsonl" --out "$OUT/trained" --epochs 30 --standardize \
    --batch 4 --posts 0 --val-fraction 0.25 --seed 1 --quiet --feature-cache "$OUT/features.bin" \
    | tail -3

say "ipf profile (--summary)"
"$IPF" profile --model "$OUT/trained" --summary "$OUT/data/manifest.jsonl" | head -16

say "the Python binding on one influencer"
$PY examples/python/profile_example.py "$OUT/trained" \
    "new lipstick and mascara #beauty" "$OUT/data/images/inf00_p0.jpg" \
    "skincare glow" "$OUT/data/images/inf00_p1.jpg" | head -20

echo
echo "demo done; outputs in $OUT"
