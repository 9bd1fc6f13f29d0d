"""Goldens for tests/test_train_ref.c: the profiler heads (DESIGN.md §1) in
PyTorch with the same tensor names as profiler.safetensors, at full paper
width (E=2048, I=1024, X=768, D=A=H=256, C_i=8, C_p=10).

For a batch of 4 influencers (5, 1, 7 and 3 posts; some posts unlabelled,
one influencer unlabelled) with fixed dropout masks (0 or 2, i.e. p=0.5):
  - loss and every parameter gradient in float64 (the truth), for attention
    pooling and for mean pooling; d(loss)/d(pool) and d(loss)/d(x_T);
  - 5 steps of torch.optim.Adam(lr=1e-3) and of AdamW(lr=1e-3, wd=0.01) with
    clip_grad_norm_(1.0), in float32, recording the loss before each step and
    after the last (6 values each).
Batch loss = mean over influencers of CE(inf) + 1.0 * mean_labelled CE(post);
an unlabelled influencer contributes only its post term.
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

E, I, X, D, A, H, CI, CP = 2048, 1024, 768, 256, 256, 256, 8, 10
NAMES = ['img_proj.weight', 'img_proj.bias', 'post_proj.weight', 'post_proj.bias',
         'post_head.0.weight', 'post_head.0.bias', 'post_head.2.weight', 'post_head.2.bias',
         'attention.proj.weight', 'attention.proj.bias', 'attention.context',
         'inf_head.0.weight', 'inf_head.0.bias', 'inf_head.2.weight', 'inf_head.2.bias']


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(D, A)
        self.context = nn.Parameter(torch.randn(A) * 0.1)


class Profiler(nn.Module):
    def __init__(self):
        super().__init__()
        self.img_proj = nn.Linear(E, I)
        self.post_proj = nn.Linear(I + X, D)
        self.post_head = nn.Sequential(nn.Linear(D, H), nn.ReLU(), nn.Linear(H, CP))
        self.attention = Attention()
        self.inf_head = nn.Sequential(nn.Linear(D, H), nn.ReLU(), nn.Linear(H, CI))

    def influencer_loss(self, pool, xt, y_inf, y_post, mv, mh, pooling):
        xi = F.relu(self.img_proj(pool))
        v = F.relu(self.post_proj(torch.cat([xi, xt], 1)))
        vd = v * mv
        pl = self.post_head(vd)
        if pooling == 'attention':
            r = torch.tanh(self.attention.proj(vd))
            alpha = torch.softmax(r @ self.attention.context, 0)
        else:
            alpha = torch.full((vd.shape[0],), 1.0 / vd.shape[0], dtype=vd.dtype)
        h = (alpha[:, None] * vd).sum(0)
        il = self.inf_head(h * mh)
        loss = F.cross_entropy(il[None], torch.tensor([y_inf])) if y_inf >= 0 else torch.zeros((), dtype=vd.dtype)
        lab = y_post >= 0
        if lab.any():
            loss = loss + 1.0 * F.cross_entropy(pl[lab], y_post[lab])
        return loss


def make_batch(rng):
    sizes = [5, 1, 7, 3]
    yinf = [2, 5, 7, -1]
    batch = []
    for n, yi in zip(sizes, yinf):
        pool = np.abs(rng.standard_normal((n, E))).astype(np.float32) * 0.5
        xt = (rng.standard_normal((n, X)) * 0.5).astype(np.float32)
        yp = rng.integers(0, CP, n)
        yp[rng.random(n) < 0.3] = -1
        if n == 1:
            yp[:] = -1
        mv = (rng.random((n, D)) >= 0.5).astype(np.float32) * 2
        mh = (rng.random(D) >= 0.5).astype(np.float32) * 2
        batch.append((pool, xt, yi, yp.astype(np.int64), mv, mh))
    return batch


def batch_loss(model, batch, dtype, pooling, grad_inputs=False):
    total = 0
    inputs = []
    for pool, xt, yi, yp, mv, mh in batch:
        p = torch.tensor(pool, dtype=dtype, requires_grad=grad_inputs)
        t = torch.tensor(xt, dtype=dtype, requires_grad=grad_inputs)
        inputs.append((p, t))
        total = total + model.influencer_loss(p, t, yi, torch.tensor(yp), torch.tensor(mv, dtype=dtype),
                                              torch.tensor(mh, dtype=dtype), pooling)
    return total / len(batch), inputs


def main(out):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = Profiler()
    params = {k: v.detach().clone() for k, v in model.state_dict().items()}
    assert sorted(params) == sorted(NAMES)
    batch = make_batch(rng)
    for k, v in params.items():
        np.save(os.path.join(out, 'p_%s.npy' % k), v.numpy().astype(np.float32))
    for b, (pool, xt, yi, yp, mv, mh) in enumerate(batch):
        for nm, arr in (('pool', pool), ('xt', xt), ('ypost', yp), ('mv', mv), ('mh', mh)):
            np.save(os.path.join(out, 'inf%d_%s.npy' % (b, nm)), arr)
    np.save(os.path.join(out, 'yinf.npy'), np.array([b[2] for b in batch], dtype=np.int64))

    losses = []
    for pooling in ('attention', 'mean'):
        m64 = Profiler().double()
        m64.load_state_dict({k: v.double() for k, v in params.items()})
        loss, inputs = batch_loss(m64, batch, torch.float64, pooling, grad_inputs=True)
        loss.backward()
        losses.append(loss.item())
        for k, p in m64.named_parameters():
            g = p.grad if p.grad is not None else torch.zeros_like(p)  # mean pooling: attention unused
            np.save(os.path.join(out, 'g_%s_%s.npy' % (pooling, k)), g.numpy().astype(np.float32))
        if pooling == 'attention':
            for b, (p, t) in enumerate(inputs):
                np.save(os.path.join(out, 'dpool%d.npy' % b), p.grad.numpy().astype(np.float32))
                np.save(os.path.join(out, 'dxt%d.npy' % b), t.grad.numpy().astype(np.float32))
    np.save(os.path.join(out, 'loss.npy'), np.array(losses, dtype=np.float64))

    for name in ('adam', 'adamw'):
        m = Profiler()
        m.load_state_dict(params)
        if name == 'adam':
            opt = torch.optim.Adam(m.parameters(), lr=1e-3)
        else:
            opt = torch.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=0.01)
        traj = []
        for step in range(5):
            opt.zero_grad()
            loss, _ = batch_loss(m, batch, torch.float32, 'attention')
            loss.backward()
            if name == 'adamw':
                torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
            opt.step()
            traj.append(loss.item())
        with torch.no_grad():
            traj.append(batch_loss(m, batch, torch.float32, 'attention')[0].item())
        np.save(os.path.join(out, 'traj_%s.npy' % name), np.array(traj, dtype=np.float64))
        for k, v in m.state_dict().items():
            if k in ('inf_head.2.bias', 'post_head.2.bias', 'attention.context'):
                np.save(os.path.join(out, 'p5_%s_%s.npy' % (name, k)), v.numpy())
    print('train_ref: loss %.6f (attention) %.6f (mean)' % tuple(losses))


if __name__ == '__main__':
    main(sys.argv[1])
