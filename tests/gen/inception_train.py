"""Golden for fine-tuning the top Inception blocks (lib/inception.h): the
seeded model of _inception_model.py, its top k = 3 blocks (Mixed_7a, 7b, 7c)
with every BasicConv2d's eval-mode BN folded into a conv with bias (exactly as
the C loader folds: scale in float64, rounded to float32), run in float64
from random non-negative features (2, 768, 9, 7); L = sum(pool * G).
Writes OUTDIR/case.safetensors (float32): feat, G, pool, d_feat, and for every folded
conv "<block>.<branch>.weight|bias" its value (param.*) and gradient (grad.*)."""
import os
import sys

import torch
import torch.nn.functional as F

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
