// ort_bert.js — time an ONNX model taking int64 input_ids (B,T) with ONNX
// Runtime (onnxruntime-node, via NODE_PATH).  Used by bench/bench_bert.py.
// usage: node ort_bert.js MODEL.onnx THREADS REPS "1x16;1x32;8x32"
// Prints one JSON line per case (wall median/min ms, process CPU ms).
const ort = require('onnxruntime-node');

async function main() {
  const [model, threads, reps, cases] = process.argv.slice(2);
  const nth = parseInt(threads || '2', 10), nrep = parseInt(reps || '10', 10);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: nth, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
  });
  for (const c of (cases || '1x32').split(';')) {
    const [B, T] = c.split('x').map((v) => parseInt(v, 10));
    const ids = new BigInt64Array(B * T);
    let seed = 1;
    for (let i = 0; i < B * T; i++) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      ids[i] = BigInt(i % T === 0 ? 101 : 1000 + (seed % 28000));
    }
    const feeds = { [session.inputNames[0]]: new ort.Tensor('int64', ids, [B, T]) };
    const ms = [], cpu = [];
    for (let r = 0; r < nrep + 2; r++) {
      const t0 = process.hrtime.bigint(), c0 = process.cpuUsage();
      await session.run(feeds);
      const dt = Number(process.hrtime.bigint() - t0) / 1e6, dc = process.cpuUsage(c0);
      if (r >= 2) {
        ms.push(dt);
        cpu.push((dc.user + dc.system) / 1e3);
      }
    }
    ms.sort((a, b) => a - b);
    console.log(JSON.stringify({
      impl: 'ort', batch: B, tokens: T, threads: nth, median_ms: +ms[ms.length >> 1].toFixed(2),
      min_ms: +ms[0].toFixed(2), cpu_ms: +Math.min(...cpu).toFixed(2),
    }));
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
