"""BERT-base [CLS] encoding: libinfluencer_profiler vs ONNX Runtime vs
PyTorch, same weights, same thread count, batch 1 at 16/32/64/128 tokens and
batch 8 x 32.  Not part of `make check`.

usage: LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp \\
       /usr/bin/python3 bench/bench_bert.py [--bert DIR] [--threads 2] [--reps 10] [--passive]

DIR is a Hugging Face BERT directory (default: the BERT-base golden written
by `make gen`, build/goldens/bert/bert).  Needs build/bench_bert (built here
if missing) and, for ONNX Runtime, node with onnxruntime-node (found through
NODE_PATH or bench/node_modules, where bench/run.sh installs it) running
bench/ort_bench.js.  The model is exported to
build/bench/bert.onnx once.  Prints one JSON line per measurement and a table
with ratios; wall-clock medians are noisy on a shared machine, so CPU time
(process, all threads) is shown too.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'gen'))
import stio  # noqa: E402

CASES = [(1, 16), (1, 32), (1, 64), (1, 128), (8, 32)]


class Bert(nn.Module):
    """Batched BertModel forward (no padding: equal lengths) -> [CLS] rows,
    from a HF state dict (with or without the "bert." prefix)."""

    def __init__(self, sd, cfg):
        super().__init__()
        sd = {k[5:] if k.startswith('bert.') else k: torch.from_numpy(v.astype(np.float32)) for k, v in sd.items()}
        self.p = nn.ParameterDict({k.replace('.', '_'): nn.Parameter(v, requires_grad=False) for k, v in sd.items()
                                   if not k.endswith('position_ids')})
        self.D = cfg['hidden_size']
        self.L, self.H, self.eps = cfg['num_hidden_layers'], cfg['num_attention_heads'], cfg.get('layer_norm_eps', 1e-12)

    def w(self, name):
        return self.p[name.replace('.', '_')]

    def lin(self, x, name):
        return nn.functional.linear(x, self.w(name + '.weight'), self.w(name + '.bias'))

    def ln(self, x, name):
        return nn.functional.layer_norm(x, (self.D,), self.w(name + '.weight'), self.w(name + '.bias'), self.eps)

    def forward(self, ids):  # ids (B,T) int64
        B, T = ids.shape
        x = nn.functional.embedding(ids, self.w('embeddings.word_embeddings.weight'))
        x = x + self.w('embeddings.position_embeddings.weight')[:T] + self.w('embeddings.token_type_embeddings.weight')[0]
        x = self.ln(x, 'embeddings.LayerNorm')
        D = self.D
        dh = D // self.H
        for l in range(self.L):
            pre = f'encoder.layer.{l}.'
            q = self.lin(x, pre + 'attention.self.query').view(B, T, self.H, dh).transpose(1, 2)
            k = self.lin(x, pre + 'attention.self.key').view(B, T, self.H, dh).transpose(1, 2)
            v = self.lin(x, pre + 'attention.self.value').view(B, T, self.H, dh).transpose(1, 2)
            a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh), dim=-1)
            ctx = (a @ v).transpose(1, 2).reshape(B, T, D)
            x = self.ln(self.lin(ctx, pre + 'attention.output.dense') + x, pre + 'attention.output.LayerNorm')
            h = nn.functional.gelu(self.lin(x, pre + 'intermediate.dense'))
            x = self.ln(self.lin(h, pre + 'output.dense') + x, pre + 'output.LayerNorm')
        return x[:, 0]


def ids_for(B, T):
    rng = np.random.default_rng(1)
    ids = rng.integers(1000, 29000, size=(B, T)).astype(np.int64)
    ids[:, 0] = 101
    return ids


def bench_torch(model, threads, reps, cases):
    torch.set_num_threads(threads)
    out = []
    with torch.inference_mode():
        for B, T in cases:
            x = torch.from_numpy(ids_for(B, T))
            ms, cpu = [], []
            for r in range(reps + 2):
                t0, c0 = time.perf_counter(), time.process_time()
                model(x)
                if r >= 2:
                    ms.append((time.perf_counter() - t0) * 1e3)
                    cpu.append((time.process_time() - c0) * 1e3)
            ms.sort()
            out.append({'impl': 'pytorch', 'batch': B, 'tokens': T, 'threads': threads, 'median_ms': ms[len(ms) // 2],
                        'min_ms': ms[0], 'cpu_ms': min(cpu)})
            print(json.dumps(out[-1]), flush=True)
    return out


def node_path():
    for d in (os.environ.get('NODE_PATH'), os.path.join(ROOT, 'bench', 'node_modules'),
              os.path.join(ROOT, 'build', 'node', 'node_modules')):
        if d and os.path.isdir(os.path.join(d, 'onnxruntime-node')):
            return d
    return None


def bench_ort(onnx_path, threads, reps, passive, cases):
    """bench/ort_bench.js (the generic ONNX Runtime runner), one process per case."""
    npath = node_path()
    if not npath:
        print('onnxruntime-node not found (bench/run.sh installs it into bench/node_modules): ONNX Runtime skipped',
              file=sys.stderr)
        return []
    out = []
    for B, T in cases:
        r = subprocess.run(['node', os.path.join(ROOT, 'bench', 'ort_bench.js'), '--model', onnx_path,
                            '--input', f'input_ids:int64:{B}x{T}:int:1000:29000', '--threads', str(threads),
                            '--iters', str(reps), '--warmup', '2', '--spin', '0' if passive else '1'],
                           stdout=subprocess.PIPE, text=True, env=dict(os.environ, NODE_PATH=npath))
        try:
            j = json.loads(r.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            print(f'ort_bench.js failed for {B}x{T} (exit {r.returncode})', file=sys.stderr)
            continue
        out.append({'impl': 'ort', 'batch': B, 'tokens': T, 'threads': threads, 'median_ms': j['median_ms'],
                    'min_ms': j['min_ms'], 'cpu_ms': j['cpu_ms']})
        print(json.dumps(out[-1]), flush=True)
    return out


def run_lines(cmd, env=None):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env)
    res = []
    for line in r.stdout.splitlines():
        try:
            res.append(json.loads(line))
            print(line, flush=True)
        except ValueError:
            pass
    if r.returncode:
        print(f'{cmd[0]} exited {r.returncode}', file=sys.stderr)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--bert', default=os.path.join(ROOT, 'build', 'goldens', 'bert', 'bert'))
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--reps', type=int, default=10)
    ap.add_argument('--skip', default='', help='comma list of ipf,ort,pytorch to leave out')
    ap.add_argument('--passive', action='store_true',
                    help='idle threads sleep instead of spinning: OMP_WAIT_POLICY=PASSIVE for ipf and PyTorch '
                         '(set before start; bench/run.sh exports it), allow_spinning=0 for ONNX Runtime')
    a = ap.parse_args()
    skip = set(filter(None, a.skip.split(',')))
    cfg = json.load(open(os.path.join(a.bert, 'config.json')))
    results = []

    exe = os.path.join(ROOT, 'build', 'bench_bert')
    if 'ipf' not in skip and not os.path.exists(exe):
        subprocess.run(['cc', '-O2', '-I', os.path.join(ROOT, 'include'), '-o', exe,
                        os.path.join(ROOT, 'bench', 'bench_bert.c'), '-L', os.path.join(ROOT, 'build'),
                        '-linfluencer_profiler', '-Wl,-rpath,' + os.path.join(ROOT, 'build')], check=True)
    model = None
    if 'pytorch' not in skip or 'ort' not in skip:
        sd, _ = stio.load(os.path.join(a.bert, 'model.safetensors'))
        model = Bert(sd, cfg).eval()
    onnx_path = os.path.join(ROOT, 'build', 'bench', 'bert.onnx')
    if 'ort' not in skip and not os.path.exists(onnx_path):
        os.makedirs(os.path.dirname(onnx_path), exist_ok=True)
        torch.onnx.export(model, torch.from_numpy(ids_for(1, 16)), onnx_path, input_names=['input_ids'],
                          output_names=['cls'], dynamic_axes={'input_ids': {0: 'batch', 1: 'tokens'}},
                          opset_version=17, do_constant_folding=True)
    # Case by case, the three runtimes back to back, so that a change in the
    # machine's load affects them alike.
    for B, T in CASES:
        if 'ipf' not in skip:
            results += run_lines([exe, a.bert, str(a.threads), str(a.reps), f'{B}x{T}'])
        if 'ort' not in skip:
            results += bench_ort(onnx_path, a.threads, a.reps, a.passive, [(B, T)])
        if 'pytorch' not in skip:
            results += bench_torch(model, a.threads, a.reps, [(B, T)])

    by = {(r['impl'], r['batch'], r['tokens']): r for r in results}
    load = os.getloadavg()[0]
    print(f'\nBERT-base [CLS], {a.threads} threads{", passive waiting" if a.passive else ""}, load average {load:.1f}')
    print('ms per batch: median / min (CPU ms per run, all threads); ratios of medians and of minima, other/ipf')
    print(f'{"case":>6} {"ipf":>22} {"onnxruntime":>22} {"pytorch":>22} {"ort/ipf":>11} {"torch/ipf":>11}')
    for B, T in CASES:
        row = [by.get((i, B, T)) for i in ('ipf', 'ort', 'pytorch')]
        cell = lambda r: f'{r["median_ms"]:7.1f} /{r["min_ms"]:6.1f} ({r["cpu_ms"]:4.0f})' if r else f'{"-":>22}'
        ratio = lambda r: (f'{r["median_ms"] / row[0]["median_ms"]:.2f}/{r["min_ms"] / row[0]["min_ms"]:.2f}'
                           if r and row[0] else '-')
        print(f'{B}x{T:<4} {cell(row[0])} {cell(row[1])} {cell(row[2])} {ratio(row[1]):>11} {ratio(row[2]):>11}')


if __name__ == '__main__':
    main()
