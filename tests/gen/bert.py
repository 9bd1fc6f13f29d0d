"""Goldens for the BERT encoder (lib/bert.c): a plain-PyTorch BertModel with
Hugging Face tensor names (transformers is not in Debian), random weights
from a seed, float64 reference [CLS] outputs.

Writes, under OUTDIR:
  bert/                 BERT-base (hidden 768, 12 layers, 12 heads, FFN 3072,
                        vocab 30522, 512 positions): config.json,
                        model.safetensors (float32), vocab.txt when the shared
                        copy exists
  bert_small/           the same at hidden 64, 2 layers, 4 heads, FFN 128 (for
                        IPF_TEST_LIGHT and gradient tests)
  bert_small_prefixed/  bert_small with a "bert." prefix and old LayerNorm
                        gamma/beta names (loader compatibility)
  bert_small_badshape/  bert_small with layer 1's intermediate weight transposed
  {base,small}_ids_L.npy, {base,small}_cls_L.npy   int64 ids and float64
                        [CLS] output (hidden,) for each length L
  {base,small}_batch_ids.npy / _batch_lens.npy / _batch_cls.npy   a ragged
                        batch: ids concatenated, lengths, (n, hidden) outputs
Usage: bert.py OUTDIR
"""
import json
import math
import os
import shutil
import sys

import numpy as np
import torch
from torch import nn

import stio

LENGTHS = [5, 16, 77, 128]
BATCH_LENS = [3, 33, 1, 20, 9]
CLS, SEP = 101, 102


class SelfAttention(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.query, self.key, self.value = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)


class SelfOutput(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.dense, self.LayerNorm = nn.Linear(d, d), nn.LayerNorm(d, eps=eps)


class Attention(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.self, self.output = SelfAttention(d), SelfOutput(d, eps)


class Intermediate(nn.Module):
    def __init__(self, d, f):
        super().__init__()
        self.dense = nn.Linear(d, f)


class Output(nn.Module):
    def __init__(self, d, f, eps):
        super().__init__()
        self.dense, self.LayerNorm = nn.Linear(f, d), nn.LayerNorm(d, eps=eps)


class Layer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, f, eps = cfg['hidden_size'], cfg['intermediate_size'], cfg['layer_norm_eps']
        self.heads = cfg['num_attention_heads']
        self.attention, self.intermediate, self.output = Attention(d, eps), Intermediate(d, f), Output(d, f, eps)

    def forward(self, x):  # x (T, D), one sequence, attention over all of it
        T, D = x.shape
        H, dh = self.heads, D // self.heads
        a = self.attention
        q = a.self.query(x).view(T, H, dh).transpose(0, 1)
        k = a.self.key(x).view(T, H, dh).transpose(0, 1)
        v = a.self.value(x).view(T, H, dh).transpose(0, 1)
        p = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(dh), dim=-1)
        ctx = (p @ v).transpose(0, 1).reshape(T, D)
        x = a.output.LayerNorm(a.output.dense(ctx) + x)
        h = torch.nn.functional.gelu(self.intermediate.dense(x))  # exact erf GELU
        return self.output.LayerNorm(self.output.dense(h) + x)


class Embeddings(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg['hidden_size']
        self.word_embeddings = nn.Embedding(cfg['vocab_size'], d)
        self.position_embeddings = nn.Embedding(cfg['max_position_embeddings'], d)
        self.token_type_embeddings = nn.Embedding(cfg['type_vocab_size'], d)
        self.LayerNorm = nn.LayerNorm(d, eps=cfg['layer_norm_eps'])
        self.register_buffer('position_ids', torch.arange(cfg['max_position_embeddings']).unsqueeze(0))

    def forward(self, ids):
        T = ids.shape[0]
        x = self.word_embeddings(ids) + self.position_embeddings.weight[:T] + self.token_type_embeddings.weight[0]
        return self.LayerNorm(x)


class Encoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.layer = nn.ModuleList([Layer(cfg) for _ in range(cfg['num_hidden_layers'])])


class Pooler(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.dense = nn.Linear(d, d)


class BertModel(nn.Module):
    """HF BertModel's parameter names; forward on one unpadded sequence."""

    def __init__(self, cfg):
        super().__init__()
        self.embeddings, self.encoder, self.pooler = Embeddings(cfg), Encoder(cfg), Pooler(cfg['hidden_size'])

    def hidden(self, ids, upto=None):
        x = self.embeddings(ids)
        for layer in self.encoder.layer[:upto]:
            x = layer(x)
        return x

    def forward(self, ids):
        return self.hidden(ids)[0]  # x_T: last layer at [CLS]


def config(hidden, layers, heads, ffn):
    return {'architectures': ['BertModel'], 'model_type': 'bert', 'hidden_size': hidden,
            'num_hidden_layers': layers, 'num_attention_heads': heads, 'intermediate_size': ffn,
            'hidden_act': 'gelu', 'hidden_dropout_prob': 0.1, 'attention_probs_dropout_prob': 0.1,
            'max_position_embeddings': 512, 'type_vocab_size': 2, 'vocab_size': 30522,
            'layer_norm_eps': 1e-12, 'initializer_range': 0.02, 'pad_token_id': 0}


def build(cfg, seed):
    torch.manual_seed(seed)
    m = BertModel(cfg)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if 'LayerNorm' in name:  # HF init is 1/0; perturb so the C side must apply them
                p.copy_((1.0 if name.endswith('weight') else 0.0) + 0.1 * torch.randn_like(p))
            else:  # HF init: normal(0, 0.02); biases also random here so they are exercised
                p.normal_(0.0, 0.02)
    return m


def write_dir(path, cfg, tensors):
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, 'config.json'), 'w') as f:
        json.dump(cfg, f, indent=2)
    stio.save(os.path.join(path, 'model.safetensors'), tensors)
    vocab = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared', 'data', 'bert-base-uncased-vocab.txt')
    for cand in (vocab, '/work/shared/data/bert-base-uncased-vocab.txt'):
        if os.path.exists(cand):
            shutil.copyfile(cand, os.path.join(path, 'vocab.txt'))
            with open(os.path.join(path, 'tokenizer_config.json'), 'w') as f:
                json.dump({'do_lower_case': True}, f)
            break


def make_ids(rng, L):
    ids = rng.integers(999, 30522, size=L).astype(np.int64)
    ids[0] = CLS
    if L > 1:
        ids[-1] = SEP
    return ids


def references(out, tag, m, seed):
    m64 = m.double().eval()
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for L in LENGTHS:
            ids = make_ids(rng, L)
            np.save(os.path.join(out, f'{tag}_ids_{L}.npy'), ids)
            np.save(os.path.join(out, f'{tag}_cls_{L}.npy'), m64(torch.from_numpy(ids)).numpy())
        seqs = [make_ids(rng, L) for L in BATCH_LENS]
        np.save(os.path.join(out, f'{tag}_batch_ids.npy'), np.concatenate(seqs))
        np.save(os.path.join(out, f'{tag}_batch_lens.npy'), np.array(BATCH_LENS, dtype=np.int64))
        np.save(os.path.join(out, f'{tag}_batch_cls.npy'), np.stack([m64(torch.from_numpy(s)).numpy() for s in seqs]))


def gradients(out, m, seed):
    """Top-k fine-tuning goldens (lib/bert_train.c) for k = 1 and 2 on the
    ragged batch: loss = sum(cls * R); float64 gradients of every top-k
    parameter, HF names, in small_grads_k{k}.safetensors, plus R and cls."""
    m64 = m.double()
    rng = np.random.default_rng(seed)
    ids = np.load(os.path.join(out, 'small_batch_ids.npy'))
    lens = np.load(os.path.join(out, 'small_batch_lens.npy'))
    seqs = np.split(ids, np.cumsum(lens)[:-1])
    D, L = m64.embeddings.word_embeddings.weight.shape[1], len(m64.encoder.layer)
    R = rng.standard_normal((len(seqs), D))
    np.save(os.path.join(out, 'small_train_R.npy'), R)
    for k in (1, 2):
        m64.zero_grad()
        cls = []
        for s in seqs:
            with torch.no_grad():
                h = m64.hidden(torch.from_numpy(s), upto=L - k)
            for layer in m64.encoder.layer[L - k:]:
                h = layer(h)
            cls.append(h[0])
        cls = torch.stack(cls)
        (cls * torch.from_numpy(R)).sum().backward()
        grads = {n: p.grad.detach().numpy() for n, p in m64.named_parameters()
                 if n.startswith('encoder.layer.') and int(n.split('.')[2]) >= L - k}
        stio.save(os.path.join(out, f'small_grads_k{k}.safetensors'), grads)
        np.save(os.path.join(out, f'small_train_cls_k{k}.npy'), cls.detach().numpy())


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(2)

    small_cfg = config(64, 2, 4, 128)
    small = build(small_cfg, 1)
    sd = {k: v.float() for k, v in small.state_dict().items()}
    write_dir(os.path.join(out, 'bert_small'), small_cfg, sd)
    old = {}
    for k, v in sd.items():
        k = 'bert.' + k
        if 'LayerNorm' in k:
            k = k.replace('.weight', '.gamma').replace('.bias', '.beta')
        old[k] = v
    write_dir(os.path.join(out, 'bert_small_prefixed'), small_cfg, old)
    bad = dict(sd)
    bad['encoder.layer.1.intermediate.dense.weight'] = sd['encoder.layer.1.intermediate.dense.weight'].t().contiguous()
    write_dir(os.path.join(out, 'bert_small_badshape'), small_cfg, bad)
    references(out, 'small', small, 2)
    gradients(out, small, 5)

    base_cfg = config(768, 12, 12, 3072)
    base = build(base_cfg, 3)
    write_dir(os.path.join(out, 'bert'), base_cfg, {k: v.float() for k, v in base.state_dict().items()})
    references(out, 'base', base, 4)


if __name__ == '__main__':
    main()
