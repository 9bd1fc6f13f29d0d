"""Goldens for fine-tuning Inception blocks (lib/inception.h).

case.safetensors: the
seeded model of _inception_model.py, its top k = 3 blocks (Mixed_7a, 7b, 7c)
with every BasicConv2d's eval-mode BN folded into a conv with bias (exactly as
the C loader folds: scale in float64, rounded to float32), run in float64
from random non-negative features (2, 768, 9, 7); L = sum(pool * G).
Writes OUTDIR/case.safetensors (float32): feat, G, pool, d_feat, and for every folded
conv "<block>.<branch>.weight|bias" its value (param.*) and gradient (grad.*).

full.safetensors: the whole trunk trainable (k = 12, stem included), every
BN folded the same way, from a 75x75 image (x, float32) with L = sum(pool * G):
pool, d_x (the image gradient) and the stem convs' gradients
(grad.Conv2d_*.weight|bias)."""
import os
import sys

import torch
import torch.nn.functional as F
import torchvision

import _inception_model
import stio

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
model = _inception_model.build(1234)
torch.manual_seed(99)
blocks = ['Mixed_7a', 'Mixed_7b', 'Mixed_7c']
tensors = {}
params = []
for bname in blocks:
    block = getattr(model, bname)
    for cname, basic in block.named_children():
        conv, bn = basic.conv, basic.bn
        s = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
        w = (conv.weight.double() * s[:, None, None, None]).float().double()
        b = (bn.bias.double() - bn.running_mean.double() * s).float().double()
        new = torch.nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                              bias=True).double()
        with torch.no_grad():
            new.weight.copy_(w)
            new.bias.copy_(b)
        basic.conv = new
        basic.bn = torch.nn.Identity()
        name = '%s.%s' % (bname, cname)
        params.append((name + '.weight', new.weight))
        params.append((name + '.bias', new.bias))
        tensors['param.%s.weight' % name] = w.detach().numpy()
        tensors['param.%s.bias' % name] = b.detach().numpy()

feat = F.relu(torch.randn(2, 768, 9, 7)).double().requires_grad_()
G = torch.randn(2, 2048).double()
x = feat
for bname in blocks:
    x = getattr(model, bname).double()(x)
pool = x.mean(dim=(2, 3))
(pool * G).sum().backward()
tensors.update({'feat': feat.detach().float().numpy(), 'G': G.float().numpy(), 'pool': pool.detach().numpy(),
                'd_feat': feat.grad.numpy()})
for name, p in params:
    tensors['grad.' + name] = p.grad.numpy()
# float32 on disk: parameters are float32 values already, and the test's
# tolerances are far above float32 rounding of the float64 results
tensors = {k: v.astype('float32') for k, v in tensors.items()}
stio.save(os.path.join(out, 'case.safetensors'), tensors)
print('pool max %.4g, grads max %.4g' % (pool.abs().max(), max(p.grad.abs().max() for _, p in params)))


# ---- the whole trunk (k = 12) ------------------------------------------------
model = _inception_model.build(1234)
torch.manual_seed(100)
for mod in list(model.modules()):
    for cname, basic in list(mod.named_children()):
        if not isinstance(basic, torchvision.models.inception.BasicConv2d):
            continue
        conv, bn = basic.conv, basic.bn
        s = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
        new = torch.nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                              bias=True).double()
        with torch.no_grad():
            new.weight.copy_((conv.weight.double() * s[:, None, None, None]).float().double())
            new.bias.copy_((bn.bias.double() - bn.running_mean.double() * s).float().double())
        basic.conv = new
        basic.bn = torch.nn.Identity()
model = model.double()
model.fc = torch.nn.Identity()
# A ReLU whose input is within float32 rounding of 0 flips between float32
# and float64, and at the 1x1 / 3x3 resolutions of a 75x75 image one flip
# changes a whole row of a weight gradient.  Draw images until every
# pre-activation at those resolutions is clear of 0 (the C test compares
# norms, so rare flips at the larger resolutions stay within tolerance).
pre = []
for mod in model.modules():
    if isinstance(mod, torchvision.models.inception.BasicConv2d):
        mod.conv.register_forward_hook(lambda _m, _i, o: pre.append(o.clone()))  # ReLU runs in place
for attempt in range(100):
    x = torch.randn(1, 3, 75, 75).double()
    pre.clear()
    with torch.no_grad():
        model(x)
    small = min(o.abs().min().item() for o in pre if o.shape[2] * o.shape[3] <= 9)
    if small > 3e-4:
        break
x.requires_grad_()
G = torch.randn(1, 2048).double()
pool = model(x)
(pool * G).sum().backward()
full = {'x': x.detach(), 'G': G, 'pool': pool.detach(), 'd_x': x.grad}
for name in ['Conv2d_1a_3x3', 'Conv2d_2a_3x3', 'Conv2d_2b_3x3', 'Conv2d_3b_1x1', 'Conv2d_4a_3x3']:
    conv = getattr(model, name).conv
    full['grad.%s.weight' % name] = conv.weight.grad
    full['grad.%s.bias' % name] = conv.bias.grad
stio.save(os.path.join(out, 'full.safetensors'), {k: v.numpy().astype('float32') for k, v in full.items()})
print('full (draw %d): pool max %.4g, d_x max %.4g' % (attempt, pool.abs().max(), x.grad.abs().max()))
