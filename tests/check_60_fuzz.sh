#!/usr/bin/env bash
# libFuzzer (ASan + UBSan) on the WordPiece tokenizer for ~20 s with the
# bert-base-uncased vocab, seeded with the fixture captions.  The tokenizer
# sources are compiled with clang's instrumentation; the rest of the library
# comes from $B/libinfluencer_profiler.a.
set -euo pipefail
B=${B:-build}
DATA=${IPF_SHARED_DIR:-../shared}/data
VOCAB=$DATA/bert-base-uncased-vocab.txt
SECONDS_TO_RUN=${IPF_FUZZ_SECONDS:-20}
if [ ! -f "$VOCAB" ]; then
    echo "check_60_fuzz: SKIP: $VOCAB absent"
    exit 0
fi
command -v clang >/dev/null || { echo "check_60_fuzz: FAIL: clang not installed (make deps)"; exit 1; }
[ -f "$B/libinfluencer_profiler.a" ] || make B="$B" "$B/libinfluencer_profiler.a"
F=$B/fuzz
mkdir -p "$F/obj" "$F/corpus" "$F/seed"
SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
INC="-Iinclude -Ilib -Ikernels -I/usr/include/x86_64-linux-gnu/openblas-openmp $(pkg-config --cflags icu-uc)"
for src in lib/wordpiece.c lib/tokenizer.c; do
    clang -std=gnu11 -g -O1 $SAN $INC -DIPF_BUILDING_LIBRARY -c "$src" -o "$F/obj/$(basename "$src" .c).o"
done
clang++ -std=gnu++17 -g -O1 $SAN $INC -c lib/spm_shim.cc -o "$F/obj/spm_shim.o"
clang -std=gnu11 -g -O1 $SAN $INC -c tests/fuzz/fuzz_tokenizer.c -o "$F/obj/fuzz_tokenizer.o"
clang++ -g -fsanitize=fuzzer,address,undefined -o "$F/fuzz_tokenizer" "$F"/obj/*.o "$B/libinfluencer_profiler.a" \
    -ldnnl -L/usr/lib/x86_64-linux-gnu/openblas-openmp -Wl,-rpath,/usr/lib/x86_64-linux-gnu/openblas-openmp \
    -lopenblas -lsentencepiece -licui18n -licuuc -licudata -ljansson -lz -lgomp -lm -lpthread
# seeds: byte 0 = max_len/case selector, then the caption bytes
/usr/bin/python3 - tests/fixtures/tokenizer_cases.jsonl "$F/seed" <<'PY'
import json, sys, os
for i, line in enumerate(open(sys.argv[1])):
    c = json.loads(line)
    for sel in (126, 128 + 126, 6):
        open(os.path.join(sys.argv[2], "%s_%d" % (c["name"], sel)), "wb").write(bytes([sel]) + bytes.fromhex(c["hex"]))
PY
IPF_FUZZ_VOCAB=$VOCAB ASAN_OPTIONS=detect_leaks=1 "$F/fuzz_tokenizer" -max_total_time="$SECONDS_TO_RUN" \
    -print_final_stats=1 -max_len=4096 -timeout=10 "$F/corpus" "$F/seed" 2>"$F/log" || {
    tail -40 "$F/log"; echo "check_60_fuzz: FAIL (log: $F/log)"; exit 1; }
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$F/log")
echo "check_60_fuzz: ok, $execs executions in ${SECONDS_TO_RUN}s, no crash"
