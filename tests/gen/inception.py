"""Goldens for the Inception-v3 trunk: torchvision's Inception3 with seeded
random weights and BatchNorm statistics, run in float64.

Writes into OUTDIR:
  model.safetensors           float32 weights, torchvision names (no aux head, no fc)
  x_<case>.npy                float32 inputs (N,3,H,W)
  pool_<case>_t<0|1>.npy      float64 pool features (N,2048), transform_input off/on
"""
import os
import sys

import numpy as np
import torch
import _inception_model
import stio

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
torch.set_num_threads(2)

model = _inception_model.build(1234)

sd = {k: v for k, v in model.state_dict().items() if not k.startswith(('fc.', 'AuxLogits.'))}
stio.save(os.path.join(out, 'model.safetensors'), sd)

model = model.double()
cases = [('299x299_b2', 2, 299, 299, [0]), ('320x301_b1', 1, 320, 301, [1]), ('75x75_b1', 1, 75, 75, [0, 1])]
feats = {}


def hook(_m, _i, o):
    feats['pool'] = o


model.avgpool.register_forward_hook(hook)
for name, n, h, w, tis in cases:
    x = torch.randn(n, 3, h, w)
    np.save(os.path.join(out, 'x_%s.npy' % name), x.numpy().astype(np.float32))
    for ti in tis:
        model.transform_input = bool(ti)
        with torch.no_grad():
            model(x.double())
        pool = feats['pool'].flatten(1).numpy()
        np.save(os.path.join(out, 'pool_%s_t%d.npy' % (name, ti)), pool)
        print(name, 't%d' % ti, 'pool mean %.4g max %.4g' % (pool.mean(), np.abs(pool).max()))
