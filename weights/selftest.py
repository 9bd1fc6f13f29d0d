#!/usr/bin/python3
"""Self-test of the weights tooling on locally generated files (run by
tests/check_56_weights.sh; no network):

 1. a seeded torchvision inception_v3 (transform_input=True) saved as .pth
 2. convert_torchvision.py -> safetensors: every tensor equal, heads dropped
 3. make_bundle.py with seeded heads (+ the shared BERT vocab if present)
 4. once the library has ipf_model_load: load the bundle through the Python
    binding; profile posts with cached features and compare with a numpy
    forward of the heads written by make_bundle; encode one image tensor and
    compare with torchvision's trunk.

  selftest.py WORKDIR"""
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, 'tests', 'gen'))
sys.path.insert(0, os.path.join(REPO, 'bindings', 'python'))
import stio  # noqa: E402


def run(*args):
    print('+', ' '.join(args))
    subprocess.run([sys.executable] + list(args), check=True)


def heads_forward(t, pool, xt):
    """numpy forward of the profiler (DESIGN.md §1) for one influencer."""
    relu = lambda x: np.maximum(x, 0)  # noqa: E731

    def lin(name, x):
        return x @ t[name + '.weight'].T.astype(np.float64) + t[name + '.bias']

    def softmax(z, axis=-1):
        z = z - z.max(axis=axis, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=axis, keepdims=True)

    xi = relu(lin('img_proj', pool))
    v = relu(lin('post_proj', np.concatenate([xi, xt], axis=1)))
    post_probs = softmax(lin('post_head.2', relu(lin('post_head.0', v))))
    r = np.tanh(lin('attention.proj', v))
    alpha = softmax(r @ t['attention.context'], axis=0)
    h = (alpha[:, None] * v).sum(0)
    inf_probs = softmax(lin('inf_head.2', relu(lin('inf_head.0', h[None]))))[0]
    return inf_probs, post_probs, alpha


def main():
    work = sys.argv[1]
    os.makedirs(work, exist_ok=True)
    import torch
    import torchvision
    torch.manual_seed(0)
    m = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=True, transform_input=True)
    # Batch-norm statistics measured on random images (cumulative average), so
    # activations stay O(1) through 94 layers in eval mode, then perturbed.
    bns = [mod for mod in m.modules() if isinstance(mod, torch.nn.BatchNorm2d)]
    for mod in bns:
        mod.reset_running_stats()
        mod.momentum = None
    m.train()
    aux, m.AuxLogits = m.AuxLogits, None  # the aux head needs 299x299 inputs; its BN keeps defaults
    with torch.no_grad():
        m(torch.randn(2, 3, 160, 160))
        m.AuxLogits = aux
        for mod in bns:
            mod.running_mean.add_(torch.empty_like(mod.running_mean).uniform_(-0.05, 0.05))
            mod.running_var.mul_(torch.empty_like(mod.running_var).uniform_(0.9, 1.1))
    m.eval()
    pth = os.path.join(work, 'inception_seeded.pth')
    torch.save(m.state_dict(), pth)

    st = os.path.join(work, 'inception.safetensors')
    run(os.path.join(HERE, 'convert_torchvision.py'), pth, st)
    got, _ = stio.load(st)
    sd = {k: v for k, v in m.state_dict().items() if not k.endswith('num_batches_tracked')}
    trunk = {k for k in sd if not k.startswith(('fc.', 'AuxLogits.'))}
    assert set(got) == trunk, sorted(set(got) ^ trunk)[:5]
    for k in trunk:
        assert np.array_equal(got[k], sd[k].numpy()), k
    print('convert: %d tensors equal, fc/AuxLogits dropped' % len(trunk))

    bundle = os.path.join(work, 'bundle')
    args = [os.path.join(HERE, 'make_bundle.py'), bundle, '--inception', st, '--seed', '3', '--link']
    vocab = next((p for p in (os.path.join(REPO, '..', 'shared', 'data', 'bert-base-uncased-vocab.txt'),
                              '/work/shared/data/bert-base-uncased-vocab.txt') if os.path.exists(p)), None)
    if vocab:
        args += ['--vocab', vocab]
    run(*args)
    heads, meta = stio.load(os.path.join(bundle, 'profiler.safetensors'))
    cfg = json.loads(meta['config'])
    assert meta['format'] == 'ipf-profiler' and meta['format_version'] == '1', meta
    print('make_bundle: %d head tensors, config %s' % (len(heads), {k: cfg[k] for k in ('img_pool', 'text_dim')}))

    import influencer_profiler as ipf
    if not ipf._lib.lib().has('ipf_model_load'):
        print('SKIP loading: this library build has no ipf_model_load yet')
        return
    with ipf.Model.load(bundle) as model, model.session(threads=1) as s:
        print(repr(model))
        assert model.has('profiler') and model.has('image_encoder')
        assert model.has('tokenizer') == bool(vocab)
        assert model.class_names('influencer') == cfg['influencer_classes']
        assert model.class_names('post') == cfg['post_classes']
        rng = np.random.default_rng(5)
        pool = (rng.random((4, 2048)) * 0.6).astype(np.float32)
        xt = (rng.standard_normal((4, 768)) * 0.5).astype(np.float32)
        posts = [ipf.Post(id=i, image_feature=pool[i], text_feature=xt[i]) for i in range(4)]
        r = s.profile(posts)
        inf_p, post_p, alpha = heads_forward(heads, pool.astype(np.float64), xt.astype(np.float64))
        # float32 library vs float64 numpy over 2048->1024->256 layers: 1e-5 absolute on probabilities
        err = max(np.abs(np.array(list(r['probs'].values())) - inf_p).max(),
                  np.abs(np.array([list(p['probs'].values()) for p in r['posts']]) - post_p).max(),
                  np.abs(np.array(r['attention']) - alpha).max())
        print('profile vs numpy heads: max abs err %.2e' % err)
        assert err <= 1e-5, err

        x = torch.rand(1, 3, 299, 299) * 4 - 2  # a preprocessed-looking tensor
        m.fc = torch.nn.Identity()
        with torch.no_grad():
            ref = m(x).numpy()[0].astype(np.float64)
        ours = np.asarray(s.encode_image_tensor(x.numpy()))[0]
        err = np.abs(ours - ref)
        # float32, 94 convolutions in a different summation order: |d| <= 2e-4 + 2e-3 |ref|
        bad = (err > 2e-4 + 2e-3 * np.abs(ref)).sum()
        print('encode_image_tensor vs torchvision: max abs err %.2e (max |ref| %.2f), %d outside tolerance'
              % (err.max(), np.abs(ref).max(), bad))
        assert bad == 0

    # --profiler copies an existing (e.g. trained) head file; --verify loads the result.
    bundle2 = os.path.join(work, 'bundle2')
    run(os.path.join(HERE, 'make_bundle.py'), bundle2, '--inception', st, '--link', '--verify',
        '--profiler', os.path.join(bundle, 'profiler.safetensors'))
    with open(os.path.join(bundle, 'profiler.safetensors'), 'rb') as a, \
            open(os.path.join(bundle2, 'profiler.safetensors'), 'rb') as b:
        assert a.read() == b.read()
    print('weights selftest: ok')


if __name__ == '__main__':
    main()
