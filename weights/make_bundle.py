#!/usr/bin/python3
"""Assemble a model bundle directory from local files (docs/FORMATS.md):

  OUT/profiler.safetensors              heads + config (given, or seeded untrained)
  OUT/bert/{config.json,vocab.txt,model.safetensors[,tokenizer_config.json]}
  OUT/inception/model.safetensors

  make_bundle.py OUT [--bert DIR] [--vocab FILE] [--inception FILE]
                 [--profiler FILE | --seed N --influencer-classes a,b --post-classes a,b]
                 [--no-transform-input] [--link] [--verify]

Without --profiler, profiler.safetensors gets untrained heads initialised
like PyTorch's nn.Linear (uniform +-1/sqrt(fan_in)) from --seed, in the
format lib/profiler.c reads: metadata format "ipf-profiler",
format_version "1", config (JSON), crc32 (zlib CRC-32 of the data area, 8
hex digits).  Such a bundle runs end to end but its classes are
meaningless until trained (`ipf train`).  numpy only; no PyTorch needed."""
import argparse
import json
import os
import shutil
import sys
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'gen'))
import stio  # noqa: E402

PAPER_TOPICS = ['beauty', 'family', 'fashion', 'fitness', 'food', 'interior', 'pet', 'travel']
PAPER_POSTS = PAPER_TOPICS + ['product', 'other']
FORMAT, FORMAT_VERSION = 'ipf-profiler', '1'


def profiler_config(text_dim=768, img_pool=2048, img_dim=1024, post_dim=256, att_dim=256, head_hidden=256,
                    influencer_classes=None, post_classes=None, transform_input=True):
    return {'img_pool': img_pool, 'img_dim': img_dim, 'text_dim': text_dim, 'post_dim': post_dim,
            'att_dim': att_dim, 'head_hidden': head_hidden,
            'influencer_classes': list(influencer_classes or PAPER_TOPICS),
            'post_classes': list(post_classes or PAPER_POSTS),
            'image': {'resize': 342, 'crop': 299, 'mean': [0.485, 0.456, 0.406], 'std': [0.229, 0.224, 0.225],
                      'transform_input': bool(transform_input)}}


def seeded_heads(cfg, seed):
    """Tensors named as lib/profiler.h, PyTorch-default-style init."""
    E, I, X, D = cfg['img_pool'], cfg['img_dim'], cfg['text_dim'], cfg['post_dim']
    A, H = cfg['att_dim'], cfg['head_hidden']
    Ci, Cp = len(cfg['influencer_classes']), len(cfg['post_classes'])
    rng = np.random.default_rng(seed)
    t = {}

    def linear(name, n_out, n_in):
        b = 1.0 / np.sqrt(n_in)
        t[name + '.weight'] = rng.uniform(-b, b, (n_out, n_in)).astype(np.float32)
        t[name + '.bias'] = rng.uniform(-b, b, (n_out,)).astype(np.float32)

    linear('img_proj', I, E)
    linear('post_proj', D, I + X)  # input [x_I ; x_T], image first
    linear('post_head.0', H, D)
    linear('post_head.2', Cp, H)
    linear('attention.proj', A, D)
    t['attention.context'] = rng.uniform(-A ** -0.5, A ** -0.5, (A,)).astype(np.float32)
    linear('inf_head.0', H, D)
    linear('inf_head.2', Ci, H)
    return t


def write_profiler(path, tensors, cfg):
    data = b''.join(np.ascontiguousarray(tensors[k], dtype=np.float32).tobytes() for k in sorted(tensors))
    meta = {'format': FORMAT, 'format_version': FORMAT_VERSION, 'config': json.dumps(cfg),
            'crc32': '%08x' % (zlib.crc32(data) & 0xffffffff)}
    tmp = path + '.tmp'
    stio.save(tmp, tensors, meta)
    os.replace(tmp, path)


def place(src, dst, link):
    if os.path.lexists(dst):
        os.remove(dst)
    if link:
        os.symlink(os.path.abspath(src), dst)
    else:
        shutil.copyfile(src, dst)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('out')
    ap.add_argument('--bert', help='Hugging Face BERT directory (config.json, model.safetensors, vocab.txt)')
    ap.add_argument('--vocab', help='vocab.txt (default: the one in --bert); alone it gives a tokenizer only')
    ap.add_argument('--inception', help='Inception-v3 safetensors (weights/convert_torchvision.py output)')
    ap.add_argument('--profiler', help='an existing profiler.safetensors (e.g. from ipf train)')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--influencer-classes', default=','.join(PAPER_TOPICS))
    ap.add_argument('--post-classes', default=','.join(PAPER_POSTS))
    ap.add_argument('--no-transform-input', action='store_true',
                    help='Inception weights not trained by Google (transform_input=False)')
    ap.add_argument('--link', action='store_true', help='symlink large files instead of copying')
    ap.add_argument('--verify', action='store_true', help='load the bundle with the Python binding')
    a = ap.parse_args(argv)

    os.makedirs(a.out, exist_ok=True)
    text_dim = 768
    if a.bert or a.vocab:
        bdir = os.path.join(a.out, 'bert')
        os.makedirs(bdir, exist_ok=True)
        if a.bert:
            for f in ('config.json', 'model.safetensors', 'tokenizer_config.json'):
                if os.path.exists(os.path.join(a.bert, f)):
                    place(os.path.join(a.bert, f), os.path.join(bdir, f), a.link and f.endswith('.safetensors'))
            with open(os.path.join(a.bert, 'config.json')) as f:
                text_dim = int(json.load(f)['hidden_size'])
        vocab = a.vocab or (os.path.join(a.bert, 'vocab.txt') if a.bert else None)
        if vocab and os.path.exists(vocab):
            place(vocab, os.path.join(bdir, 'vocab.txt'), False)
    if a.inception:
        idir = os.path.join(a.out, 'inception')
        os.makedirs(idir, exist_ok=True)
        place(a.inception, os.path.join(idir, 'model.safetensors'), a.link)

    dst = os.path.join(a.out, 'profiler.safetensors')
    if a.profiler:
        _, meta = stio.load(a.profiler)
        if meta.get('format') != FORMAT:
            raise SystemExit('%s: metadata format is %r, not %r' % (a.profiler, meta.get('format'), FORMAT))
        place(a.profiler, dst, False)
    else:
        cfg = profiler_config(text_dim=text_dim, influencer_classes=a.influencer_classes.split(','),
                              post_classes=a.post_classes.split(','), transform_input=not a.no_transform_input)
        write_profiler(dst, seeded_heads(cfg, a.seed), cfg)
        print('%s: untrained heads (seed %d)' % (dst, a.seed))

    if a.verify:
        sys.path.insert(0, os.path.join(HERE, '..', 'bindings', 'python'))
        import influencer_profiler as ipf
        with ipf.Model.load(a.out) as m:
            print(repr(m))
    print('bundle ready: %s' % a.out)


if __name__ == '__main__':
    main()
