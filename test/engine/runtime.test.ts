/**
 * The append-only KV store (batch-1 caches of models exporting present_delta.*) against the plain path that fetches
 * the whole present.* on every forward: both on the real embedded model through the real onnxruntime-node, they
 * must give the same logits whatever the history of the state: decoding at the tip, forking from an older state,
 * a truncated prefix, masked (rejected speculative) entries, growth past the store's capacity, batched copies.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readModelConfig } from '../../src/engine/config';
import { defaultModelDir } from '../../src/engine/engine';
import { ModelRuntime, type KvState } from '../../src/engine/runtime';

let store: ModelRuntime;
let plain: ModelRuntime;

beforeAll(async () => {
  const cfg = readModelConfig(defaultModelDir());
  store = await ModelRuntime.load(cfg, { device: 'cpu', threads: 1 });
  plain = await ModelRuntime.load(cfg, { device: 'cpu', threads: 1, appendOnlyKv: false });
});
afterAll(async () => {
  await store?.dispose();
  await plain?.dispose();
});

const ids = (n: number, seed: number) => Array.from({ length: n }, (_, i) => 6 + ((i * 7919 + seed * 104729) % 8000));
const maxDiff = (a: Float32Array, b: Float32Array) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};
const step = (rt: ModelRuntime, past: KvState, tokens: number[]) => rt.forward({ ids: tokens, batch: 1, seq: tokens.length, past });

describe('append-only KV store', () => {
  it('is used for the embedded model, and never for batches', async () => {
    expect(store.appendOnlyKv).toBe(true);
    expect(plain.appendOnlyKv).toBe(false);
    const a = await step(store, store.emptyKv(1), ids(4, 1));
    expect(a.kv.store).toBeDefined();
    expect(a.kv.store!.used).toBe(4);
    const rows = store.selectRows(a.kv, [0, 0]);
    const b = await store.forward({ ids: [9, 10], batch: 2, seq: 1, past: rows });
    expect(b.kv.store).toBeUndefined();
    expect(b.kv.keys[0].dims).toEqual([2, 1, 5, store.config.headDim]);
  });

  it('gives the logits of the plain path through tip appends, forks, truncation, masking and growth', async () => {
    const prompt = ids(300, 2);
    let s = await step(store, store.emptyKv(1), prompt);
    let p = await step(plain, plain.emptyKv(1), prompt);
    expect(maxDiff(s.logits, p.logits)).toBeLessThan(1e-4);
    const root = { s: s.kv, p: p.kv };
    // decode 200 single tokens at the tip: the store grows past its first capacity (256 + 150 rows)
    const capacity0 = s.kv.store!.capacity;
    let worst = 0;
    for (let t = 0; t < 200; t++) {
      const tok = ids(1, 100 + t);
      s = await step(store, s.kv, tok);
      p = await step(plain, p.kv, tok);
      worst = Math.max(worst, maxDiff(s.logits, p.logits));
    }
    expect(s.kv.store!.capacity).toBeGreaterThan(capacity0);
    expect(s.kv.length).toBe(500);
    // fork: continue from the prompt's state again (not the tip any more: copied, the tip untouched)
    const tipStore = s.kv.store!;
    const tipUsed = tipStore.used;
    const f1 = await step(store, root.s, [77, 78, 79]);
    const f2 = await step(plain, root.p, [77, 78, 79]);
    worst = Math.max(worst, maxDiff(f1.logits, f2.logits));
    expect(f1.kv.store).not.toBe(tipStore);
    expect(tipStore.used).toBe(tipUsed);
    // the tip still continues correctly after the fork
    const t1 = await step(store, s.kv, [80]);
    const t2 = await step(plain, p.kv, [80]);
    worst = Math.max(worst, maxDiff(t1.logits, t2.logits));
    // a truncated prefix (prompt-cache reuse), then a multi-token forward from it
    const c1 = await step(store, store.truncate(s.kv, 250), ids(5, 7));
    const c2 = await step(plain, plain.truncate(p.kv, 250), ids(5, 7));
    worst = Math.max(worst, maxDiff(c1.logits, c2.logits));
    // masked entries (a rejected speculative block) are skipped alike
    const m1 = await step(store, { ...c1.kv, valid: Uint8Array.from(c1.kv.valid, (v, i) => (i >= 252 ? 0 : v)), nextPos: 252 }, [81]);
    const m2 = await step(plain, { ...c2.kv, valid: Uint8Array.from(c2.kv.valid, (v, i) => (i >= 252 ? 0 : v)), nextPos: 252 }, [81]);
    worst = Math.max(worst, maxDiff(m1.logits, m2.logits));
    expect(worst).toBeLessThan(1e-4);
  });
});

describe('logit columns past the tokenizer', () => {
  it('are -Infinity when maskFrom is set (padded embedding rows never become drafts), the rest unchanged', async () => {
    const prompt = [5, 100, 200, 300];
    const before = await step(plain, plain.emptyKv(1), prompt);
    const V = before.vocab;
    plain.maskFrom = V - 100;
    try {
      const after = await step(plain, plain.emptyKv(1), prompt);
      for (let r = 0; r < prompt.length; r++) {
        const row = after.logits.subarray(r * V, (r + 1) * V);
        expect(row.subarray(V - 100).every((x) => x === -Infinity)).toBe(true);
        expect(maxDiff(row.subarray(0, V - 100), before.logits.subarray(r * V, r * V + V - 100))).toBe(0);
      }
    } finally {
      plain.maskFrom = Infinity;
    }
  });
});
