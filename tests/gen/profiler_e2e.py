"""End-to-end golden for the profiler: a complete model bundle (small BERT,
random Inception-v3, heads) and raw posts (captions, PNG images), with the
whole pipeline of DESIGN.md §1 computed in float64 PyTorch.

Writes into OUT (argv[1]):
  bundle/{profiler.safetensors, bert/{config.json,vocab.txt,model.safetensors},
          inception/model.safetensors}
  img{0,1,2}.png             generated images of different sizes
  posts.json                 [{"caption": str|null, "image": "imgK.png"|null}]
  ids.json                   WordPiece ids of each caption (or null)
  xt.npy (P,X)  pool.npy (P,E)  v.npy (P,D)  post_probs.npy (P,C_p)
  alpha.npy (P)  inf_probs.npy (C_i)     float64 reference outputs
"""
import json
import math
import os
import sys
import zlib

import numpy as np
import torch
import torchvision
from PIL import Image, ImageDraw
from torch import nn
from torchvision import transforms

import stio

TOPICS = ["beauty", "family", "fashion", "fitness", "food", "interior", "pet", "travel"]
POSTS = [
    {"caption": "Fresh pasta with basil, tomatoes and olive oil! #food", "image": "img0.png"},
    {"caption": "Morning run by the lake: 10k done.", "image": None},
    {"caption": None, "image": "img1.png"},
    {"caption": "Sunset over the mountains, what a view", "image": "img2.png"},
]
WORDS = ["fresh", "pasta", "with", "basil", "tomato", "olive", "oil", "food", "morning", "run", "by", "the",
         "lake", "done", "sunset", "over", "mountain", "what", "view", "##es"]
BERT = {"hidden_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 96,
        "max_position_embeddings": 64, "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu"}


def vocab():
    letters = "abcdefghijklmnopqrstuvwxyz0123456789"
    return (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS + list(letters) + ["##" + c for c in letters]
            + list("!#.,:'?-"))


def wordpiece(text, vocab_index):
    """BERT BasicTokenizer (lower case, punctuation split) + greedy WordPiece,
    enough for the ASCII captions above."""
    text = text.lower()
    tokens, word = [], ""
    for ch in text:
        if ch.isspace() or (not ch.isalnum()):
            if word:
                tokens.append(word)
            word = ""
            if not ch.isspace():
                tokens.append(ch)
        else:
            word += ch
    if word:
        tokens.append(word)
    ids = [vocab_index["[CLS]"]]
    for t in tokens:
        start, pieces = 0, []
        while start < len(t):
            end = len(t)
            while end > start:
                piece = ("##" if start else "") + t[start:end]
                if piece in vocab_index:
                    break
                end -= 1
            if end == start:
                pieces = [vocab_index["[UNK]"]]
                break
            pieces.append(vocab_index[piece])
            start = end
        ids += pieces
    return ids + [vocab_index["[SEP]"]]


def bert_weights(n_vocab, g):
    D, F = BERT["hidden_size"], BERT["intermediate_size"]
    w = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64) * 0.05
    t = {"embeddings.word_embeddings.weight": w(n_vocab, D),
         "embeddings.position_embeddings.weight": w(BERT["max_position_embeddings"], D),
         "embeddings.token_type_embeddings.weight": w(2, D),
         "embeddings.LayerNorm.weight": 1 + w(D), "embeddings.LayerNorm.bias": w(D)}
    for l in range(BERT["num_hidden_layers"]):
        p = "encoder.layer.%d." % l
        for m in ("query", "key", "value"):
            t[p + "attention.self.%s.weight" % m], t[p + "attention.self.%s.bias" % m] = w(D, D), w(D)
        t.update({p + "attention.output.dense.weight": w(D, D), p + "attention.output.dense.bias": w(D),
                  p + "attention.output.LayerNorm.weight": 1 + w(D), p + "attention.output.LayerNorm.bias": w(D),
                  p + "intermediate.dense.weight": w(F, D), p + "intermediate.dense.bias": w(F),
                  p + "output.dense.weight": w(D, F), p + "output.dense.bias": w(D),
                  p + "output.LayerNorm.weight": 1 + w(D), p + "output.LayerNorm.bias": w(D)})
    # round through float32: the file holds float32 and the reference must use the same numbers
    return {k: v.float().double() for k, v in t.items()}


def bert_cls(t, ids):
    """HF BertModel, one unpadded sequence, float64: last layer at [CLS]."""
    F_ = torch.nn.functional
    D, H = BERT["hidden_size"], BERT["num_attention_heads"]
    eps = BERT["layer_norm_eps"]
    ids = torch.tensor(ids)
    T = len(ids)
    x = (t["embeddings.word_embeddings.weight"][ids] + t["embeddings.position_embeddings.weight"][:T]
         + t["embeddings.token_type_embeddings.weight"][0])
    x = F_.layer_norm(x, (D,), t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"], eps)
    lin = lambda x, n: x @ t[n + ".weight"].T + t[n + ".bias"]
    for l in range(BERT["num_hidden_layers"]):
        p = "encoder.layer.%d." % l
        q, k, v = (lin(x, p + "attention.self." + m).view(T, H, D // H).transpose(0, 1) for m in ("query", "key", "value"))
        a = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(D // H), dim=-1)
        ctx = (a @ v).transpose(0, 1).reshape(T, D)
        x = F_.layer_norm(lin(ctx, p + "attention.output.dense") + x, (D,), t[p + "attention.output.LayerNorm.weight"],
                          t[p + "attention.output.LayerNorm.bias"], eps)
        h = F_.gelu(lin(x, p + "intermediate.dense"))
        x = F_.layer_norm(lin(h, p + "output.dense") + x, (D,), t[p + "output.LayerNorm.weight"],
                          t[p + "output.LayerNorm.bias"], eps)
    return x[0]


def make_images(out):
    rng = np.random.default_rng(5)
    for k, (w, h) in enumerate([(400, 300), (320, 480), (512, 512)]):
        img = Image.new("RGB", (w, h), tuple(int(c) for c in rng.integers(0, 255, 3)))
        d = ImageDraw.Draw(img)
        for _ in range(8):
            x0, y0 = int(rng.integers(0, w - 60)), int(rng.integers(0, h - 60))
            d.ellipse([x0, y0, x0 + int(rng.integers(20, 200)), y0 + int(rng.integers(20, 200))],
                      fill=tuple(int(c) for c in rng.integers(0, 255, 3)))
        img.save(os.path.join(out, "img%d.png" % k))


def main():
    out = sys.argv[1]
    bdir = os.path.join(out, "bundle")
    for sub in ("bert", "inception"):
        os.makedirs(os.path.join(bdir, sub), exist_ok=True)
    make_images(out)

    # text encoder
    voc = vocab()
    vidx = {t: i for i, t in enumerate(voc)}
    with open(os.path.join(bdir, "bert", "vocab.txt"), "w") as f:
        f.write("\n".join(voc) + "\n")
    with open(os.path.join(bdir, "bert", "config.json"), "w") as f:
        json.dump(dict(BERT, vocab_size=len(voc)), f)
    bt = bert_weights(len(voc), torch.Generator().manual_seed(21))
    stio.save(os.path.join(bdir, "bert", "model.safetensors"), {k: v.float() for k, v in bt.items()})
    ids = [wordpiece(p["caption"], vidx) if p["caption"] else None for p in POSTS]
    X = BERT["hidden_size"]
    xt = torch.stack([bert_cls(bt, i) if i else torch.zeros(X, dtype=torch.float64) for i in ids])

    # image encoder: random trunk, BatchNorm statistics from the three images
    torch.manual_seed(22)
    inc = torchvision.models.Inception3(aux_logits=False, transform_input=False, init_weights=True)
    for m in inc.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    pre = transforms.Compose([transforms.Resize(342), transforms.CenterCrop(299), transforms.ToTensor(),
                              transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    imgs = torch.stack([pre(Image.open(os.path.join(out, "img%d.png" % k)).convert("RGB")) for k in range(3)])
    inc.train()
    with torch.no_grad():
        inc(imgs)
    inc.eval()
    sd = {k: v for k, v in inc.state_dict().items()
          if not k.startswith(("fc.", "AuxLogits.")) and not k.endswith("num_batches_tracked")}
    stio.save(os.path.join(bdir, "inception", "model.safetensors"), sd)
    inc = inc.double()
    trunk = nn.Sequential(*[getattr(inc, n) for n in [
        "Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3", "maxpool2",
        "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a",
        "Mixed_7b", "Mixed_7c", "avgpool"]])
    E = 2048
    pool = []
    with torch.no_grad():
        for p in POSTS:
            if p["image"]:
                x = pre(Image.open(os.path.join(out, p["image"])).convert("RGB")).double()[None]
                pool.append(trunk(x).flatten())
            else:
                pool.append(torch.zeros(E, dtype=torch.float64))
    pool = torch.stack(pool)

    # heads (the model of tests/gen/profiler.py, float64)
    torch.manual_seed(23)
    I, D, A, H = 64, 32, 24, 40
    names = ["img_proj", "post_proj", "post_head.0", "post_head.2", "attention.proj", "inf_head.0", "inf_head.2"]
    dims = [(E, I), (I + X, D), (D, H), (H, 10), (D, A), (D, H), (H, 8)]
    ht = {}
    for n, (i, o) in zip(names, dims):
        l = nn.Linear(i, o)
        ht[n + ".weight"], ht[n + ".bias"] = l.weight.detach(), l.bias.detach()
    ht["attention.context"] = torch.empty(A).uniform_(-1, 1)
    data = b"".join(np.ascontiguousarray(ht[k].numpy().astype(np.float32)).tobytes() for k in sorted(ht))
    cfg = {"img_pool": E, "img_dim": I, "text_dim": X, "post_dim": D, "att_dim": A, "head_hidden": H,
           "influencer_classes": TOPICS, "post_classes": TOPICS + ["product", "other"],
           "image": {"resize": 342, "crop": 299, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                     "transform_input": False}}
    stio.save(os.path.join(bdir, "profiler.safetensors"), ht,
              {"format": "ipf-profiler", "format_version": "1", "config": json.dumps(cfg),
               "crc32": "%08x" % (zlib.crc32(data) & 0xffffffff)})
    h64 = {k: v.double() for k, v in ht.items()}
    lin = lambda x, n: x @ h64[n + ".weight"].T + h64[n + ".bias"]
    xi = torch.relu(lin(pool, "img_proj"))
    v = torch.relu(lin(torch.cat([xi, xt], 1), "post_proj"))
    post_probs = torch.softmax(lin(torch.relu(lin(v, "post_head.0")), "post_head.2"), 1)
    r = torch.tanh(lin(v, "attention.proj"))
    alpha = torch.softmax(r @ h64["attention.context"], 0)
    h = (alpha[:, None] * v).sum(0)
    inf_probs = torch.softmax(lin(torch.relu(lin(h, "inf_head.0")), "inf_head.2"), 0)

    with open(os.path.join(out, "posts.json"), "w") as f:
        json.dump(POSTS, f)
    with open(os.path.join(out, "ids.json"), "w") as f:
        json.dump(ids, f)
    for n, a in [("xt", xt), ("pool", pool), ("v", v), ("post_probs", post_probs), ("alpha", alpha),
                 ("inf_probs", inf_probs)]:
        np.save(os.path.join(out, n + ".npy"), a.numpy().astype(np.float32))


if __name__ == "__main__":
    main()
