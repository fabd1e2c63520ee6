/**
 * The KV cache as an immutable value (`KvState`) and the append-only store of batch-1 caches (`KvStore`), with the
 * operations on them that need no session: an empty cache, appending a forward's `present_delta.*`, views over a
 * store, row selection (beam reorder, replication) and truncation.
 *
 * With one KV head a view of the store is a prefix of it; with several ([heads, capacity, head_dim] per layer cannot
 * be viewed as [1, heads, length, head_dim] without a copy) the view is the whole store, and the slots past `length`
 * are fed as masked positions (attention_mask 0). Keys carry their rotary / learned positions already (position_ids
 * are explicit), so where an entry sits in the cache does not change what it contributes.
 */
import * as ort from 'onnxruntime-node';

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
  /** A cache in device memory whose row selection / prefix cut has not run yet (deviceKv.ts); `keys`/`values` are empty until then. */
  pending?: PendingKv;
}

/** A selection of a device-resident cache not yet run (deviceKv.ts): rows of `base`, entries start..end. */
export interface PendingKv {
  base: KvState;
  rows: number[];
  start: number;
  end: number;
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

/** The cache's shape: what every operation here needs of the model's configuration. */
export interface KvDims {
  numLayers: number;
  numKvHeads: number;
  headDim: number;
}

/** An empty cache for `batch` rows. */
export function emptyKv(dims: KvDims, batch: number): KvState {
  const { numLayers, numKvHeads, headDim } = dims;
  const keys: ort.Tensor[] = [];
  const values: ort.Tensor[] = [];
  for (let i = 0; i < numLayers; i++) {
    keys.push(new ort.Tensor('float32', new Float32Array(0), [batch, numKvHeads, 0, headDim]));
    values.push(new ort.Tensor('float32', new Float32Array(0), [batch, numKvHeads, 0, headDim]));
  }
  return { keys, values, batch, length: 0, valid: new Uint8Array(0), nextPos: 0 };
}

/**
 * Slots of a multi-head store holding `used` entries: the next multiple of 64 above it. Every unused slot is fed
 * (masked) to attention, and how many there are changes the kernels' rounding (their reductions run over all of
 * them), so the count is a function of the length alone: a cache of a given length attends the same whatever its
 * history (grown one token at a time, or by a speculative unit and rewound), and speculative greedy decoding gives
 * plain greedy's tokens where the model's kernels allow it (docs/speculative-exactness.md).
 */
export function storeSlots(used: number): number {
  return (Math.floor(used / 64) + 1) * 64;
}

/** A store of `capacity` slots holding the first `length` entries of `past` (per layer and head). */
function copyStore(dims: KvDims, past: KvState, length: number, capacity: number): KvStore {
  const { numLayers, numKvHeads: H, headDim } = dims;
  const fresh: KvStore = { keys: [], values: [], used: length, capacity };
  const slots = past.slots ?? past.length;
  for (let i = 0; i < numLayers; i++) {
    const k = new Float32Array(H * capacity * headDim);
    const v = new Float32Array(H * capacity * headDim);
    if (length > 0) {
      const pk = past.keys[i].data as Float32Array;
      const pv = past.values[i].data as Float32Array;
      const n = length * headDim;
      for (let h = 0; h < H; h++) {
        k.set(pk.subarray(h * slots * headDim, h * slots * headDim + n), h * capacity * headDim);
        v.set(pv.subarray(h * slots * headDim, h * slots * headDim + n), h * capacity * headDim);
      }
    }
    fresh.keys.push(k);
    fresh.values.push(v);
  }
  return fresh;
}

/** Appends a batch-1 forward's `present_delta.*` to the store of `past` (a new store when it is not the tip). */
export function appendToStore(dims: KvDims, past: KvState, seq: number, out: ort.InferenceSession.ReturnType): KvStore {
  const { numLayers, numKvHeads: H, headDim } = dims;
  const need = past.length + seq;
  let store = past.store;
  if (!store || store.used !== past.length || need > store.capacity || (H > 1 && store.capacity !== storeSlots(need))) {
    // One head: growth by half again (at least 64 rows) keeps appends amortised O(1) per entry, and the unused
    // rows cost nothing (the view is a prefix). Several heads: storeSlots, a copy once per 64 appended entries.
    const capacity = H === 1 ? Math.max(256, need + Math.max(64, need >> 1)) : storeSlots(need);
    store = copyStore(dims, past, past.length, capacity);
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

/**
 * The first `length` entries of a cache at its store's tip (a speculative unit's rejected tokens dropped): the store
 * is rewound in place (the caller drops `kv`, the only state that viewed the entries past `length`), or copied when
 * its slot count must change (storeSlots). Undefined when `kv` is not its store's tip.
 */
export function rewindTip(dims: KvDims, kv: KvState, length: number): KvState | undefined {
  const store = kv.store;
  if (!store || store.used !== kv.length || length > kv.length || kv.batch !== 1) return undefined;
  let target = store;
  if (dims.numKvHeads > 1 && store.capacity !== storeSlots(length)) target = copyStore(dims, kv, length, storeSlots(length));
  else store.used = length;
  let dropped = 0;
  for (let i = length; i < kv.length; i++) dropped += kv.valid[i];
  const { keys, values, slots } = viewsOf(dims, target, length);
  return { keys, values, batch: 1, length, valid: kv.valid.slice(0, length), nextPos: kv.nextPos - dropped, store: target, ...(slots !== length ? { slots } : {}) };
}

/** Tensors over a store holding `length` entries (no copy): a prefix with one KV head, the whole store with more. */
export function viewsOf(dims: KvDims, store: KvStore, length: number): { keys: ort.Tensor[]; values: ort.Tensor[]; slots: number } {
  const { numKvHeads: H, headDim } = dims;
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
export function selectRows(dims: KvDims, kv: KvState, rows: ArrayLike<number>, from = 0): KvState {
  const { numKvHeads, headDim } = dims;
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
export function truncate(dims: KvDims, kv: KvState, length: number): KvState {
  if (length >= kv.length) return kv;
  let nextPos = 0;
  for (let i = 0; i < length; i++) nextPos += kv.valid[i];
  if (kv.store) {
    // A prefix of an append-only store is a view; the next forward from it copies (it is not the tip).
    const { keys, values, slots } = viewsOf(dims, kv.store, length);
    return { keys, values, batch: 1, length, valid: kv.valid.slice(0, length), nextPos, store: kv.store, ...(slots !== length ? { slots } : {}) };
  }
  const { numKvHeads, headDim } = dims;
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

/** Bytes of a cache's entries (float32 keys and values). */
export function kvBytes(dims: KvDims, kv: KvState): number {
  return 2 * dims.numLayers * kv.batch * dims.numKvHeads * kv.length * dims.headDim * 4;
}
