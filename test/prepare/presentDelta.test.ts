/** The append-only KV store (`present_delta.*`, rewrite c of `model prepare`) on prepared replicas. */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine';
import { decodeModel, encodeModel } from '../../src/engine/model/onnx/proto';
import { prepareModel } from '../../src/prepare/prepare';
import { FAMILIES, copyFixture, maxAbsDiff, removeFixtures, run } from './replicas';

afterAll(removeFixtures);

describe('model prepare: the append-only KV store (present_delta.*) on prepared replicas', () => {
  for (const family of FAMILIES) {
    it(`${family}: every strategy gives the same drafts with the store as with the whole present.* fetched`, async () => {
      const dir = copyFixture(family);
      prepareModel(dir);
      const withStore = await Engine.load({ modelDir: dir, device: 'cpu' });
      const without = await Engine.load({ modelDir: dir, device: 'cpu', appendOnlyKv: false });
      try {
        expect((withStore as unknown as { runtime: { appendOnlyKv: boolean } }).runtime.appendOnlyKv).toBe(true);
        expect((without as unknown as { runtime: { appendOnlyKv: boolean } }).runtime.appendOnlyKv).toBe(false);
        const req = { prefix: 'function add(a, b) {\n  const sum = a + b;\n  return ', suffix: '\n}\n', k: 3, maxTokens: 12, mode: 'line' as const, languageId: 'javascript', path: 'a.js', seed: 11, ignoreStop: true };
        for (const strategy of ['greedy', 'beam', 'sampling', 'superposed'] as const) {
          for (const speculative of [false, true]) {
            const a = await withStore.complete({ ...req, strategy, speculative });
            const b = await without.complete({ ...req, strategy, speculative });
            expect(a.drafts.length, `${strategy} speculative=${speculative}`).toBeGreaterThan(0);
            expect(a.drafts.map((d) => d.text), `${strategy} speculative=${speculative}`).toEqual(b.drafts.map((d) => d.text));
          }
        }
        // A second request on the same prefix reuses the cached prompt (a store state that is no longer the tip).
        const again = await withStore.complete({ ...req, strategy: 'greedy', speculative: false, prefix: req.prefix + 'a' });
        const ref = await without.complete({ ...req, strategy: 'greedy', speculative: false, prefix: req.prefix + 'a' });
        expect(again.drafts.map((d) => d.text)).toEqual(ref.drafts.map((d) => d.text));
      } finally {
        await withStore.dispose();
        await without.dispose();
      }
    });
  }

  it('a directory prepared before present_delta.* existed (version 1) gets only the deltas; then nothing', async () => {
    const dir = copyFixture('qwen2');
    prepareModel(dir);
    // Turn it into what version 1 wrote: the same graph without the present_delta.* outputs and their nodes.
    const variants = ['model.onnx', 'model_q4.onnx'].map((v) => path.join(dir, 'onnx', v));
    const v1Logits: Float32Array[] = [];
    for (const file of variants) {
      const m = decodeModel(readFileSync(file));
      m.graph.output = m.graph.output.filter((o) => !o.name.startsWith('present_delta.'));
      const deltaNodes = (n: { output: string[] }): boolean => n.output.some((o) => o.startsWith('present_delta.') || /^\/superdraft\/(input_ids_shape|sequence_length|delta_start)_out/.test(o));
      m.graph.node = m.graph.node.filter((n) => !deltaNodes(n));
      writeFileSync(file, encodeModel(m));
      const s = await ort.InferenceSession.create(file);
      expect(s.outputNames.some((n) => n.startsWith('present_delta.'))).toBe(false);
      v1Logits.push((await run(s, { ids: [5, 17, 300, 42], pastLen: 0 })).logits.data as Float32Array);
      await s.release();
    }
    const cfgFile = path.join(dir, 'config.json');
    const cfg = JSON.parse(readFileSync(cfgFile, 'utf8'));
    delete cfg.superdraft.present_delta;
    cfg.superdraft.prepared.version = 1;
    for (const v of Object.values(cfg.superdraft.prepared.variants) as Record<string, unknown>[]) delete v.present_delta_layers;
    writeFileSync(cfgFile, JSON.stringify(cfg, null, 2) + '\n');
    const nodesBefore = variants.map((f) => decodeModel(readFileSync(f)).graph.node.length);
    const inputsBefore = variants.map((f) => decodeModel(readFileSync(f)).graph.input.map((i) => i.name));

    const r = prepareModel(dir);
    expect(r.changed).toBe(true);
    for (const [i, v] of r.variants.entries()) {
      expect(v).toMatchObject({ status: 'prepared', deltas: 2 });
      expect(v.embedding).toBeUndefined(); // not redone
      expect(v.lmHead).toBeUndefined();
      const g = decodeModel(readFileSync(variants[i])).graph;
      expect(g.input.map((x) => x.name)).toEqual(inputsBefore[i]);
      expect(g.node.length).toBe(nodesBefore[i] + 3 + 4); // Shape, Gather, Neg + one Slice per delta (2 layers × 2)
      const s = await ort.InferenceSession.create(variants[i]);
      const out = await run(s, { ids: [5, 17, 300, 42], pastLen: 0 });
      expect(maxAbsDiff(out.logits.data as Float32Array, v1Logits[i])).toBe(0);
      expect(s.outputNames.filter((n) => n.startsWith('present_delta.'))).toEqual(['present_delta.0.key', 'present_delta.0.value', 'present_delta.1.key', 'present_delta.1.value']);
      await s.release();
    }
    const after = JSON.parse(readFileSync(cfgFile, 'utf8'));
    expect(after.superdraft.prepared.version).toBe(2);
    expect(after.superdraft.prepared.variants['onnx/model_q4.onnx']).toMatchObject({ embedding: expect.stringMatching(/^Gather /), lm_head: expect.stringMatching(/^MatMulNBits/), present_delta_layers: 2 });
    const again = prepareModel(dir);
    expect(again.changed).toBe(false);
  });
});
