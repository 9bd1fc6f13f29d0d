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
import torchvision

import stio

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
torch.manual_seed(1234)
torch.set_num_threads(2)

model = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=True,
                                        transform_input=False)
# BN statistics: first measure real ones on random images (so activations stay
# O(1) through 94 layers in eval mode), then perturb them and the affine
# parameters so the fold into the convs is really exercised.
bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
for m in bns:
    m.reset_running_stats()
    m.momentum = None  # cumulative average
model.train()
with torch.no_grad():
    model(torch.randn(2, 3, 299, 299))
    for m in bns:
        c = m.num_features
        m.running_var.mul_(torch.empty(c).uniform_(0.7, 1.4))
        m.running_mean.add_(0.2 * torch.randn(c) * m.running_var.sqrt())
        m.weight.copy_(torch.empty(c).uniform_(0.6, 1.4))
        m.bias.copy_(torch.empty(c).uniform_(-0.2, 0.3))
model.eval()

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
