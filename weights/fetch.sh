#!/usr/bin/env bash
# fetch.sh — download real weights and assemble a model bundle.
#
#   weights/fetch.sh [DEST]            (default: weights/cache; gitignored)
#
# Downloads
#   torchvision Inception-v3 IMAGENET1K_V1 (inception_v3_google-0cc3c7bd.pth)
#   Hugging Face bert-base-uncased: config.json, vocab.txt, tokenizer_config.json, model.safetensors
# checks every hash that is pinned (see weights/README.md for what is and is
# not), converts the Inception checkpoint to safetensors and writes
# DEST/bundle with untrained heads (weights/make_bundle.py).
#
# Environment: HF_REVISION (default main; pin a commit for reproducibility),
# HF_ENDPOINT (default https://huggingface.co), IPF_ALLOW_UNPINNED=1 to accept
# files with no pinned hash (their sha256 is printed for you to pin).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DEST=${1:-$HERE/cache}
PY=${PY:-/usr/bin/python3}
HF_ENDPOINT=${HF_ENDPOINT:-https://huggingface.co}
HF_REVISION=${HF_REVISION:-main}

# sha256 pins.  A full 64-hex pin is checked in full; a shorter one is a
# prefix (torchvision embeds the first 8 hex digits of the file's sha256 in
# its name and torch.hub checks exactly that prefix).  Empty = not pinned.
INCEPTION_URL=https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth
INCEPTION_SHA=0cc3c7bd
# vocab.txt: sha256 of the bert-base-uncased vocabulary verified line by line
# in shared/data/SOURCES.md (30522 lines, LF endings).
VOCAB_SHA=07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3
CONFIG_SHA=
TOKCONFIG_SHA=
MODEL_SHA=
# Local pins override the ones above: lines "SHA256  FILENAME" in
# weights/SHA256SUMS (e.g. after verifying a download on a trusted machine).
pin_of() { # FILENAME DEFAULT
    local p=""
    [ -f "$HERE/SHA256SUMS" ] && p=$(awk -v f="$1" '$2 == f {print $1}' "$HERE/SHA256SUMS" | head -1)
    echo "${p:-$2}"
}

download() { # URL OUT
    [ -s "$2" ] && { echo "have $2"; return 0; }
    echo "get  $1"
    if command -v curl >/dev/null; then curl -fL --retry 3 -o "$2.part" "$1"
    elif command -v wget >/dev/null; then wget -O "$2.part" "$1"
    else echo "fetch.sh: need curl or wget" >&2; exit 1; fi
    mv "$2.part" "$2"
}

verify() { # FILE PIN
    local got; got=$(sha256sum "$1" | cut -d' ' -f1)
    if [ -z "$2" ]; then
        if [ "${IPF_ALLOW_UNPINNED:-0}" = 1 ]; then echo "UNPINNED $1 sha256 $got"; return 0; fi
        echo "fetch.sh: $1 has no pinned sha256 (got $got); check it and add it to weights/SHA256SUMS," >&2
        echo "          or rerun with IPF_ALLOW_UNPINNED=1" >&2
        exit 1
    fi
    case "$got" in
    "$2"*) echo "ok   $1 sha256 ${got:0:16}... (pin ${#2} hex)";;
    *) echo "fetch.sh: $1: sha256 $got does not match the pin $2" >&2; exit 1;;
    esac
}

mkdir -p "$DEST/bert-base-uncased"
download "$INCEPTION_URL" "$DEST/inception_v3_google-0cc3c7bd.pth"
verify "$DEST/inception_v3_google-0cc3c7bd.pth" "$(pin_of inception_v3_google-0cc3c7bd.pth $INCEPTION_SHA)"

B="$HF_ENDPOINT/bert-base-uncased/resolve/$HF_REVISION"
for f in config.json vocab.txt tokenizer_config.json model.safetensors; do
    download "$B/$f" "$DEST/bert-base-uncased/$f"
done
verify "$DEST/bert-base-uncased/vocab.txt" "$(pin_of vocab.txt $VOCAB_SHA)"
verify "$DEST/bert-base-uncased/config.json" "$(pin_of config.json "$CONFIG_SHA")"
verify "$DEST/bert-base-uncased/tokenizer_config.json" "$(pin_of tokenizer_config.json "$TOKCONFIG_SHA")"
verify "$DEST/bert-base-uncased/model.safetensors" "$(pin_of model.safetensors "$MODEL_SHA")"

LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
    "$PY" "$HERE/convert_torchvision.py" "$DEST/inception_v3_google-0cc3c7bd.pth" "$DEST/inception_v3.safetensors"
"$PY" "$HERE/make_bundle.py" "$DEST/bundle" --bert "$DEST/bert-base-uncased" \
    --inception "$DEST/inception_v3.safetensors" --link
echo "done: profile with  build/ipf profile --model $DEST/bundle MANIFEST  (heads untrained until ipf train)"
