/**
 * Numeric helpers shared by the runtime, the decode loop and the strategies: log-softmax / log-sum-exp over a row of
 * logits, argmax, top-N, a seeded PRNG, and the abort error every cancelled step throws. No imports, so that any
 * engine file can use them without an import loop.
 */

export function abortError(): Error {
  const e = new Error('request cancelled');
  e.name = 'AbortError';
  return e;
}

export function checkAbort(signal?: AbortSignal): void {
  if (signal?.aborted) throw abortError();
}

/** log-softmax of row `row` of a [rows, vocab] logits array, into `out`. */
export function logSoftmax(logits: Float32Array, vocab: number, row: number, out: Float64Array, temperature = 1): Float64Array {
  const off = row * vocab;
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) if (logits[off + i] > max) max = logits[off + i];
  let sum = 0;
  for (let i = 0; i < vocab; i++) sum += Math.exp((logits[off + i] - max) / temperature);
  const lse = Math.log(sum);
  for (let i = 0; i < vocab; i++) out[i] = (logits[off + i] - max) / temperature - lse;
  return out;
}

/**
 * log Σ exp(logits/temperature) of row `row`, without materialising the distribution: a token's log-probability is
 * then logits[t]/temperature - lse. (One pass for the max, one for the sum.)
 */
export function logSumExp(logits: Float32Array, vocab: number, row: number, temperature = 1): number {
  const off = row * vocab;
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) if (logits[off + i] > max) max = logits[off + i];
  let sum = 0;
  const inv = 1 / temperature;
  for (let i = 0; i < vocab; i++) sum += Math.exp((logits[off + i] - max) * inv);
  return max * inv + Math.log(sum);
}

/** Argmax of row `row`, restricted to `allowed` when given. Ties go to the lowest id (deterministic). */
export function argmax(logits: Float32Array, vocab: number, row: number, allowed?: Int32Array): number {
  const off = row * vocab;
  let best = -1;
  let bestV = -Infinity;
  if (allowed) {
    for (let j = 0; j < allowed.length; j++) {
      const v = logits[off + allowed[j]];
      if (v > bestV) {
        bestV = v;
        best = allowed[j];
      }
    }
    return best;
  }
  for (let i = 0; i < vocab; i++) {
    if (logits[off + i] > bestV) {
      bestV = logits[off + i];
      best = i;
    }
  }
  return best;
}

/** Indices of the n largest values among `allowed` (or all `length` values from `offset`), best first. */
export function topN(values: Float64Array | Float32Array, n: number, offset = 0, length = values.length - offset, allowed?: Int32Array): number[] {
  const idx: number[] = [];
  const val: number[] = [];
  let size = 0;
  if (allowed) for (let j = 0; j < allowed.length; j++) size = insertTop(idx, val, size, n, allowed[j]!, values[offset + allowed[j]!]!);
  else for (let i = 0; i < length; i++) size = insertTop(idx, val, size, n, i, values[offset + i]!);
  return idx;
}

/**
 * Inserts `id` with value `v` into `ids`/`vals`, kept sorted best first with at most `n` entries of which `size` are
 * filled (ties keep the earlier one first); returns the new size. Arrays pre-filled with -Infinity act as full.
 */
export function insertTop(ids: { [i: number]: number }, vals: { [i: number]: number }, size: number, n: number, id: number, v: number): number {
  if (size === n && v <= vals[n - 1]!) return size;
  let p = size === n ? n - 1 : size;
  while (p > 0 && vals[p - 1]! < v) {
    ids[p] = ids[p - 1]!;
    vals[p] = vals[p - 1]!;
    p--;
  }
  ids[p] = id;
  vals[p] = v;
  return size === n ? n : size + 1;
}

/** Deterministic PRNG (mulberry32) so that a seeded sampling request reproduces. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
