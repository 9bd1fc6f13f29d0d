"""Golden for the image ops' backward: y1 = relu(conv2d(x, w, b, stride 2,
pad 1)); y2 = max_pool2d(y1, 3, 2); y3 = avg_pool2d(y1, 3, 1, 1);
L = sum(y2 * g2) + sum(y3 * g3); float64 autograd.  Writes OUTDIR/case.safetensors."""
import os
import sys

import torch
import torch.nn.functional as F

import stio

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
torch.manual_seed(7)
x = torch.randn(2, 8, 11, 9, dtype=torch.float64).float().double().requires_grad_()
w = (0.3 * torch.randn(16, 8, 3, 3, dtype=torch.float64)).float().double().requires_grad_()
b = (0.1 * torch.randn(16, dtype=torch.float64)).float().double().requires_grad_()
y1 = F.relu(F.conv2d(x, w, b, stride=2, padding=1))
y2 = F.max_pool2d(y1, 3, 2)
y3 = F.avg_pool2d(y1, 3, 1, 1)
g2 = torch.randn_like(y2).float().double()
g3 = torch.randn_like(y3).float().double()
loss = (y2 * g2).sum() + (y3 * g3).sum()
loss.backward()
t = {'x': x, 'w': w, 'b': b, 'g2': g2, 'g3': g3, 'y1': y1, 'y2': y2, 'y3': y3,
     'dx': x.grad, 'dw': w.grad, 'db': b.grad}
stio.save(os.path.join(out, 'case.safetensors'), {k: v.detach().numpy() for k, v in t.items()})
