/**
 * ONNX decoder runtime: one onnxruntime-node session over a model in the Hugging Face Optimum decoder layout,
 * optionally with the superposition inputs (input_ids [batch, seq, k] + token_weights [batch, seq, k]).
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
 * store. With one KV head that view is a prefix of the store; with several ([heads, capacity, head_dim] per layer
 * cannot be viewed as [1, heads, length, head_dim] without a copy) the view is the whole store, and the slots past
 * `length` are fed as masked positions (attention_mask 0). Keys carry their rotary / learned positions already
 * (position_ids are explicit), so where an entry sits in the cache does not change what it contributes.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import type { DeviceName } from '../../protocol';
import { ModelConfig, ModelLoadError } from './config';
import { logSumExp } from '../decode/math';
import { RowLogSumExp } from './ops';
import { decodeModel, externalDataLocations } from './onnx/proto';
import { containedPath } from './modelPaths';

export type LogFn = (level: 'error' | 'warn' | 'info' | 'debug', message: string) => void;

export interface KvState {
  /** Per layer: key and value tensors [batch, kvHeads, length, headDim]. Empty arrays when length is 0. */
  keys: ort.Tensor[];
  values: ort.Tensor[];
  batch: number;
  /** Cache entries (including masked ones). */
  length: number;
  /** 1 = attended, 0 = masked (rejected speculative entries). Shared by all rows. */
  valid: Uint8Array;
  /** Position id of the next token (= number of valid entries). */
  nextPos: number;
  /** Batch-1 caches of models with `present_delta.*` outputs: the storage `keys`/`values` view. */
  store?: KvStore;
  /**
   * Positions the `keys`/`values` tensors hold (dimension 2); omitted = `length`. More than `length` for a view of a
   * multi-head store: slots `length`..`slots - 1` are unused storage, fed masked.
   */
  slots?: number;
}

/**
 * Append-only storage of a batch-1 cache: per layer, key and value [kvHeads, capacity, headDim]. Rows below `used` never
 * change, so every state viewing a prefix of them stays valid. A forward from the state that ends at `used` appends
 * in place; a forward from any other state (an older one: the prompt cache's entry, a truncated prefix) copies its
 * own rows into a new store first.
 */
export interface KvStore {
  keys: Float32Array[];
  values: Float32Array[];
  used: number;
  capacity: number;
}

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

export interface ProviderAttempt {
  name: string;
  ok: boolean;
  error?: string;
}

/** GPU execution providers that onnxruntime-node can offer on each platform, in order of preference. */
function gpuProvidersFor(platform: NodeJS.Platform): string[] {
  const supported = new Set(ort.listSupportedBackends().map((b) => b.name));
  const wanted = platform === 'win32' ? ['cuda', 'dml', 'webgpu'] : platform === 'darwin' ? ['coreml', 'webgpu'] : ['cuda', 'webgpu'];
  // WebGPU on Linux runs on Vulkan: without a Vulkan loader it cannot find an adapter (and its attempt is noisy).
  const vulkan = platform !== 'linux' || VULKAN_LOADERS.some((f) => existsSync(f));
  return wanted.filter((p) => supported.has(p) && (p !== 'webgpu' || vulkan));
}

/** From this many rows on, log-sum-exp runs in onnxruntime (below, the call overhead outweighs the gain). */
const NATIVE_LSE_MIN_ROWS = 4;

const VULKAN_LOADERS = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/aarch64-linux-gnu/libvulkan.so.1', '/usr/lib64/libvulkan.so.1', '/usr/lib/libvulkan.so.1'];

/**
 * Intra-op threads when the user sets none. A small model (the embedded one is ~9 MB) decodes one token in about a
 * millisecond: thread hand-offs cost more than they save, and the editor needs the other cores. Measured here
 * (2 cores, one busy): 1 thread decodes ~2× faster per step and prefills 800 tokens in 210 ms against 320 ms.
 * Larger models get up to half the cores (at most 4).
 */
export function defaultThreads(modelFile: string): number {
  if (modelBytes(modelFile) < LARGE_MODEL_BYTES) return 1;
  return Math.max(1, Math.min(4, Math.floor(availableParallelism() / 2)));
}

/**
 * From this size on (ONNX file and external data) a model is "large": its forwards, not the engine's fixed per-draft
 * work, dominate a request, so the cost-driven policies (verifyPolicy.ts, coldPath.ts) apply. The embedded model
 * (~9 MB) stays below: its behaviour does not depend on the machine's load.
 */
export const LARGE_MODEL_BYTES = 100 * 1024 * 1024;

/**
 * Bytes of an ONNX file and its external data: the files its tensors name (a q4a8 companion graph reads
 * model_q4.onnx_data) and files next to it named after it (model.onnx_data, model.onnx.data).
 */
export function modelBytes(modelFile: string): number {
  try {
    const dir = path.dirname(modelFile);
    const base = path.basename(modelFile);
    const size = statSync(modelFile).size;
    const files = new Set<string>();
    for (const f of readdirSync(dir)) if (f !== base && f.startsWith(base) && /_data$|\.data$/.test(f)) files.add(f);
    // A graph-only file is small; one holding its weights is counted by its size (and not read here).
    if (size < GRAPH_ONLY_BYTES) {
      try {
        for (const loc of externalDataLocations(decodeModel(readFileSync(modelFile)))) files.add(loc);
      } catch {
        /* not readable as ONNX: reported when the session is created */
      }
    }
    let total = size;
    for (const f of files) {
      let file: string;
      try {
        file = containedPath(dir, f, 'external data location'); // the one path policy: nothing outside the folder is looked at
      } catch {
        continue; // onnxruntime refuses it when the session is created
      }
      if (existsSync(file)) total += statSync(file).size;
    }
    return total;
  } catch {
    return 0; // reported when the session is created
  }
}
/** Below this size an ONNX file is read for the external data it names (graphs with external data are ~0.1–1 MB; the embedded model, 9 MB, holds its weights). */
const GRAPH_ONLY_BYTES = 4 * 1024 * 1024;

/**
 * What forwards cost on this device under its current load: a decoding step, and each row of a scoring forward beyond
 * that fixed part. Medians of the last observations, so one slow outlier (a helper session created, an allocator
 * growing for a new shape, another process's burst) does not swing a decision. NaN until measured.
 */
export class ForwardCostMeter {
  private readonly steps: number[] = [];
  private readonly rows: number[] = [];
  private static readonly KEEP = 9;

  private static push(list: number[], v: number): void {
    list.push(v);
    if (list.length > ForwardCostMeter.KEEP) list.shift();
  }

  private static median(list: number[]): number {
    if (list.length === 0) return NaN;
    const s = [...list].sort((a, b) => a - b);
    return s[s.length >> 1]!;
  }

  get stepMs(): number {
    return ForwardCostMeter.median(this.steps);
  }

  get rowMs(): number {
    return ForwardCostMeter.median(this.rows);
  }

  recordStep(ms: number): void {
    ForwardCostMeter.push(this.steps, ms);
  }

  /** A scoring pass of `rows` rows (forward and log-sum-exp) took `ms`. */
  recordRows(rows: number, ms: number): void {
    const step = this.stepMs;
    if (rows <= 0 || Number.isNaN(step)) return;
    ForwardCostMeter.push(this.rows, Math.max(0, ms - step) / rows);
  }

  /** Costs for the verification policy, or undefined before any decoding step was measured. */
  estimate(): { stepMs: number; rowMs: number } | undefined {
    const step = this.stepMs;
    if (Number.isNaN(step)) return undefined;
    // Before the first scoring pass: a row costs about a quarter of a step (measured: 1/7 on Qwen2.5-0.5B q4).
    const row = this.rowMs;
    return { stepMs: step, rowMs: Number.isNaN(row) ? step / 4 : row };
  }
}

export interface RuntimeOptions {
  device?: DeviceName;
  threads?: number;
  log?: LogFn;
  /** false: fetch `present.*` even where the model offers `present_delta.*` (comparisons and benchmarks). */
  appendOnlyKv?: boolean;
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
  /** The native log-sum-exp helper: created on first use; null once it failed to load. */
  private lseOp: Promise<RowLogSumExp> | null | undefined;
  forwards = 0;
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
        throw new ModelLoadError(`ONNX model ${config.modelFile}: KV cache type ${m.type} is not supported (float32 only)`);
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
    if (appendOnlyKv && deltas.every((n) => session.outputNames.includes(n))) this.deltaFetches = ['logits', ...deltas];
  }

  /** True when batch-1 caches are append-only stores (the model exports `present_delta.*`). */
  get appendOnlyKv(): boolean {
    return this.deltaFetches !== undefined;
  }

  static async load(config: ModelConfig, opts: RuntimeOptions = {}): Promise<ModelRuntime> {
    const log = opts.log ?? (() => undefined);
    const device = opts.device ?? 'auto';
    // Provider failures are reported through `log` with their reason; keep onnxruntime's own console quiet.
    ort.env.logLevel = 'fatal';
    const threads = opts.threads && opts.threads > 0 ? opts.threads : defaultThreads(config.modelFile);
    const base: ort.InferenceSession.SessionOptions = {
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      // onnxruntime-node rejects an explicit undefined: set the key only when a count is given.
      ...(threads ? { intraOpNumThreads: threads } : {}),
      interOpNumThreads: 1,
      enableCpuMemArena: true,
      logSeverityLevel: 3,
    };
    const candidates: string[] = device === 'auto' ? [...gpuProvidersFor(process.platform), 'cpu'] : [device];
    const tried: ProviderAttempt[] = [];
    for (const ep of candidates) {
      try {
        const session = await ort.InferenceSession.create(config.modelFile, {
          ...base,
          executionProviders: ep === 'cpu' ? ['cpu'] : [ep, 'cpu'],
        });
        tried.push({ name: ep, ok: true });
        log('info', `execution provider ${ep}: session created for ${config.modelFile}`);
        return new ModelRuntime(session, config, ep, tried, opts.appendOnlyKv !== false);
      } catch (e) {
        const msg = (e as Error).message.split('\n')[0];
        tried.push({ name: ep, ok: false, error: msg });
        if (e instanceof ModelLoadError) throw e;
        if (device !== 'auto') {
          const providerProblem = ep !== 'cpu' && /execution ?provider|shared library|adapter|cuda|dml|directml|coreml|webgpu|not supported|backend/i.test(msg);
          if (providerProblem) throw new ModelLoadError(`execution provider "${ep}" is not available here: ${msg}`);
          throw new ModelLoadError(`ONNX model ${config.modelFile} is corrupt or unreadable: ${msg}`);
        }
        log('info', `execution provider ${ep} unavailable (${msg}); trying the next one`);
        if (ep === 'cpu') throw new ModelLoadError(`ONNX model ${config.modelFile} could not be loaded: ${msg}`);
      }
    }
    throw new ModelLoadError(`no execution provider could load ${config.modelFile}`);
  }

  /** An empty cache for `batch` rows. */
  emptyKv(batch: number): KvState {
    const { numLayers, numKvHeads, headDim } = this.config;
    const keys: ort.Tensor[] = [];
    const values: ort.Tensor[] = [];
    for (let i = 0; i < numLayers; i++) {
      keys.push(new ort.Tensor('float32', new Float32Array(0), [batch, numKvHeads, 0, headDim]));
      values.push(new ort.Tensor('float32', new Float32Array(0), [batch, numKvHeads, 0, headDim]));
    }
    return { keys, values, batch, length: 0, valid: new Uint8Array(0), nextPos: 0 };
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

  async forward(input: ForwardInput): Promise<ForwardOutput> {
    const { batch, seq, past } = input;
    const k = input.k ?? 1;
    if (past.batch !== batch) throw new Error(`KV batch ${past.batch} != input batch ${batch}`);
    if (k > 1 && !this.superposition) throw new Error('this model has no superposition input');
    const n = batch * seq * k;
    const ids = new BigInt64Array(n);
    for (let i = 0; i < n; i++) ids[i] = BigInt(input.ids[i]);
    const total = past.length + seq;
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
    const wantKv = input.wantKv !== false;
    const append = wantKv && batch === 1 && this.deltaFetches !== undefined;
    if (wantKv && !append && slots !== past.length) throw new Error('a padded store view can only be continued through the store');
    const t0 = performance.now();
    const out = append ? await this.session.run(feeds, this.deltaFetches) : wantKv ? await this.session.run(feeds) : await this.session.run(feeds, ['logits']);
    if (batch * seq === 1) this.costs.recordStep(performance.now() - t0);
    this.forwards++;
    const logitsT = out.logits;
    const vocab = logitsT.dims[logitsT.dims.length - 1];
    let keys: ort.Tensor[] = [];
    let values: ort.Tensor[] = [];
    let store: KvStore | undefined;
    let viewSlots = total;
    if (append) {
      store = this.appendToStore(past, seq, out);
      ({ keys, values, slots: viewSlots } = this.viewsOf(store, total));
    } else if (wantKv) {
      for (let i = 0; i < this.config.numLayers; i++) {
        keys.push(out[`present.${i}.key`]);
        values.push(out[`present.${i}.value`]);
      }
    }
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

  /** Appends a batch-1 forward's `present_delta.*` to the store of `past` (a new store when it is not the tip). */
  private appendToStore(past: KvState, seq: number, out: ort.InferenceSession.ReturnType): KvStore {
    const { numLayers, numKvHeads: H, headDim } = this.config;
    const need = past.length + seq;
    let store = past.store;
    if (!store || store.used !== past.length || need > store.capacity) {
      // One head: growth by half again (at least 64 rows) keeps appends amortised O(1) per entry, and the unused
      // rows cost nothing (the view is a prefix). Several heads: every unused row is fed (masked) to attention, so
      // the spare is 64 to 127 rows; a regrowth copies the cache once per 64 appended entries at least.
      const capacity = H === 1 ? Math.max(256, need + Math.max(64, need >> 1)) : Math.ceil((need + 64) / 64) * 64;
      const fresh: KvStore = { keys: [], values: [], used: past.length, capacity };
      const slots = past.slots ?? past.length;
      for (let i = 0; i < numLayers; i++) {
        const k = new Float32Array(H * capacity * headDim);
        const v = new Float32Array(H * capacity * headDim);
        if (past.length > 0) {
          const pk = past.keys[i].data as Float32Array;
          const pv = past.values[i].data as Float32Array;
          const n = past.length * headDim;
          for (let h = 0; h < H; h++) {
            k.set(pk.subarray(h * slots * headDim, h * slots * headDim + n), h * capacity * headDim);
            v.set(pv.subarray(h * slots * headDim, h * slots * headDim + n), h * capacity * headDim);
          }
        }
        fresh.keys.push(k);
        fresh.values.push(v);
      }
      store = fresh;
    }
    const cap = store.capacity;
    const n = seq * headDim;
    for (let i = 0; i < numLayers; i++) {
      const dk = out[`present_delta.${i}.key`].data as Float32Array;
      const dv = out[`present_delta.${i}.value`].data as Float32Array;
      for (let h = 0; h < H; h++) {
        const to = (h * cap + past.length) * headDim;
        store.keys[i].set(H === 1 ? dk : dk.subarray(h * n, (h + 1) * n), to);
        store.values[i].set(H === 1 ? dv : dv.subarray(h * n, (h + 1) * n), to);
      }
    }
    store.used = need;
    return store;
  }

  /** Tensors over a store holding `length` entries (no copy): a prefix with one KV head, the whole store with more. */
  private viewsOf(store: KvStore, length: number): { keys: ort.Tensor[]; values: ort.Tensor[]; slots: number } {
    const { numKvHeads: H, headDim } = this.config;
    const slots = H === 1 ? length : store.capacity;
    const n = H * slots * headDim;
    return {
      keys: store.keys.map((b) => new ort.Tensor('float32', b.subarray(0, n), [1, H, slots, headDim])),
      values: store.values.map((b) => new ort.Tensor('float32', b.subarray(0, n), [1, H, slots, headDim])),
      slots,
    };
  }

  /**
   * Copies of selected rows of a cache (beam reorder, or one row replicated `rows.length` times), optionally
   * keeping only the entries from `from` on. Dropping the oldest entries is exact for the entries kept (their keys
   * carry their absolute positions already) and positions continue at `nextPos`; the new tokens simply no longer
   * attend to the dropped context.
   */
  selectRows(kv: KvState, rows: ArrayLike<number>, from = 0): KvState {
    const { numKvHeads, headDim } = this.config;
    const start = Math.max(0, Math.min(from, kv.length));
    const length = kv.length - start;
    const slots = kv.slots ?? kv.length;
    const pick = (t: ort.Tensor): ort.Tensor => {
      const src = t.data as Float32Array;
      const dst = new Float32Array(rows.length * numKvHeads * length * headDim);
      for (let r = 0; r < rows.length; r++) {
        for (let h = 0; h < numKvHeads; h++) {
          const inOff = ((rows[r] * numKvHeads + h) * slots + start) * headDim;
          dst.set(src.subarray(inOff, inOff + length * headDim), (r * numKvHeads + h) * length * headDim);
        }
      }
      return new ort.Tensor('float32', dst, [rows.length, numKvHeads, length, headDim]);
    };
    return {
      keys: kv.keys.map(pick),
      values: kv.values.map(pick),
      batch: rows.length,
      length,
      valid: start > 0 ? kv.valid.slice(start) : kv.valid,
      nextPos: kv.nextPos,
    };
  }

  /** The first `length` entries of a cache (KV prefix reuse). Entries must all be valid. */
  truncate(kv: KvState, length: number): KvState {
    if (length >= kv.length) return kv;
    let nextPos = 0;
    for (let i = 0; i < length; i++) nextPos += kv.valid[i];
    if (kv.store) {
      // A prefix of an append-only store is a view; the next forward from it copies (it is not the tip).
      const { keys, values, slots } = this.viewsOf(kv.store, length);
      return { keys, values, batch: 1, length, valid: kv.valid.slice(0, length), nextPos, store: kv.store, ...(slots !== length ? { slots } : {}) };
    }
    const { numKvHeads, headDim } = this.config;
    const cut = (t: ort.Tensor): ort.Tensor => {
      const src = t.data as Float32Array;
      const dst = new Float32Array(kv.batch * numKvHeads * length * headDim);
      const rowsIn = kv.length * headDim;
      const rowsOut = length * headDim;
      for (let bh = 0; bh < kv.batch * numKvHeads; bh++) dst.set(src.subarray(bh * rowsIn, bh * rowsIn + rowsOut), bh * rowsOut);
      return new ort.Tensor('float32', dst, [kv.batch, numKvHeads, length, headDim]);
    };
    return { keys: kv.keys.map(cut), values: kv.values.map(cut), batch: kv.batch, length, valid: kv.valid.slice(0, length), nextPos };
  }

  kvBytes(kv: KvState): number {
    return 2 * this.config.numLayers * kv.batch * this.config.numKvHeads * kv.length * this.config.headDim * 4;
  }

  async dispose(): Promise<void> {
    const op = this.lseOp;
    this.lseOp = null;
    if (op) await op.then((o) => o.dispose()).catch(() => undefined);
    await this.session.release();
  }
}
