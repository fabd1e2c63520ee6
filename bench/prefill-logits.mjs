// Prefill and decode-step time of an Optimum decoder graph, with all prompt logits (what a plain export computes)
// and, on a graph prepared by `superdraft model prepare`, with logits_to_keep = 1 (what a prefill needs).
// Usage: node bench/prefill-logits.mjs --onnx FILE [--tokens 512] [--threads 2] [--reps 3]
//   e.g. npm run replica -- qwen2 --size real --variants q4 && node bench/prefill-logits.mjs \
//        --onnx .cache/replicas/qwen2-real/onnx/model_q4.onnx
// Prints one JSON object: per mode, the median of --reps prefill and decode-step times (ms) and the logits bytes.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const file = opt('--onnx');
if (!file) {
  console.error('usage: node bench/prefill-logits.mjs --onnx FILE [--tokens 512] [--threads 2] [--reps 3]');
  process.exit(2);
}
const T = Number(opt('--tokens', '512'));
const threads = Number(opt('--threads', '2'));
const reps = Number(opt('--reps', '3'));

const session = await ort.InferenceSession.create(file, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
const L = session.inputNames.filter((n) => n.startsWith('past_key_values.') && n.endsWith('.key')).length;
const meta = session.inputMetadata.find((m) => m.name === 'past_key_values.0.key');
const [KV, HD] = [meta.shape[1], meta.shape[3]];
const superposed = session.inputNames.includes('token_weights');
const hasKeep = session.inputNames.includes('logits_to_keep');

function feeds(ids, pastLen, past, keep) {
  const n = ids.length;
  const f = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), superposed ? [1, n, 1] : [1, n]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(pastLen + n).fill(1n), [1, pastLen + n]),
    position_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map((_, i) => BigInt(pastLen + i))), [1, n]),
  };
  if (superposed) f.token_weights = new ort.Tensor('float32', new Float32Array(n).fill(1), [1, n, 1]);
  if (hasKeep) f.logits_to_keep = new ort.Tensor('int64', BigInt64Array.of(BigInt(keep)), [1]);
  for (let i = 0; i < L; i++) {
    for (const t of ['key', 'value']) {
      f[`past_key_values.${i}.${t}`] = past ? past[`present.${i}.${t}`] : new ort.Tensor('float32', new Float32Array(0), [1, KV, 0, HD]);
    }
  }
  return f;
}

const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const prompt = Array.from({ length: T }, (_, i) => (i * 7919 + 13) % 400);
const result = { file, tokens: T, threads, prepared: hasKeep && superposed, modes: {} };
// Modes alternate within each repetition so that a busy machine slows them alike; CPU time (all threads of this
// process) is reported next to wall time because it is what a shared machine does not distort.
const modes = hasKeep ? [0, 1] : [0];
const samples = new Map(modes.map((k) => [k, { pre: [], preCpu: [], step: [], stepCpu: [], bytes: 0 }]));
const cpuMs = (c) => (c.user + c.system) / 1000;
for (let r = 0; r < reps; r++) {
  for (const keep of modes) {
    const s = samples.get(keep);
    let c0 = process.cpuUsage();
    let t0 = performance.now();
    const out = await session.run(feeds(prompt, 0, null, keep));
    s.pre.push(performance.now() - t0);
    s.preCpu.push(cpuMs(process.cpuUsage(c0)));
    s.bytes = out.logits.data.byteLength;
    c0 = process.cpuUsage();
    t0 = performance.now();
    await session.run(feeds([5], T, out, 1));
    s.step.push(performance.now() - t0);
    s.stepCpu.push(cpuMs(process.cpuUsage(c0)));
  }
}
for (const keep of modes) {
  const s = samples.get(keep);
  result.modes[keep === 0 ? 'all_logits' : 'logits_to_keep_1'] = {
    prefill_ms: Math.round(median(s.pre)),
    prefill_cpu_ms: Math.round(median(s.preCpu)),
    decode_step_ms: Math.round(median(s.step)),
    decode_step_cpu_ms: Math.round(median(s.stepCpu)),
    logits_bytes: s.bytes,
  };
}
console.log(JSON.stringify(result));
