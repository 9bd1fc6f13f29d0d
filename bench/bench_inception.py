"""Inception-v3 image encoder: ipf vs ONNX Runtime vs PyTorch, same weights,
same thread count.  Run through bench/run.sh (which builds what it needs).

  bench_inception.py OUTDIR --threads 2 --batches 1,8 --iters 10

Exports the seeded torchvision model (tests/gen/_inception_model.py, with
transform_input=True, fc removed so the output is the (N,2048) pool) to
OUTDIR/inception.safetensors and OUTDIR/inception.onnx, times PyTorch
(torch.set_num_threads), ONNX Runtime (bench/ort_bench.js) and ipf
(build/bench_image, public API), prints a table and writes OUTDIR/inception.json.
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, 'tests', 'gen'))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import _inception_model  # noqa: E402
import stio  # noqa: E402


def median(xs):
    return sorted(xs)[len(xs) // 2]


def time_torch(model, batch, threads, iters):
    torch.set_num_threads(threads)
    x = torch.rand(batch, 3, 299, 299) * 2 - 1
    with torch.inference_mode():
        t0 = time.perf_counter()
        model(x)
        first = (time.perf_counter() - t0) * 1e3
        model(x)
        ts = []
        c0 = time.process_time()
        for _ in range(iters):
            t0 = time.perf_counter()
            model(x)
            ts.append((time.perf_counter() - t0) * 1e3)
        cpu = (time.process_time() - c0) * 1e3 / iters
    return {'first_ms': first, 'median_ms': median(ts), 'min_ms': min(ts), 'mean_ms': sum(ts) / len(ts),
            'cpu_ms': cpu}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('outdir')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--batches', default='1,8')
    ap.add_argument('--iters', type=int, default=10)
    ap.add_argument('--passive', action='store_true',
                    help='idle threads sleep instead of spinning: OMP_WAIT_POLICY=PASSIVE for ipf and PyTorch '
                         '(must be set before start: run.sh exports it), allow_spinning=0 for ORT')
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    batches = [int(b) for b in a.batches.split(',')]

    model = _inception_model.build(1234)
    model.transform_input = True
    model.fc = torch.nn.Identity()
    st_path = os.path.join(a.outdir, 'inception.safetensors')
    onnx_path = os.path.join(a.outdir, 'inception.onnx')
    sd = {k: v for k, v in model.state_dict().items() if not k.startswith(('fc.', 'AuxLogits.'))}
    stio.save(st_path, sd)
    if not os.path.exists(onnx_path):
        torch.onnx.export(model, torch.zeros(1, 3, 299, 299), onnx_path, input_names=['x'], output_names=['pool'],
                          dynamic_axes={'x': {0: 'n'}, 'pool': {0: 'n'}}, opset_version=13)

    rows = []
    for b in batches:
        t = time_torch(model, b, a.threads, a.iters)
        ort = json.loads(subprocess.check_output(
            ['node', os.path.join(HERE, 'ort_bench.js'), '--model', onnx_path, '--input',
             'x:float32:%dx3x299x299' % b, '--threads', str(a.threads), '--iters', str(a.iters),
             '--spin', '0' if a.passive else '1']))
        ipf = json.loads(subprocess.check_output(
            [os.path.join(ROOT, 'build', 'bench_image'), st_path, str(b), str(a.threads), str(a.iters)]))
        rows.append({'batch': b, 'threads': a.threads, 'ipf': ipf, 'ort': ort, 'torch': t})
        print('batch %d: ipf %.1f ms, ORT %.1f ms, PyTorch %.1f ms (medians)' %
              (b, ipf['median_ms'], ort['median_ms'], t['median_ms']), file=sys.stderr)

    with open(os.path.join(a.outdir, 'inception.json'), 'w') as f:
        json.dump(rows, f, indent=1)
    load = os.getloadavg()[0]
    print('Inception-v3 299x299, %d threads, %d iterations; wall ms per batch: median (min); '
          'CPU ms per batch; load average %.1f%s' % (a.threads, a.iters, load,
                                                      '; passive waiting' if a.passive else ''))
    print('| batch | ipf | ONNX Runtime | PyTorch | ipf/ORT | ipf/PyTorch | CPU ipf / ORT / PyTorch |')
    print('| --- | --- | --- | --- | --- | --- | --- |')
    for r in rows:
        i, o, t = r['ipf'], r['ort'], r['torch']
        print('| %d | %.1f (%.1f) | %.1f (%.1f) | %.1f (%.1f) | %.2f | %.2f | %.0f / %.0f / %.0f |' %
              (r['batch'], i['median_ms'], i['min_ms'], o['median_ms'], o['min_ms'], t['median_ms'], t['min_ms'],
               i['median_ms'] / o['median_ms'], i['median_ms'] / t['median_ms'], i['cpu_ms'], o['cpu_ms'],
               t['cpu_ms']))


if __name__ == '__main__':
    main()
