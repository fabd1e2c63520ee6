/** `model prepare --int8-activations`: the q4a8 companion graph (8-bit activations, as llama.cpp does for Q4_0). */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine';
import { decodeModel } from '../../src/engine/model/onnx/proto';
import { modelBytes } from '../../src/engine/model/modelSize';
import { prepareModel } from '../../src/prepare/prepare';
import { copyFixture, maxAbsDiff, removeFixtures, run } from './replicas';

afterAll(removeFixtures);

describe('model prepare --int8-activations: the q4a8 companion (8-bit activations, as llama.cpp does for Q4_0)', () => {
  it('writes model_q4a8.onnx with accuracy_level 4 on every MatMulNBits, on the same weights file; logits near q4; every strategy runs; then nothing', async () => {
    const dir = copyFixture('qwen2');
    const r = prepareModel(dir, { int8Activations: true });
    const a8 = path.join(dir, 'onnx', 'model_q4a8.onnx');
    expect(r.variants.find((v) => v.file === a8)?.int8ActivationsFrom).toBe(path.join(dir, 'onnx', 'model_q4.onnx'));
    const m = decodeModel(readFileSync(a8));
    const nbits = m.graph.node.filter((n) => n.op_type === 'MatMulNBits');
    expect(nbits.length).toBeGreaterThan(0);
    for (const n of nbits) expect(Number((n.attribute ?? []).find((a) => a.name === 'accuracy_level')?.i)).toBe(4);
    const locations = new Set(m.graph.initializer.flatMap((t) => (t.external_data ?? []).filter((e) => e.key === 'location').map((e) => e.value)));
    expect([...locations]).toEqual(['model_q4.onnx_data']);
    expect(readdirSync(path.join(dir, 'onnx')).filter((f) => f.endsWith('.onnx_data')).sort()).toEqual(['model.onnx_data', 'model_q4.onnx_data']);
    // its size (which decides large-model policies) counts the weights it reads
    expect(modelBytes(a8)).toBe(statSync(a8).size + statSync(path.join(dir, 'onnx', 'model_q4.onnx_data')).size);
    const cfg = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(cfg.superdraft.prepared.variants['onnx/model_q4a8.onnx']).toMatchObject({ int8_activations_from: 'onnx/model_q4.onnx', present_delta_layers: 2 });
    // The logits move by the activations' rounding (8 bits per block of 32), not by the weights: compare with q4.
    const ids = [5, 17, 42, 99, 7, 3, 250, 11];
    const out: Record<string, Float32Array> = {};
    for (const f of ['model_q4.onnx', 'model_q4a8.onnx']) {
      const s = await ort.InferenceSession.create(path.join(dir, 'onnx', f), { executionProviders: ['cpu'] });
      out[f] = (await run(s, { ids, pastLen: 0 })).logits.data as Float32Array;
      await s.release();
    }
    let scale = 0;
    for (const v of out['model_q4.onnx']) scale = Math.max(scale, Math.abs(v));
    const d = maxAbsDiff(out['model_q4.onnx'], out['model_q4a8.onnx']);
    process.stderr.write(`q4a8 vs q4: max |Δlogit| ${d.toExponential(2)} of max |logit| ${scale.toFixed(2)}\n`);
    expect(d).toBeLessThan(0.05 * scale);
    const engine = await Engine.load({ modelDir: dir, device: 'cpu', variant: 'q4a8' });
    try {
      expect(engine.info.model).toMatch(/model_q4a8\.onnx/);
      const req = { prefix: 'def f(x):\n    return ', suffix: '', k: 2, maxTokens: 6, mode: 'line' as const, speculative: false, languageId: 'python', path: 'a.py', seed: 3, ignoreStop: true };
      for (const strategy of ['greedy', 'beam', 'sampling', 'superposed'] as const) expect((await engine.complete({ ...req, strategy })).drafts.length, strategy).toBeGreaterThan(0);
    } finally {
      await engine.dispose();
    }
    const again = prepareModel(dir, { int8Activations: true });
    expect(again.changed).toBe(false);
  });
});
