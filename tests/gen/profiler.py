"""Goldens for the profiler heads (DESIGN.md §1 from x_I on) and for
profiler.safetensors written by Python (the CRC-32 must agree with zlib's).

Writes into OUT (argv[1]):
  paper/profiler.safetensors   the paper's configuration, seeded weights
  small/profiler.safetensors   a small custom configuration (other dims, names)
  <cfg>/inf<k>_{pool,xt,v,post_probs,alpha,h,inf_probs}.npy   k = 0..2
  bad/*.safetensors            corrupt / wrong files for the error paths
"""
import json
import os
import sys
import zlib

import numpy as np
import torch
from torch import nn

import stio

PAPER_TOPICS = ["beauty", "family", "fashion", "fitness", "food", "interior", "pet", "travel"]


class Profiler(nn.Module):
    def __init__(self, E, I, X, D, A, H, Ci, Cp):
        super().__init__()
        self.img_proj = nn.Linear(E, I)
        self.post_proj = nn.Linear(I + X, D)
        self.post_head = nn.Sequential(nn.Linear(D, H), nn.ReLU(), nn.Linear(H, Cp))
        self.attention = nn.Module()
        self.attention.proj = nn.Linear(D, A)
        self.attention.context = nn.Parameter(torch.empty(A).uniform_(-A ** -0.5, A ** -0.5))
        self.inf_head = nn.Sequential(nn.Linear(D, H), nn.ReLU(), nn.Linear(H, Ci))

    def forward(self, pool, xt):  # pool (P,E), xt (P,X): one influencer
        xi = torch.relu(self.img_proj(pool))
        v = torch.relu(self.post_proj(torch.cat([xi, xt], dim=1)))  # image first
        post_probs = torch.softmax(self.post_head(v), dim=1)
        r = torch.tanh(self.attention.proj(v))
        alpha = torch.softmax(r @ self.attention.context, dim=0)
        h = (alpha[:, None] * v).sum(0)
        inf_probs = torch.softmax(self.inf_head(h), dim=0)
        return v, post_probs, alpha, h, inf_probs


def config_json(E, I, X, D, A, H, inf_names, post_names, image=None):
    c = {"img_pool": E, "img_dim": I, "text_dim": X, "post_dim": D, "att_dim": A, "head_hidden": H,
         "influencer_classes": inf_names, "post_classes": post_names}
    if image is not None:
        c["image"] = image
    return json.dumps(c)


def save_profiler(path, model, cfg, crc_override=None, fmt="ipf-profiler", version="1"):
    tensors = {k: v.detach().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    # data area in stio's order (sorted names): that is what the CRC covers
    data = b"".join(np.ascontiguousarray(tensors[k]).tobytes() for k in sorted(tensors))
    crc = "%08x" % (zlib.crc32(data) & 0xffffffff)
    meta = {"format": fmt, "format_version": version, "config": cfg, "crc32": crc_override or crc}
    stio.save(path, tensors, meta)
    return tensors


def make(out, name, dims, inf_names, post_names, image, posts_per_inf, seed):
    torch.manual_seed(seed)
    E, I, X, D, A, H = dims
    m = Profiler(E, I, X, D, A, H, len(inf_names), len(post_names)).eval()
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    save_profiler(os.path.join(d, "profiler.safetensors"), m,
                  config_json(E, I, X, D, A, H, inf_names, post_names, image))
    g = torch.Generator().manual_seed(seed + 1)
    for k, P in enumerate(posts_per_inf):
        # pool features are averages of ReLU outputs: non-negative, ~0.3 scale
        pool = torch.rand(P, E, generator=g) * 0.6
        xt = torch.randn(P, X, generator=g) * 0.5
        with torch.no_grad():
            outs = m(pool, xt)
        for tag, t in zip(["pool", "xt", "v", "post_probs", "alpha", "h", "inf_probs"], (pool, xt) + outs):
            np.save(os.path.join(d, "inf%d_%s.npy" % (k, tag)), t.numpy().astype(np.float32))
    return m


def main():
    out = sys.argv[1]
    paper = make(out, "paper", (2048, 1024, 768, 256, 256, 256), PAPER_TOPICS, PAPER_TOPICS + ["product", "other"],
                 None, [5, 1, 12], 7)
    make(out, "small", (40, 24, 16, 12, 10, 20), ["cats", "dogs", "birds"], ["a", "b", "c", "d"],
         {"resize": 256, "crop": 224, "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25], "transform_input": False},
         [3, 7, 2], 11)

    bad = os.path.join(out, "bad")
    os.makedirs(bad, exist_ok=True)
    cfg = config_json(2048, 1024, 768, 256, 256, 256, PAPER_TOPICS, PAPER_TOPICS + ["product", "other"])
    save_profiler(os.path.join(bad, "crc.safetensors"), paper, cfg, crc_override="deadbeef")
    save_profiler(os.path.join(bad, "format.safetensors"), paper, cfg, fmt="something-else")
    save_profiler(os.path.join(bad, "version.safetensors"), paper, cfg, version="2")
    # a tensor with the wrong shape: the config says text_dim 700
    save_profiler(os.path.join(bad, "shape.safetensors"), paper,
                  config_json(2048, 1024, 700, 256, 256, 256, PAPER_TOPICS, PAPER_TOPICS + ["product", "other"]))
    # a repeated class name
    save_profiler(os.path.join(bad, "names.safetensors"), paper,
                  config_json(2048, 1024, 768, 256, 256, 256, PAPER_TOPICS[:7] + ["beauty"],
                              PAPER_TOPICS + ["product", "other"]))


if __name__ == "__main__":
    main()
