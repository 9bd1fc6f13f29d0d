"""Goldens for the SentencePiece tokenizer: the captions of
tests/fixtures/tokenizer_cases.jsonl through python3-sentencepiece
(SentencePieceProcessor.EncodeAsIds / EncodeAsPieces) with
../shared/data/spm-test.model.  Captions are bytes; like the C side they are
decoded with errors='ignore' first.  Writes OUT/cases.jsonl
({"name", "hex", "ids", "pieces"}, ids without <s>/</s>) and OUT/model.json
(bos/eos ids), or only OUT/absent when the shared model is missing (the C
test then skips).

usage: tests/gen/spm.py OUT_DIR   (run from the repository root by `make gen`)
"""
import json
import os
import sys

import sentencepiece as spm

MODEL = os.path.join("..", "shared", "data", "spm-test.model")
CASES = os.path.join("tests", "fixtures", "tokenizer_cases.jsonl")


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for f in ("absent", "cases.jsonl", "model.json"):
        if os.path.exists(os.path.join(out, f)):
            os.remove(os.path.join(out, f))
    if not os.path.exists(MODEL):
        open(os.path.join(out, "absent"), "w").write("no %s\n" % MODEL)
        print("spm: %s absent; wrote marker" % MODEL)
        return
    sp = spm.SentencePieceProcessor()
    sp.Load(MODEL)
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump({"bos": sp.bos_id(), "eos": sp.eos_id(), "size": sp.GetPieceSize()}, f)
    n = 0
    with open(CASES, encoding="utf-8") as src, open(os.path.join(out, "cases.jsonl"), "w") as f:
        for line in src:
            c = json.loads(line)
            text = bytes.fromhex(c["hex"]).decode("utf-8", "ignore")
            f.write(json.dumps({"name": c["name"], "hex": c["hex"], "ids": sp.EncodeAsIds(text),
                                "pieces": sp.EncodeAsPieces(text)}) + "\n")
            n += 1
    print("spm: %d cases" % n)


if __name__ == "__main__":
    main()
