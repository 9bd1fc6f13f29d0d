#!/bin/bash
# check_20_cli_image.sh — `ipf embed-image` end to end (DESIGN.md §5):
#   --npy on the cnn goldens vs torchvision's Inception3 in float64,
#   image files vs their torchvision-preprocessed tensors through --npy
#   (preprocessing is bit-exact for PNG/BMP, so the features must agree),
#   a bad image among good ones (error line, the rest still run, exit 1),
#   usage errors (exit 2).
# Needs `make all gen` (build/goldens/inception from tests/gen/inception.py,
# build/goldens/image from tests/gen/image.py).
set -euo pipefail
B=${B:-build}
G=$B/goldens
IPF=$B/ipf
W=$G/inception/model.safetensors
for f in "$IPF" "$W" "$G/inception/x_299x299_b2.npy" "$G/image/batch_refs.npy" "$G/image/png_rgb_640x480.png"; do
    [ -e "$f" ] || { echo "check_20_cli_image: missing $f (run make all gen)"; exit 1; }
done
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
IMG=$G/image

"$IPF" embed-image --inception "$W" --no-transform-input --npy "$G/inception/x_299x299_b2.npy" > "$T/npy_t0.jsonl"
"$IPF" embed-image --inception "$W" --npy "$G/inception/x_320x301_b1.npy" > "$T/npy_t1.jsonl"
"$IPF" embed-image --inception "$W" --no-transform-input "$IMG/png_rgb_640x480.png" "$IMG/bmp_rgb_333x222.bmp" > "$T/img.jsonl"
"$IPF" embed-image --inception "$W" --no-transform-input --npy "$IMG/batch_refs.npy" > "$T/ref.jsonl"

# A missing file and a non-image between two good images.
echo "not an image" > "$T/bad.jpg"
set +e
"$IPF" embed-image --inception "$W" --no-transform-input "$IMG/png_rgb_640x480.png" "$T/missing.png" "$T/bad.jpg" \
    "$IMG/bmp_rgb_333x222.bmp" > "$T/mixed.jsonl" 2> "$T/mixed.err"
rc=$?
set -e
[ $rc -eq 1 ] || { echo "check_20_cli_image: bad images gave exit $rc, expected 1"; cat "$T/mixed.err"; exit 1; }

for args in "" "--npy $G/inception/x_299x299_b2.npy" "--inception $W" "--inception $W --bogus x.png"; do
    set +e
    # shellcheck disable=SC2086
    "$IPF" embed-image $args > /dev/null 2>&1
    rc=$?
    set -e
    [ $rc -eq 2 ] || { echo "check_20_cli_image: 'embed-image $args' gave exit $rc, expected 2"; exit 1; }
done

LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 - "$T" "$G" "$IMG" <<'PY'
import json, sys
import numpy as np
T, G, IMG = sys.argv[1:4]

def lines(name):
    with open(f'{T}/{name}') as f:
        return [json.loads(l) for l in f]

def feats(rows, key):
    return np.array([r['pool'] for r in rows], dtype=np.float64), [r[key] for r in rows]

# Float32 C vs float64 torch through 94 conv layers: tests/test_inception.c's
# tolerance, atol 2e-5 * max|ref| and rtol 1e-4 (the seeded random weights
# give features up to ~5e3).  %.9g prints float32 exactly.
def close(a, b, what, atol=None, rtol=1e-4):
    if atol is None:
        atol = 2e-5 * np.abs(b).max()
    d = np.abs(a - b)
    bad = d > atol + rtol * np.abs(b)
    print(f'  {what}: max abs {d.max():.3g} (max |ref| {np.abs(b).max():.4g})')
    if bad.any():
        sys.exit(f'check_20_cli_image: {what}: {bad.sum()} elements outside tolerance')

a, idx = feats(lines('npy_t0.jsonl'), 'index')
assert idx == [0, 1] and a.shape == (2, 2048), (idx, a.shape)
close(a, np.load(f'{G}/inception/pool_299x299_b2_t0.npy'), 'npy 299x299 x2 vs torch')
a, idx = feats(lines('npy_t1.jsonl'), 'index')
close(a, np.load(f'{G}/inception/pool_320x301_b1_t1.npy'), 'npy 320x301 transform_input vs torch')

img, names = feats(lines('img.jsonl'), 'image')
assert [n.rsplit('/', 1)[-1] for n in names] == ['png_rgb_640x480.png', 'bmp_rgb_333x222.bmp'], names
ref, _ = feats(lines('ref.jsonl'), 'index')
close(img, ref, 'image files vs torchvision-preprocessed tensors', atol=1e-5, rtol=1e-5)

mixed = lines('mixed.jsonl')
assert len(mixed) == 4, mixed
assert 'pool' in mixed[0] and 'pool' in mixed[3]
assert 'missing.png' in mixed[1]['error'] and 'pool' not in mixed[1], mixed[1]
assert 'bad.jpg' in mixed[2]['error'], mixed[2]
close(np.array([mixed[0]['pool'], mixed[3]['pool']]), img, 'good images after bad ones', atol=0, rtol=0)
print('check_20_cli_image: ok')
PY
