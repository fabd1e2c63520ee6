/**
 * `superdraft bench`, device figures: the machine's memory bandwidth (a STREAM-like copy on one thread and on the
 * bench's threads), each ONNX variant's decoding
 * step against its bandwidth roofline (weight bytes ÷ bandwidth: a batch-1 step must stream every weight once), and
 * the cold path (prefill of 256 and 1,024 tokens, at 1 thread and at the bench's threads).
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { readModelConfig, type ModelConfig } from '../../engine/model/config';
import { weightsVariant } from '../../prepare/prepare';
import { ModelRuntime } from '../../engine/model/runtime';
import { modelBytes } from '../../engine/model/modelSize';
import { percentile, round } from '../metrics';
import { progress } from '../run';

/** GB/s of a large copy (read + write counted, as STREAM's Copy does) on this thread: best of `reps` over `bytes`. */
export function measureBandwidth(bytes = 256 * 1024 * 1024, reps = 6): number {
  const src = new Float64Array(bytes / 8);
  const dst = new Float64Array(bytes / 8);
  for (let i = 0; i < src.length; i += 512) src[i] = i; // touch every page before timing
  dst.set(src);
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    dst.set(src);
    best = Math.min(best, performance.now() - t);
  }
  return (2 * bytes) / (best / 1000) / 1e9;
}

/** A copy worker: its slice of the shared buffers, copied on each message. */
const COPY_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { sab, index, threads, bytes } = workerData;
const per = Math.floor(bytes / 8 / threads);
const src = new Float64Array(sab, index * per * 8, per);
const dst = new Float64Array(sab, bytes + index * per * 8, per);
for (let i = 0; i < src.length; i += 512) src[i] = i;
dst.set(src);
parentPort.postMessage(0);
parentPort.on('message', () => { dst.set(src); parentPort.postMessage(0); });
`;

/**
 * GB/s of the same copy split over `threads` threads at once (STREAM runs on every core: one core alone does not
 * reach the memory's bandwidth; on this 2-core AMD EPYC one thread copied 28–42 GB/s, two 57 GB/s).
 */
export async function measureBandwidthThreads(threads: number, bytes = 256 * 1024 * 1024, reps = 6): Promise<number> {
  if (threads <= 1) return measureBandwidth(bytes, reps);
  const { Worker } = await import('node:worker_threads');
  const sab = new SharedArrayBuffer(bytes * 2);
  const workers = Array.from({ length: threads }, (_, index) => new Worker(COPY_WORKER, { eval: true, workerData: { sab, index, threads, bytes } }));
  const round = () => Promise.all(workers.map((w) => new Promise<void>((resolve, reject) => {
    w.once('message', () => resolve());
    w.once('error', reject);
  })));
  try {
    await round(); // ready: pages touched
    let best = Infinity;
    for (let r = 0; r < reps; r++) {
      const t = performance.now();
      const done = round();
      for (const w of workers) w.postMessage(0);
      await done;
      best = Math.min(best, performance.now() - t);
    }
    const copied = Math.floor(bytes / 8 / threads) * 8 * threads;
    return (2 * copied) / (best / 1000) / 1e9;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/**
 * Bytes a batch-1 decoding step streams: the weights, less the float32 embedding table (a step reads one row of it).
 * Variants with a quantized embedding (q4g, int8) keep the whole size: an upper bound.
 */
export function streamedBytes(config: ModelConfig, variant: string): number {
  const all = modelBytes(config.modelFile);
  const fp32Embedding = variant === 'fp32' || weightsVariant(variant) === 'q4';
  return fp32Embedding ? Math.max(0, all - config.vocabSize * config.hiddenSize * 4) : all;
}

const med = (a: number[]) => percentile(a, 0.5);

/** Median ms of a batch-1 decoding step after a `context`-token prefill. */
async function decodeStepMs(rt: ModelRuntime, context: number, steps: number): Promise<number> {
  const V = rt.config.vocabSize;
  const ids = Array.from({ length: context }, (_, i) => 6 + ((i * 7919) % Math.max(1, Math.min(V, 400) - 6)));
  let kv = (await rt.forward({ ids, batch: 1, seq: context, past: rt.emptyKv(1), lastRows: 1 })).kv;
  const ms: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t = performance.now();
    kv = (await rt.forward({ ids: [ids[i % ids.length]!], batch: 1, seq: 1, past: kv })).kv;
    ms.push(performance.now() - t);
  }
  return med(ms);
}

/** ms of a cold prefill of `n` tokens in chunks of `chunk` (the prompt cache's way: logits of the last row only). */
async function prefillMs(rt: ModelRuntime, n: number, chunk = 512): Promise<number> {
  const V = rt.config.vocabSize;
  const ids = Array.from({ length: n }, (_, i) => 6 + ((i * 104729) % Math.max(1, Math.min(V, 400) - 6)));
  const t = performance.now();
  let kv = rt.emptyKv(1);
  for (let s = 0; s < n; s += chunk) {
    const piece = ids.slice(s, s + chunk);
    kv = (await rt.forward({ ids: piece, batch: 1, seq: piece.length, past: kv, lastRows: 1 })).kv;
  }
  return performance.now() - t;
}

export interface DeviceFigures {
  roofline: { bandwidth_gb_s: number; bandwidth_gb_s_1_thread?: number; [threads: `bandwidth_gb_s_${number}_threads`]: number; decode_over_roofline: Record<string, number>; variants: Record<string, unknown> };
  cold_path: Record<string, unknown>;
}

/**
 * Roofline per variant present in the model directory (fp32 and q4 for a replica; the default file otherwise) and
 * the cold path of the bench's own variant at 1 thread and at `threads`.
 */
export async function benchDevice(modelDir: string, benchVariant: string | undefined, threads: number | undefined, latencyTargetMs: number): Promise<DeviceFigures> {
  progress('roofline: memory bandwidth ...');
  // The machine's bandwidth: the copy on one thread and on the decoding's threads at once, whichever is higher.
  const bw1 = measureBandwidth();
  const bwThreads = threads && threads > 1 ? await measureBandwidthThreads(threads) : undefined;
  const bw = Math.max(bw1, bwThreads ?? 0);
  const variants: string[] = [];
  for (const v of ['q4', 'q4a8', 'fp32']) if (existsSync(path.join(modelDir, 'onnx', v === 'fp32' ? 'model.onnx' : `model_${v}.onnx`))) variants.push(v);
  if (variants.length === 0) variants.push('default');
  const decodeOver: Record<string, number> = {};
  const detail: Record<string, unknown> = {};
  const cold: Record<string, unknown> = {};
  for (const v of variants) {
    const config = readModelConfig(modelDir, v === 'default' ? undefined : v);
    const bytes = streamedBytes(config, v);
    const rooflineMs = (bytes / (bw * 1e9)) * 1000;
    const threadSet = v === (benchVariant ?? variants[0]) ? [...new Set([1, threads ?? 0])] : [threads ?? 0];
    for (const th of threadSet) {
      progress(`roofline: ${v}, ${th || 'default'} threads: decoding steps and prefills ...`);
      const rt = await ModelRuntime.load(config, { device: 'cpu', ...(th ? { threads: th } : {}) });
      try {
        const step = await decodeStepMs(rt, 64, 12);
        const key = th ? `threads_${th}` : 'threads_default';
        if (th === (threads ?? 0)) {
          decodeOver[v] = round(step / rooflineMs);
          detail[v] = { weight_bytes_streamed: bytes, roofline_step_ms: round(rooflineMs, 2), decode_step_ms: round(step, 2) };
        }
        if (threadSet.length > 1 || v === (benchVariant ?? variants[0])) {
          const p256 = await prefillMs(rt, 256);
          const p1024 = th === (threads ?? 0) ? await prefillMs(rt, 1024) : NaN;
          const perToken = (Number.isNaN(p1024) ? p256 / 256 : p1024 / 1024);
          cold[`${v}_${key}`] = {
            decode_step_ms: round(step, 2),
            prefill_ms_256: round(p256, 1),
            ...(Number.isNaN(p1024) ? {} : { prefill_ms_1024: round(p1024, 1) }),
            prefill_tokens_per_s: round(1000 / perToken, 1),
            // prompt tokens a cold request can prefill inside the latency target (the rest would come from the cache)
            context_budget_tokens: Math.floor(latencyTargetMs / perToken),
          };
        }
      } finally {
        await rt.dispose();
      }
    }
  }
  return {
    roofline: { bandwidth_gb_s: round(bw, 2), bandwidth_gb_s_1_thread: round(bw1, 2), ...(bwThreads !== undefined ? { [`bandwidth_gb_s_${threads}_threads`]: round(bwThreads, 2) } : {}), decode_over_roofline: decodeOver, variants: detail },
    cold_path: { latency_target_ms: latencyTargetMs, ...cold },
  };
}
