#!/usr/bin/env bash
# ipf tokenize: every fixture caption through the CLI for each vocabulary
# (ids must equal tokenization.py's), per-line errors that do not stop the
# run, the exit status, --max-len, --spm, and usage errors.
set -euo pipefail
B=${B:-build}
IPF=$B/ipf
DATA=${IPF_SHARED_DIR:-../shared}/data
FIX=tests/fixtures/tokenizer_cases.jsonl
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "check_30_cli_tokenize: FAIL: $*" >&2; exit 1; }

# usage errors exit 2 without reading stdin
for args in "" "--vocab" "--max-len 5" "--vocab x --spm y" "--spm x --cased" "--bogus"; do
    set +e; $IPF tokenize $args </dev/null >/dev/null 2>&1; rc=$?; set -e
    [ "$rc" = 2 ] || fail "'ipf tokenize $args' exited $rc, want 2"
done
set +e; $IPF tokenize --vocab /nonexistent/vocab.txt </dev/null >/dev/null 2>"$tmp/err"; rc=$?; set -e
[ "$rc" = 1 ] && grep -q /nonexistent/vocab.txt "$tmp/err" || fail "missing vocab not reported"

if [ ! -f "$DATA/bert-base-uncased-vocab.txt" ]; then
    echo "check_30_cli_tokenize: SKIP: $DATA/bert-base-uncased-vocab.txt absent"
    exit 0
fi
V=$DATA/bert-base-uncased-vocab.txt
set +e; $IPF tokenize --vocab "$V" --max-len 1 </dev/null >/dev/null 2>&1; rc=$?; set -e
[ "$rc" = 2 ] || fail "--max-len 1 exited $rc, want 2"

# good and bad lines mixed: one output line per non-blank input line, in order
cat >"$tmp/in" <<'JSON'
{"id": 1, "text": "Hello, World! [SEP]"}
{"id": "two", "hex": "ff41"}
not json
{"id": 3}
{"id": 4, "hex": "zz"}
{"id": 5, "text": "a\u0000b"}
{"id": 6, "text": 7}
{"id": 7, "text": "x", "hex": "78"}
[1, 2]
{"id": {"nested": true}, "text": ""}
JSON
set +e; $IPF tokenize --vocab "$V" <"$tmp/in" >"$tmp/out" 2>"$tmp/err"; rc=$?; set -e
[ "$rc" = 1 ] || fail "bad lines: exit $rc, want 1"
grep -q "6 line(s) failed" "$tmp/err" || fail "stderr lacks the failure count: $(cat "$tmp/err")"
cat >"$tmp/want" <<'JSON'
{"id":1,"ids":[101,7592,1010,2088,999,1031,19802,1033,102]}
{"id":"two","ids":[101,1037,102]}
{"id":null,"error":"*"}
{"id":3,"error":"need exactly one of \"text\" and \"hex\""}
{"id":4,"error":"\"hex\" is not an even number of hex digits"}
{"id":5,"ids":[101,11113,102]}
{"id":6,"error":"\"text\" is not a string"}
{"id":7,"error":"need exactly one of \"text\" and \"hex\""}
{"id":null,"error":"*"}
{"id":{"nested":true},"ids":[101,102]}
JSON
paste -d '\t' "$tmp/want" "$tmp/out" | while IFS=$'\t' read -r w g; do
    if [ "${w%\"\*\"\}}" != "$w" ]; then   # '"*"}' ends a line: any error message
        [ "${g#"${w%\"\*\"\}}"}" != "$g" ] || fail "line: got $g, want $w"
    else
        [ "$g" = "$w" ] || fail "line: got $g, want $w"
    fi
done
[ "$(wc -l <"$tmp/out")" = 10 ] || fail "want 10 output lines, got $(wc -l <"$tmp/out")"

# --max-len truncates: [CLS] + 6 pieces + [SEP]
echo '{"id": 0, "text": "one two three four five six seven eight"}' | $IPF tokenize --vocab "$V" --max-len 8 >"$tmp/out"
[ "$(cat "$tmp/out")" = '{"id":0,"ids":[101,2028,2048,2093,2176,2274,2416,102]}' ] || fail "--max-len 8: $(cat "$tmp/out")"

# every fixture caption, every vocabulary present
"$PY" - "$FIX" >"$tmp/fix.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    c = json.loads(line)
    print(json.dumps({"id": c["name"], "hex": c["hex"]}))
PY
for spec in "uncased bert-base-uncased-vocab.txt" "cased bert-base-cased-vocab.txt --cased" \
            "multilingual bert-base-multilingual-cased-vocab.txt --cased"; do
    set -- $spec
    key=$1; file=$DATA/$2; shift 2
    [ -f "$file" ] || { echo "check_30_cli_tokenize: note: $file absent, $key skipped"; continue; }
    $IPF tokenize --vocab "$file" "$@" <"$tmp/fix.jsonl" >"$tmp/out_$key"
    "$PY" - "$FIX" "$tmp/out_$key" "$key" <<'PY' || fail "$key fixture mismatch"
import json, sys
want = [json.loads(l) for l in open(sys.argv[1])]
got = [json.loads(l) for l in open(sys.argv[2])]
key = sys.argv[3]
bad = [w["name"] for w, g in zip(want, got) if g.get("id") != w["name"] or g.get("ids") != w[key]]
if len(got) != len(want) or bad:
    sys.exit("%s: %d/%d lines, mismatches: %s" % (key, len(got), len(want), bad))
print("check_30_cli_tokenize: %s: %d/%d fixture captions match" % (key, len(want), len(want)))
PY
done

# SentencePiece: ids are <s> + EncodeAsIds(text)[:126] + </s>
G=${IPF_GOLDEN_DIR:-$B/goldens}/spm/cases.jsonl
if [ -f "$DATA/spm-test.model" ] && [ -f "$G" ]; then
    $IPF tokenize --spm "$DATA/spm-test.model" <"$tmp/fix.jsonl" >"$tmp/out_spm"
    "$PY" - "$G" "$tmp/out_spm" <<'PY' || fail "spm mismatch"
import json, sys
want = [json.loads(l) for l in open(sys.argv[1])]
got = [json.loads(l) for l in open(sys.argv[2])]
bad = [w["name"] for w, g in zip(want, got) if g.get("ids") != [1] + w["ids"][:126] + [2]]
if len(got) != len(want) or bad:
    sys.exit("spm: mismatches: %s" % bad)
print("check_30_cli_tokenize: spm: %d/%d captions match python3-sentencepiece" % (len(want), len(want)))
PY
else
    echo "check_30_cli_tokenize: note: spm model or golden absent, spm skipped"
fi
echo "check_30_cli_tokenize: ok"
