#!/usr/bin/python3
"""A seeded, UNTRAINED model bundle sized for training demos and CLI checks.

    make_demo_model.py OUTDIR --manifest MANIFEST [--crop 299] [--resize 342]
                       [--stats-images 32] [--bert-layers 2] [--bert-hidden 128]

Writes OUTDIR/{profiler.safetensors, bert/, inception/}:
  bert/       a small BERT (make_sample.write_bert: random, seeded), with the
              BERT-base uncased vocabulary from ../shared when present
  inception/  the full torchvision Inception3 trunk, random weights (seeded),
              BatchNorm statistics measured on up to --stats-images images of
              the manifest at the chosen crop, so features are well scaled
  profiler    heads with nn.Linear's default initialisation; the image
              preprocessing (resize / crop) is stored in its config, so a
              smaller crop makes every image cheaper to encode (>= 75)
Class names: the paper's 8 topics and 8 + product + other post classes.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
from PIL import Image
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_sample  # noqa: E402  (save_safetensors, write_bert, class names)


def write_inception(model_dir, images, resize, crop):
    import torchvision
    from torchvision import transforms
    torch.manual_seed(3)
    m = torchvision.models.Inception3(num_classes=1000, aux_logits=False, transform_input=False, init_weights=True)
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.reset_running_stats()
            mod.momentum = None  # cumulative average over the statistics batches
    pre = transforms.Compose([transforms.Resize(resize), transforms.CenterCrop(crop), transforms.ToTensor(),
                              transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    x = torch.stack([pre(Image.open(p).convert("RGB")) for p in images])
    m.train()
    with torch.no_grad():
        for i in range(0, len(x), 16):
            m(x[i:i + 16])
    m.eval()
    t = [(k, v.numpy()) for k, v in m.state_dict().items()
         if not k.startswith(("fc.", "AuxLogits.")) and not k.endswith("num_batches_tracked")]
    os.makedirs(os.path.join(model_dir, "inception"), exist_ok=True)
    make_sample.save_safetensors(os.path.join(model_dir, "inception", "model.safetensors"), t)


def write_profiler(model_dir, text_dim, resize, crop):
    torch.manual_seed(4)
    E, I, X, D, A, H = 2048, 1024, text_dim, 256, 256, 256
    mods = [("img_proj", nn.Linear(E, I)), ("post_proj", nn.Linear(I + X, D)), ("post_head.0", nn.Linear(D, H)),
            ("post_head.2", nn.Linear(H, len(make_sample.POST_CLASSES))), ("attention.proj", nn.Linear(D, A)),
            ("inf_head.0", nn.Linear(D, H)), ("inf_head.2", nn.Linear(H, len(make_sample.TOPICS)))]
    t = []
    for name, m in mods:
        t += [(name + ".weight", m.weight.detach().numpy()), (name + ".bias", m.bias.detach().numpy())]
    t.append(("attention.context", torch.empty(A).uniform_(-A ** -0.5, A ** -0.5).numpy()))
    cfg = {"img_pool": E, "img_dim": I, "text_dim": X, "post_dim": D, "att_dim": A, "head_hidden": H,
           "influencer_classes": make_sample.TOPICS, "post_classes": make_sample.POST_CLASSES,
           "image": {"resize": resize, "crop": crop, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                     "transform_input": False}}
    meta = {"format": "ipf-profiler", "format_version": "1", "config": json.dumps(cfg), "crc32": "auto",
            "note": "untrained demo model (seeded random weights)"}
    make_sample.save_safetensors(os.path.join(model_dir, "profiler.safetensors"), t, meta)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--manifest", required=True, help="images for the BatchNorm statistics")
    ap.add_argument("--crop", type=int, default=299)
    ap.add_argument("--resize", type=int, default=0, help="short side before the crop (default crop * 342/299)")
    ap.add_argument("--stats-images", type=int, default=32)
    ap.add_argument("--bert-layers", type=int, default=2)
    ap.add_argument("--bert-hidden", type=int, default=128)
    a = ap.parse_args()
    resize = a.resize or int(round(a.crop * 342 / 299))
    with open(a.manifest, encoding="utf-8") as f:
        lines = [json.loads(l) for l in f if l.strip()]
    base = os.path.dirname(os.path.abspath(a.manifest))
    imgs = [os.path.join(base, l["image"]) for l in lines if l.get("image")]
    step = max(1, len(imgs) // a.stats_images)
    imgs = imgs[::step][:a.stats_images]
    make_sample.BERT_CFG.update(num_hidden_layers=a.bert_layers, hidden_size=a.bert_hidden,
                                num_attention_heads=max(1, a.bert_hidden // 64), intermediate_size=4 * a.bert_hidden)
    # write_bert puts the encoder in <parent>/model/bert: give it a parent whose model/ is out
    parent = os.path.join(a.out, ".bert_tmp")
    bert_cfg, _ = make_sample.write_bert(parent, [{"caption": l.get("caption") or ""} for l in lines])
    os.makedirs(a.out, exist_ok=True)
    if os.path.exists(os.path.join(a.out, "bert")):
        import shutil
        shutil.rmtree(os.path.join(a.out, "bert"))
    os.replace(os.path.join(parent, "model", "bert"), os.path.join(a.out, "bert"))
    os.removedirs(os.path.join(parent, "model"))
    write_inception(a.out, imgs, resize, a.crop)
    write_profiler(a.out, bert_cfg["hidden_size"], resize, a.crop)
    print("make_demo_model: untrained bundle in %s (BERT %d layers x %d, Inception-v3 at %d px, BN stats from %d "
          "images)" % (a.out, a.bert_layers, a.bert_hidden, a.crop, len(imgs)))


if __name__ == "__main__":
    main()
