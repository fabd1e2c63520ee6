/**
 * The append-only KV store (batch-1 caches of models exporting present_delta.*) against the plain path that fetches
 * the whole present.* on every forward, through the real onnxruntime-node: the embedded model (one KV head: the
 * store is viewed as a prefix) and tiny Hub replicas after `model prepare` (qwen2: 2 KV heads, llama: 4, gpt_bigcode:
 * multi-query with its fused cache split; several heads: the whole store is fed, unused slots masked). Both paths
 * must give the same logits whatever the history of the state: decoding at the tip, forking from an older state, a
 * truncated prefix, masked (rejected speculative) entries, growth past the store's capacity, batched copies.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preparedReplicaCopy } from '../../helpers/replicas';
import { readModelConfig } from '../../../src/engine/model/config';
import { defaultModelDir } from '../../../src/engine/engine';
import { ModelRuntime, type KvState } from '../../../src/engine/model/runtime';

const tmps: string[] = [];
afterAll(() => {
  for (const d of tmps) rmSync(d, { recursive: true, force: true });
});
function preparedReplica(family: string): string {
  const dir = preparedReplicaCopy(family, `superdraft-store-${family}-`);
  tmps.push(dir);
  return dir;
}

const maxDiff = (a: Float32Array, b: Float32Array) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};
const step = (rt: ModelRuntime, past: KvState, tokens: number[]) => rt.forward({ ids: tokens, batch: 1, seq: tokens.length, past });

const MODELS: { name: string; dir: () => string; kvHeads: number; prompt: number; steps: number }[] = [
  { name: 'embedded model', dir: defaultModelDir, kvHeads: 1, prompt: 300, steps: 200 },
  { name: 'prepared qwen2 replica', dir: () => preparedReplica('qwen2'), kvHeads: 2, prompt: 100, steps: 120 },
  { name: 'prepared llama replica', dir: () => preparedReplica('llama'), kvHeads: 4, prompt: 100, steps: 120 },
  { name: 'prepared gpt_bigcode replica', dir: () => preparedReplica('gpt_bigcode'), kvHeads: 1, prompt: 100, steps: 120 },
];

for (const model of MODELS) {
  describe(`append-only KV store: ${model.name}`, () => {
    let store: ModelRuntime;
    let plain: ModelRuntime;
    let ids: (n: number, seed: number) => number[];
    beforeAll(async () => {
      const cfg = readModelConfig(model.dir());
      store = await ModelRuntime.load(cfg, { device: 'cpu', threads: 1 });
      plain = await ModelRuntime.load(cfg, { device: 'cpu', threads: 1, appendOnlyKv: false });
      const V = Math.min(cfg.vocabSize, 8000);
      ids = (n, seed) => Array.from({ length: n }, (_, i) => 6 + ((i * 7919 + seed * 104729) % (V - 6)));
    });
    afterAll(async () => {
      await store?.dispose();
      await plain?.dispose();
    });

    it('is used for batch-1 caches, and never for batches', async () => {
      expect(store.config.numKvHeads).toBe(model.kvHeads);
      expect(store.appendOnlyKv).toBe(true);
      expect(plain.appendOnlyKv).toBe(false);
      const a = await step(store, store.emptyKv(1), ids(4, 1));
      expect(a.kv.store).toBeDefined();
      expect(a.kv.store!.used).toBe(4);
      // One head: a prefix view; several: the whole store, its unused slots fed masked.
      expect(a.kv.keys[0].dims[2]).toBe(model.kvHeads === 1 ? 4 : a.kv.store!.capacity);
      const rows = store.selectRows(a.kv, [0, 0]);
      const b = await store.forward({ ids: [9, 10], batch: 2, seq: 1, past: rows });
      expect(b.kv.store).toBeUndefined();
      expect(b.kv.keys[0].dims).toEqual([2, model.kvHeads, 5, store.config.headDim]);
      const p = await plain.forward({ ids: [9, 10], batch: 2, seq: 1, past: plain.selectRows((await step(plain, plain.emptyKv(1), ids(4, 1))).kv, [0, 0]) });
      expect(maxDiff(b.logits, p.logits)).toBeLessThan(1e-4);
    });

    it('gives the logits of the plain path through tip appends, forks, truncation, masking and growth', async () => {
      // Lengths that grow each store past its first capacity (one head: 256 rows and more; several: prompt + 64 to
      // 127), within the smallest replica context (gpt_bigcode: 256 positions).
      const prompt = ids(model.prompt, 2);
      let s = await step(store, store.emptyKv(1), prompt);
      let p = await step(plain, plain.emptyKv(1), prompt);
      expect(maxDiff(s.logits, p.logits)).toBeLessThan(1e-4);
      const root = { s: s.kv, p: p.kv };
      const capacity0 = s.kv.store!.capacity;
      let worst = 0;
      for (let t = 0; t < model.steps; t++) {
        const tok = ids(1, 100 + t);
        s = await step(store, s.kv, tok);
        p = await step(plain, p.kv, tok);
        worst = Math.max(worst, maxDiff(s.logits, p.logits));
      }
      const L = model.prompt + model.steps;
      if (model.kvHeads > 1 || L > 256) expect(s.kv.store!.capacity).toBeGreaterThan(capacity0);
      expect(s.kv.length).toBe(L);
      const cut = L - 70;
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
      const c1 = await step(store, store.truncate(s.kv, cut), ids(5, 7));
      const c2 = await step(plain, plain.truncate(p.kv, cut), ids(5, 7));
      worst = Math.max(worst, maxDiff(c1.logits, c2.logits));
      // masked entries (a rejected speculative block) are skipped alike
      const m1 = await step(store, { ...c1.kv, valid: Uint8Array.from(c1.kv.valid, (v, i) => (i >= cut + 2 ? 0 : v)), nextPos: cut + 2 }, [81]);
      const m2 = await step(plain, { ...c2.kv, valid: Uint8Array.from(c2.kv.valid, (v, i) => (i >= cut + 2 ? 0 : v)), nextPos: cut + 2 }, [81]);
      worst = Math.max(worst, maxDiff(m1.logits, m2.logits));
      // a batched copy of a store state (beam / verification) reads it with the store's slot stride
      const b1 = await store.forward({ ids: [82, 83], batch: 2, seq: 1, past: store.selectRows(m1.kv, [0, 0], 10) });
      const b2 = await plain.forward({ ids: [82, 83], batch: 2, seq: 1, past: plain.selectRows(m2.kv, [0, 0], 10) });
      worst = Math.max(worst, maxDiff(b1.logits, b2.logits));
      expect(worst).toBeLessThan(1e-4);
    });

    it('a rewound tip (a speculative unit\'s rejected tokens dropped) has the layout of a cache grown one token at a time', async () => {
      const prompt = ids(model.prompt - 3, 3); // ends 3 short of a 64-boundary for a 100-token prompt: the unit crosses it
      const grown = await step(store, store.emptyKv(1), prompt);
      // one token at a time: prompt + 2
      let one = await step(store, grown.kv, [91]);
      one = await step(store, one.kv, [92]);
      // a unit of 6 from the prompt (crossing the boundary), 2 of them kept
      const unit = await step(store, grown.kv, [91, 92, 93, 94, 95, 96]);
      const rewound = store.rewind(unit.kv, grown.kv.length + 2)!;
      expect(rewound).toBeDefined();
      expect(rewound.length).toBe(one.kv.length);
      expect(rewound.nextPos).toBe(one.kv.nextPos);
      expect(rewound.keys[0].dims).toEqual(one.kv.keys[0].dims);
      if (model.kvHeads > 1) expect(rewound.store!.capacity).toBe(one.kv.store!.capacity);
      // the next step from either reads the same entries: the same logits
      const a = await step(store, rewound, [97]);
      const b = await step(store, one.kv, [97]);
      expect(maxDiff(a.logits, b.logits)).toBeLessThan(1e-4);
      // not the tip any more (a fork appended past it): nothing is rewound
      expect(store.rewind(grown.kv, grown.kv.length - 1)).toBeUndefined();
    });
  });
}

describe('logit columns past the tokenizer', () => {
  let plain: ModelRuntime;
  beforeAll(async () => {
    plain = await ModelRuntime.load(readModelConfig(defaultModelDir()), { device: 'cpu', threads: 1, appendOnlyKv: false });
  });
  afterAll(async () => {
    await plain?.dispose();
  });
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
