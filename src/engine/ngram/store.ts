/**
 * N-gram store for superposed decoding's interpolation and for speculative drafting.
 *
 * Two sources are mixed:
 *  - a static table (`ngrams.bin`, shipped with the model) read zero-copy through typed arrays over the file
 *    buffer; contexts are exact rows sorted lexicographically, looked up by binary search;
 *  - dynamic counts built from token sequences (workspace files, open files and the per-request prompt), kept per
 *    document so a document can be replaced or removed; total tokens are capped and the oldest documents evicted.
 *
 * Orders are 2..6 (contexts of 1..5 tokens). The hot paths (`probabilities`, `draft`) do not allocate.
 *
 * The static table's file format: staticFile.ts.
 */
import { promises as fsp } from 'node:fs';
import { DynamicCounts } from './counts';
import { MAX_ORDER, fail, parseStaticTable, type StaticOrder } from './staticFile';

export { MAX_ORDER, MIN_ORDER } from './staticFile';
/** Interpolation weights for orders 2..6 (Superposed Decoding's defaults), renormalised over orders with the context. */
export const ORDER_WEIGHTS: readonly number[] = [0.01, 0.04, 0.15, 0.18, 0.12];
/** Context lengths handled: 1..5 tokens. */
const MAX_CTX = MAX_ORDER - 1;
/** Default cap on the tokens of all dynamic documents (the prompt excluded). */
export const DEFAULT_MAX_DYNAMIC_TOKENS = 300_000;
/** The prompt is counted as a document under this key (not a valid path, never evicted). */
const PROMPT_KEY = '\u0000prompt';
/** Longest prompt counted (its last tokens are kept: they are nearest to the cursor). */
const MAX_PROMPT_TOKENS = 32_768;

export interface NgramStoreOptions {
  /** Cap on the tokens of all dynamic documents; the oldest documents are evicted beyond it. */
  maxDynamicTokens?: number;
  /**
   * Confidence of dynamic counts against static probabilities within one order: the dynamic share is
   * D / (D + dynamicPrior) where D is how often the context occurs in the dynamic documents.
   */
  dynamicPrior?: number;
}

export interface DraftOptions {
  /** Stop the chain when the chosen continuation's probability falls below this (default 0.2). */
  minProb?: number;
  /** Shortest context (in tokens) accepted from dynamic documents (default 1). */
  minDynamicContext?: number;
  /** Shortest context accepted from the static table (default 2, i.e. trigrams and up). */
  minStaticContext?: number;
}

interface DynDoc {
  tokens: Uint32Array;
}

export class NgramStore {
  readonly vocabSize: number;
  private readonly staticOrders: (StaticOrder | null)[] = new Array(MAX_ORDER + 1).fill(null);
  private staticLoaded = false;
  private readonly dyn: DynamicCounts;
  private readonly docs = new Map<string, DynDoc>(); // insertion order = age (oldest first)
  private docTokens = 0;
  private readonly maxDynamicTokens: number;
  private readonly dynamicPrior: number;

  // Scratch state for the hot paths (no allocation per call).
  private readonly slots = new Int32Array(MAX_CTX + 1);
  private readonly window = new Int32Array(MAX_CTX);
  private readonly mark: Int32Array;
  private scratchCand = new Float64Array(64);
  private found = new Float64Array(64);

  private constructor(vocabSize: number, opts: NgramStoreOptions = {}) {
    if (!Number.isInteger(vocabSize) || vocabSize <= 0) throw new Error(`NgramStore: invalid vocabulary size ${vocabSize}`);
    this.vocabSize = vocabSize;
    this.maxDynamicTokens = Math.max(0, Math.floor(opts.maxDynamicTokens ?? DEFAULT_MAX_DYNAMIC_TOKENS));
    this.dynamicPrior = opts.dynamicPrior ?? 1;
    this.dyn = new DynamicCounts(vocabSize <= 65536);
    this.mark = new Int32Array(Math.min(vocabSize, 65536));
  }

  static empty(vocabSize: number, opts?: NgramStoreOptions): NgramStore {
    return new NgramStore(vocabSize, opts);
  }

  /** Loads a static table. Throws an Error naming the file when it is missing, corrupt, or made for another vocabulary. */
  static async loadStatic(file: string, vocabSize: number, opts?: NgramStoreOptions): Promise<NgramStore> {
    let buf: Buffer;
    try {
      buf = await fsp.readFile(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      fail(file, code === 'ENOENT' ? 'file not found' : `cannot read (${(e as Error).message})`);
    }
    const store = new NgramStore(vocabSize, opts);
    store.attachStatic(file, buf);
    return store;
  }

  /** Same as loadStatic for a buffer already in memory (`name` is used in errors). */
  static fromStaticBuffer(name: string, buf: Uint8Array, vocabSize: number, opts?: NgramStoreOptions): NgramStore {
    const store = new NgramStore(vocabSize, opts);
    store.attachStatic(name, buf);
    return store;
  }

  private attachStatic(file: string, input: Uint8Array): void {
    for (const v of parseStaticTable(file, input, this.vocabSize)) this.staticOrders[v.order] = v;
    this.staticLoaded = true;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Dynamic documents

  setDocument(key: string, tokens: ArrayLike<number>): void {
    if (key === PROMPT_KEY) throw new Error('NgramStore: reserved document key');
    this.replaceDoc(key, tokens, this.maxDynamicTokens);
    this.evict();
  }

  removeDocument(key: string): void {
    const doc = this.docs.get(key);
    if (!doc) return;
    this.count(doc.tokens, 0, doc.tokens.length, -1);
    this.docs.delete(key);
    if (key !== PROMPT_KEY) this.docTokens -= doc.tokens.length;
  }

  /** The per-request prompt, counted as a temporary document (replaces the previous prompt; not evicted). */
  setPrompt(tokens: ArrayLike<number>): void {
    let t = tokens;
    if (t.length > MAX_PROMPT_TOKENS) t = Array.prototype.slice.call(t, t.length - MAX_PROMPT_TOKENS) as number[];
    this.replaceDoc(PROMPT_KEY, t, MAX_PROMPT_TOKENS);
  }

  stats(): { staticLoaded: boolean; documents: number; tokens: number } {
    return { staticLoaded: this.staticLoaded, documents: this.docs.size - (this.docs.has(PROMPT_KEY) ? 1 : 0), tokens: this.docTokens };
  }

  /** Number of distinct contexts in the dynamic store (for diagnostics and memory checks). */
  dynamicContexts(): number {
    return this.dyn.live;
  }

  /**
   * Replaces a document's counts. Only the n-grams past the common prefix of the old and new token sequences are
   * touched, so a prompt that grows by a few tokens while the user types costs a few updates.
   */
  private replaceDoc(key: string, input: ArrayLike<number>, cap: number): void {
    const n = Math.min(input.length, cap);
    const tokens = new Uint32Array(n);
    const vocab = this.vocabSize;
    for (let i = 0; i < n; i++) {
      const t = input[i];
      if (!Number.isInteger(t) || t < 0 || t >= vocab) throw new Error(`NgramStore: token id ${t} at ${i} out of vocabulary (${vocab})`);
      tokens[i] = t;
    }
    const old = this.docs.get(key);
    let common = 0;
    if (old) {
      const o = old.tokens;
      const m = Math.min(o.length, n);
      while (common < m && o[common] === tokens[common]) common++;
      // An n-gram ending at position p (its successor at p) is unchanged iff p < common.
      this.count(o, common, o.length, -1);
      this.docs.delete(key); // re-inserted below as the newest
      if (key !== PROMPT_KEY) this.docTokens -= o.length;
    }
    this.count(tokens, common, n, +1);
    this.docs.set(key, { tokens });
    if (key !== PROMPT_KEY) this.docTokens += n;
  }

  private evict(): void {
    if (this.docTokens <= this.maxDynamicTokens) return;
    for (const [key] of this.docs) {
      if (this.docTokens <= this.maxDynamicTokens) break;
      if (key === PROMPT_KEY) continue;
      this.removeDocument(key);
    }
  }

  /** Adds (sign +1) or removes (sign -1) the n-grams whose successor is at positions [from, to). */
  private count(tokens: Uint32Array, from: number, to: number, sign: 1 | -1): void {
    const dyn = this.dyn;
    for (let p = Math.max(from, 1); p < to; p++) {
      const succ = tokens[p];
      const maxJ = Math.min(MAX_CTX, p);
      for (let j = 1; j <= maxJ; j++) {
        dyn.setKey(tokens, p, j);
        dyn.update(succ, sign);
      }
    }
    if (sign < 0 && dyn.live === 0) dyn.clear();
  }

  /** Fills this.slots[1..maxJ] with the dynamic context slots (-1 where unknown) for the context ending at `end`. */
  private dynamicSlots(seq: ArrayLike<number>, end: number, maxJ: number): void {
    const dyn = this.dyn;
    const slots = this.slots;
    for (let j = 1; j <= maxJ; j++) {
      if (dyn.live === 0) {
        slots[j] = -1;
        continue;
      }
      dyn.setKey(seq, end, j);
      slots[j] = dyn.find();
    }
  }

  /** Approximate memory of the dynamic tables and documents, in bytes. */
  dynamicBytes(): number {
    let docs = 0;
    for (const d of this.docs.values()) docs += d.tokens.byteLength;
    return this.dyn.bytes() + docs;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Lookups

  /** Binary search of the static row equal to the `width` tokens ending at seq[end-1]; -1 if absent. */
  private findStatic(v: StaticOrder, seq: ArrayLike<number>, end: number): number {
    const w = v.width;
    const ctx = v.contexts;
    let lo = 0;
    let hi = v.numContexts - 1;
    const base = end - w;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const r = mid * w;
      let cmp = 0;
      for (let j = 0; j < w; j++) {
        cmp = ctx[r + j] - seq[base + j];
        if (cmp !== 0) break;
      }
      if (cmp === 0) return mid;
      if (cmp < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /**
   * Interpolated P(candidate | context) over orders 2..6: Σ w_n·P_n / Σ w_n over the orders whose context is known
   * (dynamically or statically). Within an order, dynamic and static are mixed as λ·P_dyn + (1-λ)·P_static with
   * λ = D/(D + dynamicPrior), D the context's dynamic count. 0 where no order supports a candidate.
   */
  probabilities(context: ArrayLike<number>, candidates: ArrayLike<number>, out?: Float64Array): Float64Array {
    const nc = candidates.length;
    const res = out && out.length >= nc ? out : new Float64Array(nc);
    for (let i = 0; i < nc; i++) res[i] = 0;
    const end = context.length;
    const maxJ = Math.min(MAX_CTX, end);
    if (maxJ === 0 || nc === 0) return res;
    if (this.scratchCand.length < nc) {
      this.scratchCand = new Float64Array(Math.max(nc, this.scratchCand.length * 2));
      this.found = new Float64Array(this.scratchCand.length);
    }
    const tmp = this.scratchCand;
    const dyn = this.dyn;
    const slots = this.slots;
    this.dynamicSlots(context, end, maxJ);
    let wsum = 0;
    for (let j = 1; j <= maxJ; j++) {
      const order = j + 1;
      const slot = slots[j];
      const sv = this.staticOrders[order];
      const row = sv ? this.findStatic(sv, context, end) : -1;
      if (slot < 0 && row < 0) continue;
      const w = ORDER_WEIGHTS[j - 1];
      wsum += w;
      const total = slot >= 0 ? dyn.total(slot) : 0;
      let lambda = 1;
      if (slot >= 0 && row >= 0) lambda = total / (total + this.dynamicPrior);
      else if (slot < 0) lambda = 0;
      for (let i = 0; i < nc; i++) tmp[i] = 0;
      if (slot >= 0) {
        const scale = (lambda * w) / total;
        for (let i = 0; i < nc; i++) tmp[i] += dyn.count(slot, candidates[i]) * scale;
      }
      if (row >= 0 && sv) this.staticInto(sv, row, candidates, tmp, ((1 - lambda) * w) / 65535);
      for (let i = 0; i < nc; i++) res[i] += tmp[i];
    }
    if (wsum > 0) for (let i = 0; i < nc; i++) res[i] /= wsum;
    return res;
  }

  /** Adds scale·probs[token] of the static row's entries to acc[i] for each candidate i (duplicates included). */
  private staticInto(v: StaticOrder, row: number, candidates: ArrayLike<number>, acc: Float64Array, scale: number): void {
    const mark = this.mark;
    const found = this.found;
    const nc = candidates.length;
    let want = 0;
    for (let i = 0; i < nc; i++) {
      const c = candidates[i];
      if (c >= 0 && c < mark.length && mark[c] === 0) {
        mark[c] = i + 1; // first index of this token among the candidates
        found[i] = 0;
        want++;
      }
    }
    const a = v.offsets[row];
    const b = v.offsets[row + 1];
    const toks = v.tokens;
    const probs = v.probs;
    for (let e = a; e < b && want > 0; e++) {
      const m = mark[toks[e]];
      if (m !== 0) {
        found[m - 1] = probs[e] * scale;
        want--;
      }
    }
    for (let i = 0; i < nc; i++) {
      const c = candidates[i];
      if (c >= 0 && c < mark.length) acc[i] += found[mark[c] - 1];
    }
    for (let i = 0; i < nc; i++) {
      const c = candidates[i];
      if (c >= 0 && c < mark.length) mark[c] = 0;
    }
  }

  /**
   * Drafts up to maxLen tokens continuing `context`: at each step the longest context known dynamically (else
   * statically) gives its most frequent successor; the chain stops when nothing matches or the choice is weak.
   */
  draft(context: ArrayLike<number>, maxLen: number, opts: DraftOptions = {}): number[] {
    const out: number[] = [];
    if (maxLen <= 0) return out;
    const minProb = opts.minProb ?? 0.2;
    const minDyn = Math.max(1, opts.minDynamicContext ?? 1);
    const minStatic = Math.max(1, opts.minStaticContext ?? 2);
    // Sliding window of the last MAX_CTX tokens (context then drafted tokens).
    const win = this.window;
    let have = Math.min(MAX_CTX, context.length);
    for (let i = 0; i < have; i++) win[i] = context[context.length - have + i];
    const dyn = this.dyn;
    const slots = this.slots;
    while (out.length < maxLen && have > 0) {
      let next = -1;
      let p = 0;
      this.dynamicSlots(win, have, have);
      for (let j = have; j >= minDyn; j--) {
        const slot = slots[j];
        if (slot < 0) continue;
        const b = dyn.bestOf(slot);
        if (b < 0) continue;
        next = b;
        p = dyn.bestCount(slot) / dyn.total(slot);
        break;
      }
      if (next < 0) {
        for (let j = have; j >= minStatic; j--) {
          const sv = this.staticOrders[j + 1];
          if (!sv) continue;
          const row = this.findStatic(sv, win, have);
          if (row < 0) continue;
          const a = sv.offsets[row];
          if (a === sv.offsets[row + 1]) continue;
          next = sv.tokens[a];
          p = sv.probs[a] / 65535;
          break;
        }
      }
      if (next < 0 || p < minProb) break;
      out.push(next);
      if (have < MAX_CTX) win[have++] = next;
      else {
        win.copyWithin(0, 1);
        win[MAX_CTX - 1] = next;
      }
    }
    return out;
  }
}
