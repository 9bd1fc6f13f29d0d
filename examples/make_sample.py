#!/usr/bin/python3
"""Write a small deterministic demo: a sample data set and a seeded,
UNTRAINED model bundle for `make demo` (examples/demo.sh).

    make_sample.py OUTDIR

OUTDIR/sample/manifest.jsonl   4 influencers x 6 posts (DESIGN.md §4 manifest)
OUTDIR/sample/images/*.png     generated pictures (PIL), one per post
OUTDIR/model/                  a model bundle (DESIGN.md §4):
  profiler.safetensors         heads with nn.Linear's default initialisation
  bert/                        a SMALL BERT (2 layers, hidden 128, 2 heads,
                               FFN 512; the library reads any config.json),
                               random weights, vocab.txt from ../shared when
                               present, else a tiny generated vocabulary
  inception/model.safetensors  torchvision Inception3, random weights, its
                               BatchNorm statistics measured on the sample
                               images so features are well scaled

Every weight is random from fixed seeds: the model is untrained and its
predictions mean nothing.  Needs Debian's python3-torch, -torchvision,
-numpy, -pil; independent of tests/gen.
"""
import json
import os
import shutil
import struct
import sys
import zlib

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import nn

TOPICS = ["beauty", "family", "fashion", "fitness", "food", "interior", "pet", "travel"]
POST_CLASSES = TOPICS + ["product", "other"]
BERT_CFG = {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 512,
            "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu",
            "position_embedding_type": "absolute", "model_type": "bert"}

INFLUENCERS = [
    ("ana_eats", "food", [
        ("Homemade ramen tonight, broth simmered for eight hours #food #ramen", "food"),
        ("Sunday brunch: pancakes, berries and maple syrup", "food"),
        ("Trying the new taco place downtown, the salsa is amazing", "food"),
        ("My favourite chef knife, link in bio", "product"),
        ("Fresh pasta from scratch with basil and tomatoes", "food"),
        ("Rainy day, staying in with a book", "other")]),
    ("fit_with_tom", "fitness", [
        ("Leg day done, squats and lunges for an hour #fitness", "fitness"),
        ("Morning run by the lake, 10k in 48 minutes", "fitness"),
        ("Protein smoothie after the gym: banana, oats, peanut butter", "food"),
        ("New running shoes arrived, review coming soon", "product"),
        ("Yoga and stretching for recovery #mobility", "fitness"),
        ("Deadlift personal best today!", "fitness")]),
    ("paws_and_co", "pet", [
        ("Meet Biscuit, our new golden retriever puppy #dogsofinstagram", "pet"),
        ("The cat found the sunniest spot in the house again", "pet"),
        ("Walk in the park with both dogs", "pet"),
        ("This chew toy survived a whole week, impressive", "product"),
        ("Bath time was not appreciated", "pet"),
        ("Family picnic with the pets", "family")]),
    ("wander_lena", "travel", [
        ("Sunrise over the mountains in Patagonia #travel", "travel"),
        ("Lost in the old streets of Lisbon", "travel"),
        ("Beach day in Bali, the water is so clear", "travel"),
        ("Packing list for two weeks with one backpack", "product"),
        ("Street food tour in Bangkok", "food"),
        ("Train ride through the Swiss Alps", "travel")]),
]


def save_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, float32 array) written in this order.
    Returns the zlib CRC-32 of the data area."""
    header, off, blobs = {}, 0, []
    for name, a in tensors:
        a = np.ascontiguousarray(a, dtype=np.float32)
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    crc = 0
    for b in blobs:
        crc = zlib.crc32(b, crc)
    if metadata is not None:
        metadata = dict(metadata)
        if metadata.get("crc32") == "auto":
            metadata["crc32"] = "%08x" % (crc & 0xffffffff)
        header["__metadata__"] = metadata
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(path + ".tmp", path)
    return crc


# ---- sample images -----------------------------------------------------------

def draw_image(path, topic, k, rng):
    """A simple picture whose colours and shapes depend on the topic."""
    w, h = [(480, 360), (360, 480), (400, 400), (640, 360), (300, 420), (512, 384)][k % 6]
    palette = {"food": ((250, 235, 215), (200, 60, 40)), "fitness": ((220, 230, 240), (40, 40, 60)),
               "pet": ((200, 230, 190), (160, 110, 60)), "travel": ((120, 180, 240), (90, 110, 90))}
    bg, fg = palette.get(topic, ((200, 200, 200), (50, 50, 50)))
    img = Image.new("RGB", (w, h), bg)
    d = ImageDraw.Draw(img)
    for _ in range(6):
        x0, y0 = int(rng.integers(0, w - 40)), int(rng.integers(0, h - 40))
        x1, y1 = x0 + int(rng.integers(30, w // 2)), y0 + int(rng.integers(30, h // 2))
        col = tuple(int(np.clip(c + rng.integers(-40, 40), 0, 255)) for c in fg)
        if topic == "food":
            d.ellipse([x0, y0, x1, y1], fill=col, outline=(255, 255, 255))
        elif topic == "fitness":
            d.rectangle([x0, y0, x1, y0 + 12], fill=col)
        elif topic == "pet":
            d.ellipse([x0, y0, x1, y0 + (y1 - y0) // 2], fill=col)
        else:
            d.polygon([(x0, y1), ((x0 + x1) // 2, y0), (x1, y1)], fill=col)
    img.save(path)


def write_sample(out):
    rng = np.random.default_rng(1234)
    img_dir = os.path.join(out, "sample", "images")
    os.makedirs(img_dir, exist_ok=True)
    lines = []
    for name, topic, posts in INFLUENCERS:
        for k, (caption, label) in enumerate(posts):
            rel = "images/%s_%d.png" % (name, k)
            draw_image(os.path.join(out, "sample", rel), topic, k, rng)
            lines.append({"influencer": name, "post": "%s_%d" % (name, k), "caption": caption, "image": rel,
                          "influencer_label": topic, "post_label": label})
    with open(os.path.join(out, "sample", "manifest.jsonl"), "w") as f:
        for l in lines:
            f.write(json.dumps(l) + "\n")
    return lines


# ---- small BERT -------------------------------------------------------------------

def tiny_vocab(lines):
    words = set()
    for l in lines:
        for w in "".join(c.lower() if c.isalnum() else " " for c in l["caption"]).split():
            words.add(w)
    letters = "abcdefghijklmnopqrstuvwxyz0123456789"
    return (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list(letters) + ["##" + c for c in letters]
            + sorted(words) + [c for c in "!#.,:'?-"])


def write_bert(out, lines):
    d = os.path.join(out, "model", "bert")
    os.makedirs(d, exist_ok=True)
    shared = os.environ.get("IPF_SHARED_DIR", "../shared")
    vocab_src = os.path.join(shared, "data", "bert-base-uncased-vocab.txt")
    if os.path.exists(vocab_src):
        shutil.copyfile(vocab_src, os.path.join(d, "vocab.txt"))
        vocab_note = "BERT-base uncased vocabulary from " + vocab_src
    else:
        with open(os.path.join(d, "vocab.txt"), "w") as f:
            f.write("\n".join(tiny_vocab(lines)) + "\n")
        vocab_note = "a tiny generated vocabulary (%s not found)" % vocab_src
    with open(os.path.join(d, "vocab.txt")) as f:
        n_vocab = sum(1 for _ in f)
    cfg = dict(BERT_CFG, vocab_size=n_vocab)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True}, f)
    g = torch.Generator().manual_seed(2)
    D, F = cfg["hidden_size"], cfg["intermediate_size"]

    def normal(*shape):  # BERT's initializer_range 0.02
        return (torch.randn(*shape, generator=g) * 0.02).numpy()

    t = [("embeddings.word_embeddings.weight", normal(n_vocab, D)),
         ("embeddings.position_embeddings.weight", normal(cfg["max_position_embeddings"], D)),
         ("embeddings.token_type_embeddings.weight", normal(cfg["type_vocab_size"], D)),
         ("embeddings.LayerNorm.weight", np.ones(D)), ("embeddings.LayerNorm.bias", np.zeros(D))]
    for l in range(cfg["num_hidden_layers"]):
        p = "encoder.layer.%d." % l
        for m in ("query", "key", "value"):
            t += [(p + "attention.self.%s.weight" % m, normal(D, D)), (p + "attention.self.%s.bias" % m, np.zeros(D))]
        t += [(p + "attention.output.dense.weight", normal(D, D)), (p + "attention.output.dense.bias", np.zeros(D)),
              (p + "attention.output.LayerNorm.weight", np.ones(D)), (p + "attention.output.LayerNorm.bias", np.zeros(D)),
              (p + "intermediate.dense.weight", normal(F, D)), (p + "intermediate.dense.bias", np.zeros(F)),
              (p + "output.dense.weight", normal(D, F)), (p + "output.dense.bias", np.zeros(D)),
              (p + "output.LayerNorm.weight", np.ones(D)), (p + "output.LayerNorm.bias", np.zeros(D))]
    save_safetensors(os.path.join(d, "model.safetensors"), t)
    return cfg, vocab_note


# ---- Inception ------------------------------------------------------------------------

def write_inception(out, lines):
    import torchvision
    from torchvision import transforms

    torch.manual_seed(3)
    m = torchvision.models.Inception3(num_classes=1000, aux_logits=False, transform_input=False, init_weights=True)
    # BatchNorm statistics from the sample images (cumulative average), so
    # the random trunk gives well-scaled features instead of exploding ones.
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.reset_running_stats()
            mod.momentum = None
    pre = transforms.Compose([transforms.Resize(342), transforms.CenterCrop(299), transforms.ToTensor(),
                              transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    x = torch.stack([pre(Image.open(os.path.join(out, "sample", l["image"])).convert("RGB")) for l in lines])
    m.train()
    with torch.no_grad():
        for i in range(0, len(x), 8):
            m(x[i:i + 8])
    m.eval()
    sd = m.state_dict()
    t = [(k, v.numpy()) for k, v in sd.items()
         if not k.startswith(("fc.", "AuxLogits.")) and not k.endswith("num_batches_tracked")]
    d = os.path.join(out, "model", "inception")
    os.makedirs(d, exist_ok=True)
    save_safetensors(os.path.join(d, "model.safetensors"), t)


# ---- profiler heads ------------------------------------------------------------------------

def write_profiler(out, text_dim):
    torch.manual_seed(4)
    E, I, X, D, A, H = 2048, 1024, text_dim, 256, 256, 256
    lin = lambda i, o: nn.Linear(i, o)
    mods = [("img_proj", lin(E, I)), ("post_proj", lin(I + X, D)), ("post_head.0", lin(D, H)),
            ("post_head.2", lin(H, len(POST_CLASSES))), ("attention.proj", lin(D, A)), ("inf_head.0", lin(D, H)),
            ("inf_head.2", lin(H, len(TOPICS)))]
    t = []
    for name, m in mods:
        t += [(name + ".weight", m.weight.detach().numpy()), (name + ".bias", m.bias.detach().numpy())]
    t.append(("attention.context", torch.empty(A).uniform_(-A ** -0.5, A ** -0.5).numpy()))
    cfg = {"img_pool": E, "img_dim": I, "text_dim": X, "post_dim": D, "att_dim": A, "head_hidden": H,
           "influencer_classes": TOPICS, "post_classes": POST_CLASSES,
           "image": {"resize": 342, "crop": 299, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                     "transform_input": False}}
    meta = {"format": "ipf-profiler", "format_version": "1", "config": json.dumps(cfg), "crc32": "auto",
            "note": "untrained demo model (seeded random weights)"}
    save_safetensors(os.path.join(out, "model", "profiler.safetensors"), t, meta)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_sample.py OUTDIR")
    out = sys.argv[1]
    lines = write_sample(out)
    bert_cfg, vocab_note = write_bert(out, lines)
    write_inception(out, lines)
    write_profiler(out, bert_cfg["hidden_size"])
    print("make_sample: %d influencers, %d posts in %s/sample" % (len(INFLUENCERS), len(lines), out))
    print("make_sample: UNTRAINED model bundle in %s/model: small BERT (%d layers, hidden %d) with %s; "
          "random Inception-v3 (BatchNorm statistics from the sample); random heads"
          % (out, bert_cfg["num_hidden_layers"], bert_cfg["hidden_size"], vocab_note))


if __name__ == "__main__":
    main()
