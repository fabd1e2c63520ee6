/**
 * What crosses between host and device memory per decoding step on a GPU provider, with the KV cache kept in host
 * memory (as on the CPU: the append-only store, or present.* fetched and fed back) and kept in device memory
 * (deviceKv.ts). Bytes are counted from the tensors each forward feeds from the host and fetches to it
 * (ModelRuntime.transfer); the step time is the median of the steps.
 */
import * as path from 'node:path';
import { defaultModelDir, type EngineOptions } from '../../engine/engine';
import { readModelConfig } from '../../engine/model/config';
import { collectNow, gpuBytes } from '../../engine/model/deviceKv';
import { ModelRuntime } from '../../engine/model/runtime';
import { round } from '../metrics';

const STEPS = 4;

interface Side {
  to_device_bytes_per_step: number;
  to_host_bytes_per_step: number;
  ms_per_step: number;
}

async function measure(rt: ModelRuntime, context: number, vocab: number): Promise<Side> {
  const prompt = Array.from({ length: context }, (_, i) => 6 + ((i * 7919) % Math.max(1, vocab - 6)));
  let kv = (await rt.forward({ ids: prompt, batch: 1, seq: context, past: rt.emptyKv(1), lastRows: 1 })).kv;
  const before = { ...rt.transfer };
  const ms: number[] = [];
  for (let i = 0; i < STEPS; i++) {
    const t = performance.now();
    kv = (await rt.forward({ ids: [prompt[i]], batch: 1, seq: 1, past: kv })).kv;
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  return {
    to_device_bytes_per_step: Math.round((rt.transfer.toDevice - before.toDevice) / STEPS),
    to_host_bytes_per_step: Math.round((rt.transfer.toHost - before.toHost) / STEPS),
    ms_per_step: round(ms[ms.length >> 1]!, 3),
  };
}

/** Per context length: host_kv and device_kv sides. Undefined on the CPU provider (nothing crosses). */
export async function benchTransfer(opts: EngineOptions, contexts = [64, 256]): Promise<Record<string, unknown> | undefined> {
  const config = readModelConfig(opts.modelDir ? path.resolve(opts.modelDir) : defaultModelDir(), opts.variant);
  const base = { device: opts.device, threads: opts.threads };
  const device = await ModelRuntime.load(config, base);
  try {
    if (device.device === 'cpu') return undefined;
    const host = await ModelRuntime.load(config, { ...base, deviceKv: false });
    try {
      const out: Record<string, unknown> = { device: device.device, kv_on_device: device.deviceKv, steps: STEPS };
      for (const context of contexts.filter((c) => c + STEPS < config.maxPositions)) {
        const h = await measure(host, context, config.vocabSize);
        const d = await measure(device, context, config.vocabSize);
        out[`context_${context}`] = { host_kv: h, device_kv: d };
      }
      // Every cache above is unreachable now: after a collection, their GPU buffers must have been released.
      const collected = await collectNow();
      const g = gpuBytes();
      out.gpu_buffers = { registered_bytes: g.registered, outstanding_after_collection: collected ? g.outstanding : null };
      return out;
    } finally {
      await host.dispose();
    }
  } finally {
    await device.dispose();
  }
}
