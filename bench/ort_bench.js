#!/usr/bin/env node
// ort_bench.js — time an ONNX model with ONNX Runtime (npm onnxruntime-node, CPU).
//
// Install once (node_modules is gitignored):
//   cd bench && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-save onnxruntime-node
//
// Usage:
//   node bench/ort_bench.js --model M.onnx --input NAME:DTYPE:SHAPE[:FILL] [--input ...]
//                           [--threads 2] [--iters 20] [--warmup 3] [--spin 1|0] [--save-outputs FILE.json]
//   DTYPE  float32 | int64 | int32
//   SHAPE  dims joined by 'x', e.g. 1x3x299x299 or 1x128
//   FILL   rand (default; floats uniform in [-1,1), ints in [0,100)) | zeros | ones |
//          int:LO:HI (random integers in [LO,HI)); seeded, so runs are repeatable
// Session: intra-op threads = --threads, inter-op 1, sequential execution, all
// graph optimisations; --spin 0 stops idle pool threads from spinning
// (session.intra_op.allow_spinning, the counterpart of OMP_WAIT_POLICY=passive).  Prints one JSON line on stdout:
//   {"model","threads","iters","warmup","load_ms","first_ms","mean_ms","median_ms","min_ms","p90_ms",
//    "cpu_ms" (process CPU time per timed run, all threads), "outputs": {name: shape}}
// --save-outputs writes {name: {"shape", "data": [all values]}} of the last run.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

function parseArgs(argv) {
  const a = {inputs: [], threads: 2, iters: 20, warmup: 3, spin: 1};
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i], v = argv[i + 1];
    if (k === '--model') a.model = v, i++;
    else if (k === '--input') a.inputs.push(v), i++;
    else if (k === '--threads') a.threads = parseInt(v, 10), i++;
    else if (k === '--iters') a.iters = parseInt(v, 10), i++;
    else if (k === '--warmup') a.warmup = parseInt(v, 10), i++;
    else if (k === '--save-outputs') a.save = v, i++;
    else if (k === '--spin') a.spin = parseInt(v, 10), i++;
    else throw new Error('unknown argument ' + k);
  }
  if (!a.model || !a.inputs.length) throw new Error('need --model and at least one --input (see the header)');
  return a;
}

let seed = 12345;
function rnd() { // LCG in [0,1), repeatable across runs
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
}

function makeTensor(spec) {
  const [name, dtype, shapeStr, ...fillParts] = spec.split(':');
  const dims = shapeStr.split('x').map((d) => parseInt(d, 10));
  const n = dims.reduce((x, y) => x * y, 1);
  const fill = fillParts.length ? fillParts[0] : 'rand';
  let lo = 0, hi = 100;
  if (fill === 'int') lo = parseInt(fillParts[1], 10), hi = parseInt(fillParts[2], 10);
  const val = (i) => {
    if (fill === 'zeros') return 0;
    if (fill === 'ones') return 1;
    if (dtype === 'float32' && fill === 'rand') return rnd() * 2 - 1;
    return lo + Math.floor(rnd() * (hi - lo));
  };
  let data;
  if (dtype === 'float32') { data = new Float32Array(n); for (let i = 0; i < n; i++) data[i] = val(i); }
  else if (dtype === 'int64') { data = new BigInt64Array(n); for (let i = 0; i < n; i++) data[i] = BigInt(val(i)); }
  else if (dtype === 'int32') { data = new Int32Array(n); for (let i = 0; i < n; i++) data[i] = val(i); }
  else throw new Error('unsupported dtype ' + dtype);
  return [name, new ort.Tensor(dtype, data, dims)];
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const feeds = Object.fromEntries(a.inputs.map(makeTensor));
  const opts = {intraOpNumThreads: a.threads, interOpNumThreads: 1, executionMode: 'sequential',
                graphOptimizationLevel: 'all', executionProviders: ['cpu'],
                extra: {session: {intra_op: {allow_spinning: a.spin ? '1' : '0'}}}};
  let t0 = performance.now();
  const sess = await ort.InferenceSession.create(a.model, opts);
  const loadMs = performance.now() - t0;
  t0 = performance.now();
  let out = await sess.run(feeds);
  const firstMs = performance.now() - t0;
  for (let i = 1; i < a.warmup; i++) out = await sess.run(feeds);
  const times = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < a.iters; i++) {
    t0 = performance.now();
    out = await sess.run(feeds);
    times.push(performance.now() - t0);
  }
  const cpu = process.cpuUsage(cpu0);
  const sorted = [...times].sort((x, y) => x - y);
  const r2 = (x) => Math.round(x * 100) / 100;
  const res = {model: path.basename(a.model), threads: a.threads, spin: a.spin, iters: a.iters, warmup: a.warmup,
               load_ms: r2(loadMs), first_ms: r2(firstMs),
               mean_ms: r2(times.reduce((x, y) => x + y, 0) / times.length), median_ms: r2(sorted[sorted.length >> 1]),
               min_ms: r2(sorted[0]), cpu_ms: r2((cpu.user + cpu.system) / 1000 / times.length), p90_ms: r2(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.9))]),
               outputs: Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.dims]))};
  if (a.save) {
    fs.writeFileSync(a.save, JSON.stringify(Object.fromEntries(Object.entries(out).map(
        ([k, v]) => [k, {shape: v.dims, data: Array.from(v.data, Number)}]))));
  }
  console.log(JSON.stringify(res));
}

main().catch((e) => { console.error('ort_bench: ' + e.message); process.exit(1); });
