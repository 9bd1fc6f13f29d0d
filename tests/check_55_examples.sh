#!/usr/bin/env bash
# Build and run every example (C, C++, Python, Go) against $B and the models
# `make gen` produced; an example whose model or library functions are not
# there yet is skipped with a message.  Also installs into $B/stage and
# builds the C examples through pkg-config.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
B=${B:-build}
BD=$ROOT/$B
G=${IPF_GOLDEN_DIR:-$BD/goldens}
OUT=$BD/examples
mkdir -p "$OUT"
rm -f "$OUT"/*.log
export LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export IPF_LIBRARY=$BD/libinfluencer_profiler.so.0 PYTHONDONTWRITEBYTECODE=1
fails=0
skip() { echo "  SKIP $*"; }
ok() { echo "  ok   $*"; }
bad() { echo "  FAIL $*"; fails=$((fails + 1)); }
has_sym() { nm -D --defined-only "$BD/libinfluencer_profiler.so.0" | grep -q " T $1\$\| T $1@"; }
run() { # run NAME CMD... : output kept in $OUT/NAME.log
    local name=$1; shift
    if "$@" >"$OUT/$name.log" 2>&1; then ok "$name"; sed 's/^/       /' "$OUT/$name.log" | head -6
    else bad "$name (see $OUT/$name.log)"; sed 's/^/       /' "$OUT/$name.log" | tail -5; fi
}

# ---- models and inputs ----------------------------------------------------
# Prefer the small BERT golden (fast); any HF-style dir with weights will do.
BERT=
for c in "$G/bert/bert_small" $({ find "$G" -name config.json 2>/dev/null || true; } | sort | xargs -r -n1 dirname); do
    [ -f "$c/config.json" ] && [ -f "$c/model.safetensors" ] && { BERT=$c; break; }
done
INCEPTION=$({ find "$G" -path '*inception*' -name '*.safetensors' 2>/dev/null || true; } | sort | head -1)
# A full bundle (both encoders, seeded heads) assembled by weights/make_bundle.py.
BUNDLE=
if [ -n "$BERT" ] && [ -n "$INCEPTION" ]; then
    /usr/bin/python3 weights/make_bundle.py "$OUT/bundle" --bert "$BERT" --inception "$INCEPTION" --link --seed 1 \
        >"$OUT/make_bundle.log" 2>&1 && BUNDLE=$OUT/bundle || bad "make_bundle.py (see $OUT/make_bundle.log)"
fi
VOCAB=
for v in ../shared/data/bert-base-uncased-vocab.txt /work/shared/data/bert-base-uncased-vocab.txt; do
    [ -f "$v" ] && { VOCAB=$v; break; }
done
IMG=$OUT/example.png
/usr/bin/python3 - "$IMG" <<'PY'
import sys
from PIL import Image
im = Image.new('RGB', (320, 240))
im.putdata([((x * 7) % 256, (y * 5) % 256, ((x + y) * 3) % 256) for y in range(240) for x in range(320)])
im.save(sys.argv[1])
PY
echo "models: bundle=${BUNDLE:-none} bert=${BERT:-none} inception=${INCEPTION:-none} vocab=${VOCAB:-none}"

# Run one example program (a command prefix) on every model it can use.
run_all() {
    local lang=$1; shift
    if [ -n "$VOCAB" ] && has_sym ipf_model_load_vocab; then run "$lang-vocab" "$@" "$VOCAB" "Hello world"
    else skip "$lang-vocab: no vocab or ipf_model_load_vocab"; fi
    if [ -n "$BERT" ] && has_sym ipf_model_load_bert; then run "$lang-bert" "$@" "$BERT" "hello world" "a second caption"
    else skip "$lang-bert: no BERT model in $G or ipf_model_load_bert missing"; fi
    if [ -n "$INCEPTION" ] && has_sym ipf_model_load_inception && has_sym ipf_session_encode_image_file; then run "$lang-inception" "$@" "$INCEPTION" "$IMG"
    else skip "$lang-inception: no Inception model in $G or ipf_model_load_inception/encode_image_file missing"; fi
    if [ -n "$BUNDLE" ] && has_sym ipf_session_profile; then
        run "$lang-bundle" "$@" "$BUNDLE" "new lipstick review" "$IMG" "healthy breakfast" -
    else skip "$lang-bundle: no bundle (profiler.safetensors) in $G or ipf_session_profile missing"; fi
}

INC="-I$ROOT/include"
LNK="-L$BD -Wl,-rpath,$BD -linfluencer_profiler"
echo "== C"
cc -std=c11 -Wall -Wextra -Werror $INC -o "$OUT/version" examples/c/version.c $LNK
run c-version "$OUT/version"
if has_sym ipf_session_profile; then
    cc -std=c11 -Wall -Wextra -Werror $INC -o "$OUT/profile_example" examples/c/profile_example.c $LNK
    if [ -n "$BUNDLE" ]; then run c-bundle "$OUT/profile_example" "$BUNDLE" "new lipstick review" "$IMG" "breakfast" -
    else skip "c-bundle: no bundle in $G"; fi
else skip "c: profile_example needs ipf_session_profile"; fi

echo "== C++"
cpp_ok=1
for f in ipf_model_load ipf_model_load_bert ipf_model_load_inception ipf_model_load_vocab ipf_model_load_spm \
    ipf_session_profile ipf_session_tokenize ipf_session_encode_text ipf_session_encode_image_file ipf_model_class_name; do
    has_sym $f || cpp_ok=0
done
if [ $cpp_ok = 1 ]; then
    c++ -std=c++17 -Wall -Wextra -Werror $INC -o "$OUT/profile_example_cpp" examples/cpp/profile_example.cpp $LNK
    run_all cpp "$OUT/profile_example_cpp"
else skip "cpp: the library lacks functions the wrapper uses"; fi

echo "== Python"
run_all py /usr/bin/python3 examples/python/profile_example.py

echo "== Go"
if command -v go >/dev/null; then
    export GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local GOTELEMETRY=off GOENV=off
    export GOCACHE=$BD/go/cache GOPATH=$BD/go/path CGO_CFLAGS="-I$ROOT/include" CGO_LDFLAGS="-L$BD -Wl,-rpath,$BD"
    mkdir -p "$GOCACHE" "$GOPATH"
    (cd examples/go && go build -o "$OUT/profile_example_go" .)
    run_all go "$OUT/profile_example_go"
else skip "go: not installed"; fi

echo "== the same answers from every language"
same() { # TAG PATTERN LOG... : the matching lines must agree across logs
    local tag=$1 pat=$2; shift 2
    local ref="" have=0
    for f in "$@"; do
        [ -f "$OUT/$f.log" ] || continue
        local got; got=$(grep -E "$pat" "$OUT/$f.log" | sed 's/^.*\[2048\]/[2048]/' || true)
        [ -n "$got" ] || continue
        have=$((have + 1))
        if [ -z "$ref" ]; then ref=$got
        elif [ "$got" != "$ref" ]; then bad "$tag: $f differs"; return; fi
    done
    [ $have -ge 2 ] && ok "$tag ($have programs agree)" || skip "$tag: fewer than two outputs"
}
same "inception features" '\[2048\]' cpp-inception py-inception go-inception
same "text features" '\[[0-9]+\]:' cpp-bert py-bert go-bert
same "influencer probabilities" '^influencer ' c-bundle cpp-bundle go-bundle

echo "== pkg-config after make install PREFIX=$BD/stage"
STAGE=$BD/stage
rm -rf "$STAGE"
make -s install B="$B" PREFIX="$STAGE" >"$OUT/install.log" 2>&1 || { bad "make install (see $OUT/install.log)"; }
# The .pc is made once per build dir; --define-variable relocates it.
PC="env PKG_CONFIG_PATH=$STAGE/lib/pkgconfig pkg-config --define-variable=prefix=$STAGE"
if $PC --exists influencer_profiler; then
    CF=$($PC --cflags influencer_profiler); LF=$($PC --libs influencer_profiler)
    cc -std=c11 -Wall -Werror -o "$OUT/version_pc" examples/c/version.c $CF $LF -Wl,-rpath,"$STAGE/lib"
    run pc-version "$OUT/version_pc"
    if [ "$(ldd "$OUT/version_pc" | awk '/influencer_profiler/ {print $3}')" != "$STAGE/lib/libinfluencer_profiler.so.0" ]; then
        bad "pc-version does not use the staged library"; fi
    if has_sym ipf_session_profile; then
        cc -std=c11 -Wall -Werror -o "$OUT/profile_example_pc" examples/c/profile_example.c $CF $LF -Wl,-rpath,"$STAGE/lib"
        if [ -n "$BUNDLE" ]; then run pc-bundle "$OUT/profile_example_pc" "$BUNDLE" "lipstick" "$IMG"
        else ok "pc-profile_example built (no bundle to run it on)"; fi
    fi
    # Static linking through Libs.private.
    cc -std=c11 -o "$OUT/version_static" examples/c/version.c $CF "$STAGE/lib/libinfluencer_profiler.a" \
        $($PC --libs --static influencer_profiler | sed 's/-linfluencer_profiler//') \
        -L/usr/lib/x86_64-linux-gnu/openblas-openmp >"$OUT/static.log" 2>&1 \
        && run pc-static "$OUT/version_static" || bad "static link via pkg-config --static (see $OUT/static.log)"
else bad "pkg-config cannot find influencer_profiler in $STAGE"; fi

[ "$fails" -eq 0 ] || { echo "check_55_examples: $fails failed"; exit 1; }
echo "check_55_examples: ok"
