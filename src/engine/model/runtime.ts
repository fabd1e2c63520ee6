/**
 * ONNX decoder runtime: one onnxruntime-node session over a model in the Hugging Face Optimum decoder layout,
 * optionally with the superposition inputs (input_ids [batch, seq, k] + token_weights [batch, seq, k]): the model's
 * checks, the feeds of a forward, and what comes back. Sessions and providers: session.ts; the KV cache: kvStore.ts;
 * size and threads: modelSize.ts; forward costs: costMeter.ts.
 *
 * The KV cache is an immutable value (`KvState`): every forward returns a new one, so a state can be kept
 * (prompt cache), forked (batched strategies) or abandoned without copies. Positions whose key/values must be
 * ignored (rejected speculative tokens) are masked through `valid`, never copied out.
 *
 * onnxruntime-node copies every fetched output into a new buffer. Fetching `present.*` therefore copies the whole
 * cache on every decoding step (about 3 KB per context token for the embedded model: 1.8 MB at 600 tokens, plus
 * the garbage collection it causes). Models that also export `present_delta.*` (the entries a forward appends: the
 * embedded model, and Hub models after `superdraft model prepare`) keep batch-1 caches in an append-only `KvStore`
 * instead: each step fetches only its own entries and appends them, and the next forward's past is a view of the
 * store.
 */
import * as ort from 'onnxruntime-node';
import type { DeviceName } from '../../protocol';
import { ModelConfig, ModelLoadError } from './config';
import { logSumExp } from '../decode/math';
import { RowLogSumExp } from './ops';
import { ForwardCostMeter } from './costMeter';
import { LARGE_MODEL_BYTES, modelBytes } from './modelSize';
import { openSession, type LogFn, type ProviderAttempt } from './session';
import { DeviceKvOps, onDevice, pendingSelection } from './deviceKv';
import { appendToStore, emptyKv, kvBytes, rewindTip, selectRows, truncate, viewsOf, type KvState, type KvStore } from './kvStore';

export type { LogFn, ProviderAttempt } from './session';
export type { KvState, KvStore } from './kvStore';

export interface ForwardInput {
  /** Token ids, row-major [batch, seq, k]. */
  ids: ArrayLike<number>;
  /** Mixing weights [batch, seq, k]; omitted = 1 (k must be 1). */
  weights?: ArrayLike<number>;
  batch: number;
  seq: number;
  k?: number;
  past: KvState;
  /** false: fetch only the logits (scoring passes that never continue from this cache). */
  wantKv?: boolean;
  /**
   * Logits of only the last N positions of each row (a prefill needs 1). Honoured by prepared models (input
   * `logits_to_keep`); others return all rows. Omitted or 0: all rows. `ForwardOutput.rows` says what came back.
   */
  lastRows?: number;
}

export interface ForwardOutput {
  /** [batch, rows, vocab] */
  logits: Float32Array;
  vocab: number;
  /** Positions per batch row in `logits`: seq, or the last `lastRows` of them when the model honours it. */
  rows: number;
  kv: KvState;
}

/** The names of the `present.*` outputs of a model with `layers` layers. */
function presentNames(layers: number): string[] {
  const names: string[] = [];
  for (let i = 0; i < layers; i++) names.push(`present.${i}.key`, `present.${i}.value`);
  return names;
}

/** From this many rows on, log-sum-exp runs in onnxruntime (below, the call overhead outweighs the gain). */
const NATIVE_LSE_MIN_ROWS = 4;

export interface RuntimeOptions {
  device?: DeviceName;
  threads?: number;
  log?: LogFn;
  /** onnxruntime's profiling (placement.ts): files named with this prefix, written by `endProfiling`. */
  profilePrefix?: string;
  /** false: fetch `present.*` even where the model offers `present_delta.*` (comparisons and benchmarks). */
  appendOnlyKv?: boolean;
  /** false: on WebGPU, keep the KV cache in host memory like the CPU does (comparisons and benchmarks). Default true. */
  deviceKv?: boolean;
}

/** Bytes that crossed between host and device memory in forwards on a GPU provider (inputs fed from the host, outputs fetched to it). */
export interface TransferTally {
  toDevice: number;
  toHost: number;
}

function hostBytes(t: ort.Tensor): number {
  return t.location === 'cpu' ? (t.data as ArrayBufferView).byteLength : 0;
}

export class ModelRuntime {
  readonly inputNames: Set<string>;
  readonly superposition: boolean;
  private readonly idsName: string;
  private readonly weightsName?: string;
  private readonly hasPositionIds: boolean;
  private readonly hasUseCacheBranch: boolean;
  /** The model takes `logits_to_keep` (graphs rewritten by `superdraft model prepare`). */
  readonly hasLogitsToKeep: boolean;
  /** Logit columns from this id on are set to -Infinity (rows beyond the tokenizer's vocabulary); set by the engine. */
  maskFrom = Infinity;
  /** Output names fetched by a batch-1 forward with an append-only store (undefined: the model has no deltas). */
  private readonly deltaFetches?: string[];
  /** Output names fetched when the KV cache stays in device memory (logits and present.*); undefined otherwise. */
  private readonly deviceFetches?: string[];
  /** Row selection and prefix cuts of device-resident caches. */
  private readonly kvOps?: DeviceKvOps;
  /** Host<->device bytes of the forwards so far (0 on the CPU provider: nothing crosses). */
  readonly transfer: TransferTally = { toDevice: 0, toHost: 0 };
  /** The native log-sum-exp helper: created on first use; null once it failed to load. */
  private lseOp: Promise<RowLogSumExp> | null | undefined;
  forwards = 0;
  /** Why this device: asked for, or what `auto` found (devices.ts). */
  deviceReason = '';
  /** ONNX file and external data bytes ≥ LARGE_MODEL_BYTES: the cost-driven policies apply. */
  readonly large: boolean;
  /** Measured forward costs (verification policy: verifyPolicy.ts). */
  readonly costs = new ForwardCostMeter();

  private constructor(
    private readonly session: ort.InferenceSession,
    readonly config: ModelConfig,
    readonly device: string,
    readonly providersTried: ProviderAttempt[],
    appendOnlyKv = true,
    deviceKv = false,
  ) {
    this.inputNames = new Set(session.inputNames);
    this.large = modelBytes(config.modelFile) >= LARGE_MODEL_BYTES;
    const weights = config.superposition?.weights ?? 'token_weights';
    this.superposition = this.inputNames.has(weights);
    this.weightsName = this.superposition ? weights : undefined;
    this.idsName = this.superposition ? (config.superposition?.input ?? 'input_ids') : 'input_ids';
    if (!this.inputNames.has(this.idsName)) throw new ModelLoadError(`ONNX model ${config.modelFile} has no "${this.idsName}" input`);
    if (this.inputNames.has('past_key_values.0.key_value')) {
      throw new ModelLoadError(`ONNX model ${config.modelFile} has a fused key_value cache (gpt_bigcode): run \`superdraft model prepare ${config.dir}\` once`);
    }
    if (!this.inputNames.has('past_key_values.0.key')) {
      throw new ModelLoadError(`ONNX model ${config.modelFile} has no KV-cache inputs (past_key_values.0.key): export it with past key values`);
    }
    if (!session.outputNames.includes('logits') || !session.outputNames.includes('present.0.key')) {
      throw new ModelLoadError(`ONNX model ${config.modelFile} lacks the "logits" / "present.*" outputs of the Optimum decoder layout`);
    }
    for (const m of session.inputMetadata) {
      if (m.name.startsWith('past_key_values.') && m.isTensor && m.type !== 'float32') {
        throw new ModelLoadError(`ONNX model ${config.modelFile}: KV cache type ${m.type} is not supported (float32 only): use the model's q4 or fp32 variant (superdraft model install NAME --variant q4), on a GPU too`);
      }
    }
    let layers = 0;
    while (this.inputNames.has(`past_key_values.${layers}.key`)) layers++;
    if (layers !== config.numLayers) {
      throw new ModelLoadError(`config.json says ${config.numLayers} layers but ${config.modelFile} has ${layers}`);
    }
    this.hasPositionIds = this.inputNames.has('position_ids');
    this.hasUseCacheBranch = this.inputNames.has('use_cache_branch');
    this.hasLogitsToKeep = this.inputNames.has('logits_to_keep');
    const deltas: string[] = [];
    for (let i = 0; i < layers; i++) deltas.push(`present_delta.${i}.key`, `present_delta.${i}.value`);
    if (deviceKv) {
      // The cache stays in GPU memory: no deltas to append on the host, the whole present.* is fetched (as GPU buffers).
      this.deviceFetches = ['logits', ...presentNames(layers)];
      this.kvOps = new DeviceKvOps(config);
    } else if (appendOnlyKv && deltas.every((n) => session.outputNames.includes(n))) this.deltaFetches = ['logits', ...deltas];
  }

  /** True when batch-1 caches are append-only stores (the model exports `present_delta.*`). */
  get appendOnlyKv(): boolean {
    return this.deltaFetches !== undefined;
  }

  /** True when the KV cache stays in device memory between forwards (WebGPU). */
  get deviceKv(): boolean {
    return this.deviceFetches !== undefined;
  }

  static async load(config: ModelConfig, opts: RuntimeOptions = {}): Promise<ModelRuntime> {
    const gpuOutputs = opts.deviceKv === false ? undefined : presentNames(config.numLayers);
    return openSession(config.modelFile, { ...opts, gpuOutputs }, (session, device, tried, reason) => {
      const rt = new ModelRuntime(session, config, device, tried, opts.appendOnlyKv !== false, device === 'webgpu' && gpuOutputs !== undefined);
      rt.deviceReason = reason;
      return rt;
    });
  }

  /** An empty cache for `batch` rows. */
  emptyKv(batch: number): KvState {
    return emptyKv(this.config, batch);
  }

  /**
   * log Σ exp of each of the first `rows` rows of `logits` (row-major, `vocab` wide). Many rows go to a native
   * onnxruntime reduction (vectorised: ~10× faster than a JavaScript loop at 100+ rows); a few rows, or a
   * platform where that helper graph cannot run, use JavaScript. Float32 precision (~1e-5 absolute).
   */
  async rowLogSumExp(logits: Float32Array, rows: number, vocab: number): Promise<ArrayLike<number>> {
    if (rows >= NATIVE_LSE_MIN_ROWS && this.lseOp !== null) {
      try {
        this.lseOp ??= RowLogSumExp.create();
        return await (await this.lseOp).rows(logits, rows, vocab);
      } catch {
        const failed = this.lseOp;
        this.lseOp = null; // not available here: JavaScript from now on
        void failed?.then((o) => o.dispose()).catch(() => undefined);
      }
    }
    const out = new Float64Array(rows);
    for (let r = 0; r < rows; r++) out[r] = logSumExp(logits, vocab, r);
    return out;
  }

  /** The inputs of one forward: ids (and superposition weights), the attention mask over the past, positions, the cache. */
  private feeds(input: ForwardInput, k: number): Record<string, ort.Tensor> {
    const { batch, seq, past } = input;
    const n = batch * seq * k;
    const ids = new BigInt64Array(n);
    for (let i = 0; i < n; i++) ids[i] = BigInt(input.ids[i]);
    // A view of a multi-head store holds more slots than entries: the unused ones are masked.
    const slots = past.slots ?? past.length;
    const fed = slots + seq;
    const mask = new BigInt64Array(batch * fed);
    for (let b = 0; b < batch; b++) {
      const row = b * fed;
      for (let j = 0; j < past.length; j++) mask[row + j] = BigInt(past.valid[j]);
      for (let j = slots; j < fed; j++) mask[row + j] = 1n;
    }
    const feeds: Record<string, ort.Tensor> = {
      [this.idsName]: new ort.Tensor('int64', ids, this.superposition ? [batch, seq, k] : [batch, seq]),
      attention_mask: new ort.Tensor('int64', mask, [batch, fed]),
    };
    if (this.weightsName) {
      const w = new Float32Array(n);
      if (input.weights) for (let i = 0; i < n; i++) w[i] = input.weights[i];
      else w.fill(1);
      feeds[this.weightsName] = new ort.Tensor('float32', w, [batch, seq, k]);
    }
    if (this.hasPositionIds) {
      const pos = new BigInt64Array(batch * seq);
      for (let b = 0; b < batch; b++) for (let s = 0; s < seq; s++) pos[b * seq + s] = BigInt(past.nextPos + s);
      feeds.position_ids = new ort.Tensor('int64', pos, [batch, seq]);
    }
    const keep = input.lastRows && input.lastRows > 0 && input.lastRows < seq ? input.lastRows : 0;
    if (this.hasLogitsToKeep) feeds.logits_to_keep = new ort.Tensor('int64', BigInt64Array.of(BigInt(keep)), [1]);
    if (this.hasUseCacheBranch) feeds.use_cache_branch = new ort.Tensor('bool', [past.length > 0], [1]);
    for (let i = 0; i < this.config.numLayers; i++) {
      feeds[`past_key_values.${i}.key`] = past.keys[i];
      feeds[`past_key_values.${i}.value`] = past.values[i];
    }
    return feeds;
  }

  async forward(input: ForwardInput): Promise<ForwardOutput> {
    // A device-resident cache whose selection is pending runs it first (deviceKv.ts).
    if (input.past.pending) input = { ...input, past: await this.kvOps!.materialize(input.past) };
    const { batch, seq, past } = input;
    const k = input.k ?? 1;
    if (past.batch !== batch) throw new Error(`KV batch ${past.batch} != input batch ${batch}`);
    if (k > 1 && !this.superposition) throw new Error('this model has no superposition input');
    const total = past.length + seq;
    const slots = past.slots ?? past.length;
    const feeds = this.feeds(input, k);
    const wantKv = input.wantKv !== false;
    const append = wantKv && batch === 1 && this.deltaFetches !== undefined;
    if (wantKv && !append && slots !== past.length) throw new Error('a padded store view can only be continued through the store');
    // With the cache on the device, present.* are fetched even when only the logits are wanted: onnxruntime-node 1.30
    // run with a subset of outputs that have a preferred GPU location binds stale buffers to the others (measured:
    // "output OrtValue provided for present.1.value has shape {1,...} but the computed one is {2,...}"). They stay in
    // GPU memory and are released with their tensors.
    const fetches = this.deviceFetches ?? (!wantKv ? ['logits'] : append ? this.deltaFetches : undefined);
    const t0 = performance.now();
    const out = fetches ? await this.session.run(feeds, fetches) : await this.session.run(feeds);
    if (batch * seq === 1) this.costs.recordStep(performance.now() - t0);
    this.forwards++;
    if (this.device !== 'cpu') {
      for (const t of Object.values(feeds)) this.transfer.toDevice += hostBytes(t);
      for (const t of Object.values(out)) this.transfer.toHost += hostBytes(t);
    }
    const logitsT = out.logits;
    const vocab = logitsT.dims[logitsT.dims.length - 1];
    let keys: ort.Tensor[] = [];
    let values: ort.Tensor[] = [];
    let store: KvStore | undefined;
    let viewSlots = total;
    if (append) {
      store = appendToStore(this.config, past, seq, out);
      ({ keys, values, slots: viewSlots } = viewsOf(this.config, store, total));
    } else if (wantKv) {
      for (let i = 0; i < this.config.numLayers; i++) {
        keys.push(out[`present.${i}.key`]);
        values.push(out[`present.${i}.value`]);
      }
    }
    if (this.kvOps) for (let i = 0; i < this.config.numLayers; i++) this.kvOps.track(out[`present.${i}.key`]), this.kvOps.track(out[`present.${i}.value`]);
    const valid = new Uint8Array(total);
    valid.set(past.valid);
    valid.fill(1, past.length);
    const logits = logitsT.data as Float32Array;
    // Ids past the tokenizer's vocabulary (a Hub model pads its embedding rows, e.g. Qwen2.5: 151,936 rows for 151,665
    // tokens) are never chosen: they have no text.
    if (this.maskFrom < vocab) for (let off = 0; off < logits.length; off += vocab) logits.fill(-Infinity, off + this.maskFrom, off + vocab);
    return {
      logits,
      vocab,
      rows: logitsT.dims[1],
      kv: { keys, values, batch, length: total, valid, nextPos: past.nextPos + seq, ...(store ? { store } : {}), ...(viewSlots !== total ? { slots: viewSlots } : {}) },
    };
  }

  /** Copies of selected rows of a cache (kvStore.ts: selectRows). */
  selectRows(kv: KvState, rows: ArrayLike<number>, from = 0): KvState {
    if (kv.pending || onDevice(kv)) {
      const start = Math.max(0, Math.min(from, kv.length));
      return pendingSelection(kv, rows, start, kv.length, kv.nextPos, start > 0 ? kv.valid.slice(start) : kv.valid);
    }
    return selectRows(this.config, kv, rows, from);
  }

  /** The first `length` entries of a cache (KV prefix reuse). Entries must all be valid. */
  truncate(kv: KvState, length: number): KvState {
    if (length < kv.length && (kv.pending || onDevice(kv))) {
      let nextPos = 0;
      for (let i = 0; i < length; i++) nextPos += kv.valid[i];
      return pendingSelection(kv, Array.from({ length: kv.batch }, (_, r) => r), 0, length, nextPos, kv.valid.slice(0, length));
    }
    return truncate(this.config, kv, length);
  }

  /**
   * The first `length` entries of a cache the caller drops, at its store's tip (kvStore.ts rewindTip): the store's
   * layout is then the one a cache of `length` entries grown one token at a time has. Undefined without a store.
   */
  rewind(kv: KvState, length: number): KvState | undefined {
    if (kv.pending || onDevice(kv)) return undefined;
    return rewindTip(this.config, kv, length);
  }

  kvBytes(kv: KvState): number {
    return kvBytes(this.config, kv);
  }

  /** Ends onnxruntime's profiling (a session created with `profilePrefix`): the profile file is written. */
  endProfiling(): void {
    this.session.endProfiling();
  }

  async dispose(): Promise<void> {
    const op = this.lseOp;
    this.lseOp = null;
    if (op) await op.then((o) => o.dispose()).catch(() => undefined);
    await this.kvOps?.dispose();
    await this.session.release();
  }
}
