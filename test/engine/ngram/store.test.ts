import { describe, expect, it, beforeAll } from 'vitest';
import { mkdtempSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NgramStore, ORDER_WEIGHTS } from '../../../src/engine/ngram/store';
import { buildNgramFile, q, type OrderSpec } from './ngram-file';
import { Tokenizer } from '../../../src/engine/model/tokenizer';
import { EMBEDDED_MODEL } from '../../helpers/paths';

const dir = mkdtempSync(join(tmpdir(), 'sd-ngram-'));
function write(name: string, data: Buffer): string {
  const f = join(dir, name);
  writeFileSync(f, data);
  return f;
}

function smallOrders(): OrderSpec[] {
  return [
    {
      order: 2,
      rows: [
        { ctx: [4], total: 3, next: [[5, 1]] },
        { ctx: [1], total: 10, next: [[2, 0.6], [3, 0.4]] },
      ],
    },
    {
      order: 3,
      rows: [
        { ctx: [1, 2], total: 4, next: [[3, 1]] },
        { ctx: [0, 1], total: 2, next: [[2, 0.5], [7, 0.5]] },
      ],
    },
  ];
}

describe('NgramStore static table', () => {
  let store: NgramStore;
  beforeAll(async () => {
    store = await NgramStore.loadStatic(write('small.bin', buildNgramFile(10, smallOrders())), 10);
  });

  it('looks up exact contexts and renormalises over orders that have the context', () => {
    expect(Array.from(store.probabilities([1], [2, 3, 5]))).toEqual([q(0.6), q(0.4), 0]);
    // order 2 context [2] is unknown; order 3 [1,2] gives 3 with 1.0
    expect(store.probabilities([1, 2], [3, 2])[0]).toBeCloseTo(1, 12);
    // orders 2 ([1]) and 3 ([0,1]) both known: (0.01*p2 + 0.04*p3) / 0.05
    const p = store.probabilities([9, 0, 1], [2, 3, 7]);
    const w2 = ORDER_WEIGHTS[0];
    const w3 = ORDER_WEIGHTS[1];
    const exp = [(w2 * q(0.6) + w3 * q(0.5)) / (w2 + w3), (w2 * q(0.4)) / (w2 + w3), (w3 * q(0.5)) / (w2 + w3)];
    exp.forEach((e, i) => expect(p[i]).toBeCloseTo(e, 12));
    // unknown context, empty context, and a context that is a prefix of a row but not a row
    expect(Array.from(store.probabilities([8], [2, 3]))).toEqual([0, 0]);
    expect(Array.from(store.probabilities([], [2]))).toEqual([0]);
    expect(Array.from(store.probabilities([0], [1]))).toEqual([0]);
  });

  it('handles duplicate candidates and reuses the output buffer', () => {
    const out = new Float64Array(8).fill(42);
    const r = store.probabilities([1], [2, 2, 3], out);
    expect(r).toBe(out);
    expect(Array.from(r.subarray(0, 3))).toEqual([q(0.6), q(0.6), q(0.4)]);
  });

  it('drafts a greedy chain from the static table', () => {
    // [0,1] -> 2 (order 3, 0.5), then [1,2] -> 3 (1.0), then [2,3] unknown, [3] unknown at order 2 -> stop
    expect(store.draft([0, 1], 10, { minStaticContext: 1 })).toEqual([2, 3]);
    expect(store.draft([0, 1], 1, { minStaticContext: 1 })).toEqual([2]);
    expect(store.draft([4], 5, { minStaticContext: 1 })).toEqual([5]);
    // by default bigram contexts are too weak to draft from
    expect(store.draft([4], 5)).toEqual([]);
    expect(store.draft([8, 8], 5)).toEqual([]);
    expect(store.stats()).toEqual({ staticLoaded: true, documents: 0, tokens: 0 });
  });

  it('accepts a buffer whose byte offset is not 4-aligned', () => {
    const file = buildNgramFile(10, smallOrders());
    const big = Buffer.alloc(file.length + 1);
    file.copy(big, 1);
    const s = NgramStore.fromStaticBuffer('x', big.subarray(1), 10);
    expect(Array.from(s.probabilities([1], [2]))).toEqual([q(0.6)]);
  });
});

describe('NgramStore static errors name the file', () => {
  const good = buildNgramFile(10, smallOrders());
  const cases: [string, () => Buffer, RegExp, number?][] = [
    ['magic', () => buildNgramFile(10, smallOrders(), { magic: 'XXXX' }), /bad magic/],
    ['version', () => buildNgramFile(10, smallOrders(), { version: 2 }), /unsupported version 2/],
    ['vocab', () => good, /vocabulary size 10 does not match the model's 11/, 11],
    ['truncated header', () => good.subarray(0, 20), /truncated/],
    ['truncated data', () => good.subarray(0, good.length - 6), /truncated/],
    ['trailing', () => Buffer.concat([good, Buffer.alloc(9)]), /trailing bytes/],
    [
      'unsorted',
      () => {
        const b = Buffer.from(good);
        // swap the two order-2 context rows: [1],[4] -> [4],[1]
        const off = 32 + 32;
        const a = b.readUInt16LE(off);
        b.writeUInt16LE(b.readUInt16LE(off + 2), off);
        b.writeUInt16LE(a, off + 2);
        return b;
      },
      /not strictly sorted/,
    ],
    [
      'token out of vocabulary',
      () => buildNgramFile(10, [{ order: 2, rows: [{ ctx: [1], total: 1, next: [[12, 1]] }] }]),
      /successor id 12 out of vocabulary/,
    ],
    ['bad order', () => buildNgramFile(10, [{ order: 7, rows: [] }]), /invalid order 7/],
  ];
  for (const [name, make, re, vocab] of cases) {
    it(name, async () => {
      const f = write(`bad-${name.replace(/ /g, '_')}.bin`, make());
      const err = await NgramStore.loadStatic(f, vocab ?? 10).then(
        () => null,
        (e: Error) => e,
      );
      expect(err).toBeInstanceOf(Error);
      expect(err!.message).toContain(f);
      expect(err!.message).toMatch(re);
    });
  }
  it('missing file', async () => {
    const f = join(dir, 'nope.bin');
    await expect(NgramStore.loadStatic(f, 10)).rejects.toThrow(`ngrams file ${f}: file not found`);
  });
});

/** Reference: dynamic-only interpolated probability computed from raw documents by brute force. */
function reference(docs: number[][], context: number[], cand: number): number {
  let num = 0;
  let wsum = 0;
  for (let n = 2; n <= 6; n++) {
    const w = n - 1;
    if (context.length < w) break;
    const ctx = context.slice(context.length - w);
    let total = 0;
    let hit = 0;
    for (const d of docs)
      for (let p = w; p < d.length; p++) {
        let ok = true;
        for (let j = 0; j < w; j++) if (d[p - w + j] !== ctx[j]) { ok = false; break; }
        if (!ok) continue;
        total++;
        if (d[p] === cand) hit++;
      }
    if (total === 0) continue;
    wsum += ORDER_WEIGHTS[n - 2];
    num += (ORDER_WEIGHTS[n - 2] * hit) / total;
  }
  return wsum ? num / wsum : 0;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

describe('NgramStore dynamic documents', () => {
  it('counts a document exactly', () => {
    const s = NgramStore.empty(10);
    s.setDocument('a', [1, 2, 3, 1, 2, 4]);
    expect(Array.from(s.probabilities([1, 2], [3, 4, 5]))).toEqual([0.5, 0.5, 0]);
    // orders 2,3: 4 with 0.5; orders 4 ([3,1,2]) and 5 ([2,3,1,2]): 4 with 1.0
    expect(s.probabilities([2, 3, 1, 2], [4])[0]).toBeCloseTo((0.01 * 0.5 + 0.04 * 0.5 + 0.15 + 0.18) / 0.38, 12);
    expect(s.stats()).toEqual({ staticLoaded: false, documents: 1, tokens: 6 });
    s.removeDocument('a');
    expect(Array.from(s.probabilities([1, 2], [3, 4]))).toEqual([0, 0]);
    expect(s.stats()).toEqual({ staticLoaded: false, documents: 0, tokens: 0 });
    expect(s.dynamicContexts()).toBe(0);
  });

  it('matches a brute-force reference through random replace/remove/prompt operations', () => {
    const r = rng(7);
    const s = NgramStore.empty(6, { maxDynamicTokens: 1e9 });
    const docs = new Map<string, number[]>();
    let prompt: number[] = [];
    const randSeq = (n: number) => Array.from({ length: n }, () => Math.floor(r() * 6));
    for (let step = 0; step < 60; step++) {
      const op = r();
      const key = `d${Math.floor(r() * 4)}`;
      if (op < 0.4) {
        const t = randSeq(5 + Math.floor(r() * 40));
        s.setDocument(key, t);
        docs.set(key, t);
      } else if (op < 0.55) {
        // edit: keep a common prefix, change the tail (exercises incremental replacement)
        const old = docs.get(key) ?? [];
        const t = old.slice(0, Math.floor(r() * old.length)).concat(randSeq(Math.floor(r() * 10)));
        s.setDocument(key, t);
        docs.set(key, t);
      } else if (op < 0.65) {
        s.removeDocument(key);
        docs.delete(key);
      } else {
        prompt = r() < 0.5 ? prompt.concat(randSeq(1 + Math.floor(r() * 3))) : randSeq(Math.floor(r() * 30));
        s.setPrompt(prompt);
      }
      const all = [...docs.values(), prompt];
      const ctx = randSeq(1 + Math.floor(r() * 6));
      const cands = [0, 1, 2, 3, 4, 5];
      const got = s.probabilities(ctx, cands);
      cands.forEach((c, i) => expect(got[i]).toBeCloseTo(reference(all, ctx, c), 12));
      expect(s.stats().documents).toBe(docs.size);
      expect(s.stats().tokens).toBe([...docs.values()].reduce((a, d) => a + d.length, 0));
    }
    for (const k of [...docs.keys()]) s.removeDocument(k);
    s.setPrompt([]);
    expect(s.dynamicContexts()).toBe(0);
  });

  it('stays exact through table growth, tombstones and rebuilds (large documents)', () => {
    const r = rng(99);
    const V = 300;
    const s = NgramStore.empty(V, { maxDynamicTokens: 1e9 });
    const docs = new Map<string, number[]>();
    // skewed ids so that contexts repeat and successor lists are long
    const tok = () => Math.floor(V * r() ** 3);
    for (let round = 0; round < 6; round++) {
      for (let d = 0; d < 3; d++) {
        const key = `big${(round + d) % 4}`;
        const t = Array.from({ length: 6000 + Math.floor(r() * 4000) }, tok);
        s.setDocument(key, t);
        docs.set(key, t);
      }
      if (round % 2 === 1) {
        const key = [...docs.keys()][0];
        s.removeDocument(key);
        docs.delete(key);
      }
      const all = [...docs.values()];
      for (let q = 0; q < 8; q++) {
        const src = all[q % all.length];
        const at = 6 + Math.floor(r() * (src.length - 6));
        const ctx = src.slice(at - 1 - Math.floor(r() * 5), at);
        const cands = [src[at], tok(), tok(), 0, 1];
        const got = s.probabilities(ctx, cands);
        cands.forEach((c, i) => expect(got[i]).toBeCloseTo(reference(all, ctx, c), 12));
      }
    }
    for (const k of [...docs.keys()]) s.removeDocument(k);
    expect(s.dynamicContexts()).toBe(0);
    expect(s.stats()).toEqual({ staticLoaded: false, documents: 0, tokens: 0 });
  });

  it('evicts the oldest documents beyond the token cap, never the prompt', () => {
    const s = NgramStore.empty(10, { maxDynamicTokens: 12 });
    s.setPrompt([7, 8, 9, 7, 8]);
    s.setDocument('a', [1, 1, 1, 1, 1]);
    s.setDocument('b', [2, 2, 2, 2, 2]);
    s.setDocument('a', [1, 1, 1, 1, 3]); // touching 'a' makes it the newest
    s.setDocument('c', [3, 3, 3, 3, 3]);
    expect(s.stats()).toEqual({ staticLoaded: false, documents: 2, tokens: 10 });
    expect(s.probabilities([2], [2])[0]).toBe(0); // b evicted
    expect(s.probabilities([1], [1])[0]).toBeGreaterThan(0);
    expect(s.probabilities([7], [8])[0]).toBe(1);
  });

  it('mixes dynamic counts with static probabilities per order', async () => {
    const s = await NgramStore.loadStatic(write('mix.bin', buildNgramFile(10, smallOrders())), 10, { dynamicPrior: 1 });
    s.setDocument('x', [1, 3, 1, 3, 1, 3]); // context [1]: 3 x3 -> D=3, lambda = 3/4
    const p = s.probabilities([1], [2, 3]);
    expect(p[0]).toBeCloseTo(0.25 * q(0.6), 12);
    expect(p[1]).toBeCloseTo(0.75 * 1 + 0.25 * q(0.4), 12);
  });

  it('rejects token ids outside the vocabulary and the reserved key', () => {
    const s = NgramStore.empty(10);
    expect(() => s.setDocument('a', [1, 10])).toThrow(/out of vocabulary/);
    expect(() => s.setDocument('a', [1, -1])).toThrow(/out of vocabulary/);
    expect(s.stats().documents).toBe(0);
  });

  it('drafts from repeated context (prompt lookup) and stops where nothing matches', () => {
    const s = NgramStore.empty(100);
    s.setPrompt([10, 11, 12, 13, 14, 15, 16, 50, 51, 10, 11]);
    expect(s.draft([50, 51, 10, 11], 5)).toEqual([12, 13, 14, 15, 16]);
    expect(s.draft([50, 51, 10, 11], 3)).toEqual([12, 13, 14]);
    // the chain continues through its own drafted tokens until the data ends
    expect(s.draft([10, 11], 50)).toEqual([12, 13, 14, 15, 16, 50, 51, 10, 11, 12, 13, 14, 15, 16, 50, 51, 10, 11, 12, 13, 14, 15, 16, 50, 51, 10, 11, 12, 13, 14, 15, 16, 50, 51, 10, 11, 12, 13, 14, 15, 16, 50, 51, 10, 11, 12, 13, 14, 15, 16]);
    expect(s.draft([99], 5)).toEqual([]);
    expect(s.draft([], 5)).toEqual([]);
    expect(s.draft([10], 0)).toEqual([]);
  });

  it('prefers the longest matching context', () => {
    const s = NgramStore.empty(100);
    s.setDocument('a', [1, 2, 3, 9, 9, 9, 8, 2, 4, 2, 4, 2, 4]);
    // context [1,2]: the order-3 context [1,2] -> 3 wins over order-2 [2] (-> 4 three times)
    expect(s.draft([1, 2], 1)).toEqual([3]);
    expect(s.draft([7, 2], 1)).toEqual([4]);
  });
});

describe('NgramStore on the shipped model n-grams', () => {
  // The embedded model; SUPERDRAFT_MODEL_DIR points the test at another model directory.
  const modelDir = process.env.SUPERDRAFT_MODEL_DIR || EMBEDDED_MODEL;
  const cfgFile = join(modelDir, 'config.json');
  it('loads models/default n-grams and gives a distribution over the vocabulary', async () => {
    expect(existsSync(cfgFile), `${cfgFile} must exist (embedded model)`).toBe(true);
    const cfg = JSON.parse(readFileSync(cfgFile, 'utf8'));
    const file = join(modelDir, cfg.superdraft?.ngrams ?? 'ngrams.bin');
    const vocab: number = cfg.vocab_size;
    const t0 = performance.now();
    const s = await NgramStore.loadStatic(file, vocab);
    const loadMs = performance.now() - t0;
    expect(s.stats().staticLoaded).toBe(true);
    expect(loadMs).toBeGreaterThan(0);
    // Find a frequent bigram context from the table itself via draft on every token, then check the distribution.
    const all = Int32Array.from({ length: vocab }, (_, i) => i);
    const out = new Float64Array(vocab);
    let checked = 0;
    for (let t = 0; t < vocab && checked < 20; t += 97) {
      const p = s.probabilities([t], all, out);
      let sum = 0;
      for (let i = 0; i < vocab; i++) sum += p[i];
      if (sum === 0) continue;
      expect(sum).toBeLessThanOrEqual(1 + 1e-3);
      expect(sum).toBeGreaterThan(0.2);
      checked++;
    }
    expect(checked).toBeGreaterThan(5);
  });

  it('knows common code: the true next token of frequent code is supported, and drafting continues it', async () => {
    const cfg = JSON.parse(readFileSync(cfgFile, 'utf8'));
    const s = await NgramStore.loadStatic(join(modelDir, cfg.superdraft?.ngrams ?? 'ngrams.bin'), cfg.vocab_size);
    const tok = Tokenizer.load(join(modelDir, 'tokenizer.json'));
    const phrases = ['for (let i = 0; i < items.length; i++) {', 'module.exports = {', "const path = require('path');", 'return new Promise((resolve, reject) => {'];
    let supported = 0;
    let drafted = 0;
    for (const text of phrases) {
      const ids = tok.encode(text);
      // every position after the first few: is the true next token supported by the interpolated n-grams?
      for (let i = 3; i < ids.length; i++) if (s.probabilities(ids.slice(0, i), [ids[i]])[0] > 0) supported++;
      if (s.draft(ids.slice(0, ids.length - 2), 4).length > 0) drafted++;
    }
    const positions = phrases.reduce((a, t) => a + Math.max(0, tok.encode(t).length - 3), 0);
    expect(supported / positions).toBeGreaterThan(0.8);
    expect(drafted).toBeGreaterThanOrEqual(2);
  });
});
