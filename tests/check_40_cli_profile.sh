#!/usr/bin/env bash
# check_40_cli_profile.sh — `ipf profile` and `ipf classify-post` end to end
# on the golden bundle build/goldens/profiler/small (tests/gen/profiler.py),
# with cached features in the manifest (no encoders needed): outputs must
# match PyTorch's probabilities and attention; bad lines and bad posts give
# error lines without stopping the rest; gzip manifests read the same.  Then
# raw captions and images through the encoders (tests/gen/profiler_e2e.py).
set -euo pipefail
B=${B:-build}
G=${IPF_GOLDEN_DIR:-$B/goldens}/profiler/small
IPF=$B/ipf
PY=/usr/bin/python3
[ -f "$G/profiler.safetensors" ] || { echo "check_cli_profile: FAIL: $G missing (run make gen)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A manifest from the goldens: influencers inf0..inf2, posts interleaved
# (grouping must not depend on order), plus bad lines.
$PY - "$G" "$tmp" <<'PY'
import json, sys, numpy as np
g, out = sys.argv[1], sys.argv[2]
lines = []
for k in range(3):
    pool, xt = np.load(f"{g}/inf{k}_pool.npy"), np.load(f"{g}/inf{k}_xt.npy")
    for i in range(len(pool)):
        lines.append((i, k, {"influencer": f"inf{k}", "post": f"p{k}_{i}", "caption": f"caption {k} {i}",
                             "text_feature": [float(x) for x in xt[i]], "image_feature": [float(x) for x in pool[i]],
                             "influencer_label": "cats", "post_label": None}))
lines.sort(key=lambda t: (t[0], t[1]))
good = [json.dumps(l[2]) for l in lines]
with open(f"{out}/good.jsonl", "w") as f:
    f.write("\n".join(good) + "\n")
bad = list(good)
bad.insert(2, "{not json")
bad.insert(5, json.dumps({"post": "x", "caption": "no influencer"}))
bad.insert(7, json.dumps({"influencer": "inf1", "post": "short", "text_feature": [1, 2, 3]}))
# a post whose image cannot be encoded (no image encoder in this bundle): reported, influencer still profiled
bad.append(json.dumps({"influencer": "inf2", "post": "img", "image": "missing.jpg"}))
bad.append(json.dumps({"influencer": "ghost", "post": "only", "image": "missing.jpg"}))
with open(f"{out}/bad.jsonl", "w") as f:
    f.write("\n".join(bad) + "\n")
with open(f"{out}/posts.jsonl", "w") as f:
    for k in range(3):
        pool, xt = np.load(f"{g}/inf{k}_pool.npy"), np.load(f"{g}/inf{k}_xt.npy")
        for i in range(len(pool)):
            f.write(json.dumps({"id": f"p{k}_{i}", "text_feature": [float(x) for x in xt[i]],
                                "image_feature": [float(x) for x in pool[i]]}) + "\n")
    f.write('{"id": 99, "caption": 5}\n[1,2]\n')
PY

compare() { # output-file kind
  $PY - "$G" "$1" "$2" <<'PY'
import json, sys, numpy as np
g, path, kind = sys.argv[1], sys.argv[2], sys.argv[3]
names_inf = ["cats", "dogs", "birds"]; names_post = ["a", "b", "c", "d"]
# printed with 6 significant digits: |a-b| <= 1e-5 (+ 2e-5 for float32 summation order)
tol = 3e-5
rows = [json.loads(l) for l in open(path)]
def close(a, b, what):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or np.max(np.abs(a - b)) > tol:
        sys.exit(f"check_cli_profile: FAIL: {what}: {a} vs {b}")
if kind == "profile":
    got = {r["influencer"]: r for r in rows if "error" not in r}
    for k in range(3):
        r = got[f"inf{k}"]
        ip = np.load(f"{g}/inf{k}_inf_probs.npy"); pp = np.load(f"{g}/inf{k}_post_probs.npy"); al = np.load(f"{g}/inf{k}_alpha.npy")
        close([r["probs"][n] for n in names_inf], ip, f"inf{k} probs")
        assert r["label"] == names_inf[int(ip.argmax())], r["label"]
        posts = [p for p in r["posts"]]
        assert [p["post"] for p in posts] == [f"p{k}_{i}" for i in range(len(pp))], [p["post"] for p in posts]
        close([[p["probs"][n] for n in names_post] for p in posts], pp, f"inf{k} post probs")
        close([p["attention"] for p in posts], al, f"inf{k} attention")
        for p, q in zip(posts, pp):
            assert p["label"] == names_post[int(q.argmax())]
else:
    got = {r["id"]: r for r in rows if "error" not in r}
    for k in range(3):
        pp = np.load(f"{g}/inf{k}_post_probs.npy")
        for i in range(len(pp)):
            r = got[f"p{k}_{i}"]
            close([r["probs"][n] for n in names_post], pp[i], f"post p{k}_{i}")
            assert r["label"] == names_post[int(pp[i].argmax())]
PY
}

# 1. good manifest: exact results, status 0
"$IPF" profile --model "$G" "$tmp/good.jsonl" > "$tmp/out.jsonl"
[ "$(wc -l < "$tmp/out.jsonl")" -eq 3 ] || { echo "check_cli_profile: FAIL: expected 3 influencer lines" >&2; exit 1; }
grep -q '"error"' "$tmp/out.jsonl" && { echo "check_cli_profile: FAIL: unexpected error in the good run" >&2; exit 1; }
compare "$tmp/out.jsonl" profile
# key order of the output line
head -1 "$tmp/out.jsonl" | grep -q '^{"influencer": *"inf0", *"label": *"[a-z]*", *"probs": *{"cats"' ||
  { echo "check_cli_profile: FAIL: output line layout: $(head -c 120 "$tmp/out.jsonl")" >&2; exit 1; }

# 2. gzip manifest gives the same output
gzip -c "$tmp/good.jsonl" > "$tmp/good.jsonl.gz"
"$IPF" profile --model "$G" "$tmp/good.jsonl.gz" | cmp - "$tmp/out.jsonl" ||
  { echo "check_cli_profile: FAIL: gzip manifest output differs" >&2; exit 1; }

# 3. bad lines and bad posts: error lines, the rest still profiled, status 1
set +e
"$IPF" profile --model "$G" "$tmp/bad.jsonl" > "$tmp/bad_out.jsonl" 2> "$tmp/bad_err.txt"
rc=$?
set -e
[ $rc -eq 1 ] || { echo "check_cli_profile: FAIL: bad manifest exit status $rc, expected 1" >&2; exit 1; }
compare "$tmp/bad_out.jsonl" profile
$PY - "$tmp/bad_out.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
errs = [r for r in rows if "error" in r]
lines = sorted(r["line"] for r in errs if "line" in r)
assert lines == [3, 6, 8], lines                      # 1-based manifest line numbers
assert any("influencer" in e["error"] for e in errs if e.get("line") == 6)
assert any("text_feature" in e["error"] for e in errs if e.get("line") == 8)
img = [e for e in errs if e.get("post") == "img"]
assert img and "image encoder" in img[0]["error"], img
ghost = [e for e in errs if e.get("influencer") == "ghost"]
assert len(ghost) == 2 and any("no usable post" in e["error"] for e in ghost), ghost
PY
grep -q "line 3" "$tmp/bad_err.txt" || { echo "check_cli_profile: FAIL: errors not on stderr" >&2; exit 1; }

# 4. --summary: readable text naming each influencer and its top posts
"$IPF" profile --model "$G" --summary "$tmp/good.jsonl" > "$tmp/summary.txt"
for k in 0 1 2; do grep -q "^inf$k: " "$tmp/summary.txt" || { echo "check_cli_profile: FAIL: summary lacks inf$k" >&2; cat "$tmp/summary.txt" >&2; exit 1; }; done
grep -q "top posts by attention" "$tmp/summary.txt" || { echo "check_cli_profile: FAIL: summary lacks top posts" >&2; exit 1; }
grep -q "influencer_label for [0-3] of 3)" "$tmp/summary.txt" || { echo "check_cli_profile: FAIL: summary lacks the label agreement" >&2; exit 1; }

# 5. classify-post: one line per input line, errors keep their id
set +e
"$IPF" classify-post --model "$G" < "$tmp/posts.jsonl" > "$tmp/cp.jsonl" 2>/dev/null
rc=$?
set -e
[ $rc -eq 1 ] || { echo "check_cli_profile: FAIL: classify-post exit status $rc, expected 1" >&2; exit 1; }
[ "$(wc -l < "$tmp/cp.jsonl")" -eq "$(grep -c . "$tmp/posts.jsonl")" ] || { echo "check_cli_profile: FAIL: classify-post line count" >&2; exit 1; }
compare "$tmp/cp.jsonl" classify
tail -2 "$tmp/cp.jsonl" | head -1 | grep -q '"id": *99, *"error": *".*caption' || { echo "check_cli_profile: FAIL: classify-post error line: $(tail -2 "$tmp/cp.jsonl")" >&2; exit 1; }

# 6. raw posts through the encoders (bundle of tests/gen/profiler_e2e.py):
#    captions and image paths relative to the manifest, against float64 PyTorch
E2E=${IPF_GOLDEN_DIR:-$B/goldens}/profiler_e2e
[ -f "$E2E/bundle/profiler.safetensors" ] || { echo "check_cli_profile: FAIL: $E2E missing (run make gen)" >&2; exit 1; }
mkdir -p "$tmp/raw"
for k in 0 1 2; do cp "$E2E/img$k.png" "$tmp/raw/"; done
$PY - "$E2E/posts.json" > "$tmp/raw/manifest.jsonl" <<'PY'
import json, sys
for i, p in enumerate(json.load(open(sys.argv[1]))):
    print(json.dumps(dict({"influencer": "e2e", "post": "p%d" % i}, **{k: v for k, v in p.items() if v is not None})))
PY
"$IPF" profile --model "$E2E/bundle" "$tmp/raw/manifest.jsonl" > "$tmp/raw/out.jsonl"
$PY - "$E2E" "$tmp/raw/out.jsonl" <<'PY'
import json, sys, numpy as np
g, path = sys.argv[1], sys.argv[2]
topics = ["beauty", "family", "fashion", "fitness", "food", "interior", "pet", "travel"]
r = json.loads(open(path).read())
tol = 1e-4  # float32 pipeline vs float64 reference, printed to 6 digits (see tests/test_profiler_e2e.c)
ip, pp, al = np.load(g + "/inf_probs.npy"), np.load(g + "/post_probs.npy"), np.load(g + "/alpha.npy")
assert np.abs(np.array([r["probs"][t] for t in topics]) - ip).max() < tol, r["probs"]
got = np.array([[p["probs"][t] for t in topics + ["product", "other"]] for p in r["posts"]])
assert np.abs(got - pp).max() < tol, got
assert np.abs(np.array([p["attention"] for p in r["posts"]]) - al).max() < tol
PY

# 7. usage errors
set +e
"$IPF" profile "$tmp/good.jsonl" 2>/dev/null; [ $? -eq 2 ] || { echo "check_cli_profile: FAIL: missing --model not rejected" >&2; exit 1; }
"$IPF" profile --model /nonexistent "$tmp/good.jsonl" 2> "$tmp/e.txt"; [ $? -eq 1 ] && grep -q /nonexistent "$tmp/e.txt" ||
  { echo "check_cli_profile: FAIL: bad model dir not reported" >&2; exit 1; }
set -e
echo "check_cli_profile: ok"
