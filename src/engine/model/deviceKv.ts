/**
 * The KV cache in device memory (WebGPU). The session writes `present.*` into GPU buffers (preferredOutputLocation
 * 'gpu-buffer') and the next forward takes them as `past_key_values.*` as they are: between decoding steps keys and
 * values never cross to the host. Such tensors are never read back (`getData()` on one aborts the process here);
 * what the engine does to a cache besides continuing it — selecting rows (beam reorder, replicated rows for batched
 * strategies), dropping the oldest entries, a prefix for the prompt cache — runs as a small graph on the same device
 * (ops.ts: kvSelectModel). Those selections are recorded when asked for (the engine's calls are synchronous) and run
 * when a forward needs the cache.
 *
 * GPU buffers are released when nothing references their tensor any more (a FinalizationRegistry calls onnxruntime's
 * dispose once): a state may be shared by the prompt cache, a strategy's fork and the request that made it, so no one
 * owner can release it earlier without risking a buffer still in use. The JavaScript heap stays small (a tensor is a
 * few hundred bytes there), so V8 alone would collect them rarely: measured on SwiftShader, 80 steps at 560 tokens of
 * context grew the process by 190 MB (3 MB a step, one cache each) without a collection, and by 10 MB with one every 5
 * steps. So once GPU_BUDGET_BYTES of released-when-dropped buffers are outstanding, a full collection runs (a few ms
 * for this heap) and their finalizers release the dead ones.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as ort from 'onnxruntime-node';
import type { KvDims, KvState, PendingKv } from './kvStore';
import { kvSelectModel } from './ops';

type NativeTensor = ort.Tensor & { disposer?: () => void };

/** Outstanding GPU bytes that trigger a full collection (see above); SUPERDRAFT_GPU_GC_MB overrides (experiments). */
const GPU_BUDGET_BYTES = (Number(process.env.SUPERDRAFT_GPU_GC_MB) > 0 ? Number(process.env.SUPERDRAFT_GPU_GC_MB) : 128) * 1024 * 1024;
let outstanding = 0;
let registered = 0;
let collectAt = GPU_BUDGET_BYTES;

/** V8's full collection, made available at run time (no --expose-gc on the command line); undefined where it cannot be. */
const collect: (() => void) | undefined = (() => {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
})();

interface Held {
  dispose?: () => void;
  bytes: number;
  owner: Set<Held>;
}

/** Calls a buffer's dispose once, whoever comes first: the finalizer or the runtime's dispose. */
function release(held: Held): void {
  const d = held.dispose;
  if (!d) return;
  held.dispose = undefined;
  held.owner.delete(held);
  outstanding -= held.bytes;
  try {
    d();
  } catch {
    /* the session is gone already */
  }
}

const released = new FinalizationRegistry<Held>(release);

/** Releases `t`'s GPU buffer once `t` is unreachable, or when `owner` (a runtime's DeviceKvOps) is disposed. */
function track(t: ort.Tensor, owner: Set<Held>): void {
  const d = (t as NativeTensor).disposer;
  if (t.location !== 'gpu-buffer' || typeof d !== 'function') return;
  const bytes = t.size * 4;
  const held: Held = { dispose: d, bytes, owner };
  owner.add(held);
  outstanding += bytes;
  registered += bytes;
  released.register(t, held, held);
  if (outstanding >= collectAt && collect) {
    collect();
    // Finalizers run after this task: the next collection waits for another budget's worth of new buffers.
    collectAt = outstanding + GPU_BUDGET_BYTES;
  } else if (outstanding < collectAt - 2 * GPU_BUDGET_BYTES) collectAt = Math.max(GPU_BUDGET_BYTES, outstanding + GPU_BUDGET_BYTES);
}

/** GPU bytes tracked in all, and those not yet released (bench and tests). */
export function gpuBytes(): { registered: number; outstanding: number } {
  return { registered, outstanding };
}

/** A full collection now, then a pause for the finalizers it queued (bench: what a dropped cache leaves behind). */
export async function collectNow(): Promise<boolean> {
  if (!collect) return false;
  collect();
  await new Promise((r) => setTimeout(r, 50));
  return true;
}

/** Whether a cache's tensors live in GPU memory. */
export function onDevice(kv: KvState): boolean {
  return kv.keys.length > 0 && kv.keys[0].location === 'gpu-buffer';
}

/** A state that is `rows` of `kv`, entries `start`..`end`, computed on the device when a forward needs it. */
export function pendingSelection(kv: KvState, rows: ArrayLike<number>, start: number, end: number, nextPos: number, valid: Uint8Array): KvState & { pending: PendingKv } {
  return { keys: [], values: [], batch: rows.length, length: end - start, valid, nextPos, pending: { base: kv, rows: Array.from(rows), start, end } };
}

/** Runs the row selection / prefix cut of device-resident caches on the device (one small session, created once). */
export class DeviceKvOps {
  private session: Promise<ort.InferenceSession> | undefined;
  /** GPU buffers of this runtime not yet released: all released before its sessions (a buffer released after its
   * WebGPU context is gone aborts the process: "BufferManager ... Assertion 'get() != pointer()' failed"). */
  private readonly live = new Set<Held>();

  constructor(private readonly dims: KvDims) {}

  private select(): Promise<ort.InferenceSession> {
    this.session ??= ort.InferenceSession.create(kvSelectModel(), {
      executionProviders: ['webgpu', 'cpu'],
      preferredOutputLocation: 'gpu-buffer',
      graphOptimizationLevel: 'all',
    });
    return this.session;
  }

  /** The tensors of `kv`, running its pending selection (and its base's) first; the state keeps the result. */
  async materialize(kv: KvState): Promise<KvState> {
    const p = kv.pending;
    if (!p) return kv;
    const base = await this.materialize(p.base);
    const session = await this.select();
    const rows = new ort.Tensor('int64', BigInt64Array.from(p.rows.map(BigInt)), [p.rows.length]);
    const start = new ort.Tensor('int64', BigInt64Array.of(BigInt(p.start)), [1]);
    const end = new ort.Tensor('int64', BigInt64Array.of(BigInt(p.end)), [1]);
    const pick = async (t: ort.Tensor): Promise<ort.Tensor> => {
      const y = (await session.run({ kv: t, rows, start, end })).y;
      this.track(y);
      return y;
    };
    const keys: ort.Tensor[] = [];
    const values: ort.Tensor[] = [];
    for (let i = 0; i < this.dims.numLayers; i++) {
      keys.push(await pick(base.keys[i]));
      values.push(await pick(base.values[i]));
    }
    kv.keys = keys;
    kv.values = values;
    kv.pending = undefined; // resolved: later forwards from this state use the tensors
    return kv;
  }

  /** Releases `t`'s GPU buffer once `t` is unreachable, or when this runtime is disposed. */
  track(t: ort.Tensor): void {
    track(t, this.live);
  }

  /** Releases every buffer of this runtime still held (the states holding them are unusable from now on), then the helper session. */
  async dispose(): Promise<void> {
    for (const held of [...this.live]) {
      released.unregister(held);
      release(held);
    }
    const s = this.session;
    this.session = undefined;
    if (s) await (await s).release();
  }
}
