/**
 * `superdraft model prepare` on the tiny replicas (training/replica.py: each family's structure and special tokens,
 * random weights, Optimum's layout with external data) through the real onnxruntime-node.
 *
 * Equivalence: the prepared graph computes E[id]·1 summed over one candidate — exactly E[id] in float arithmetic
 * (x·1 = x and a one-term sum is exact) — and slices the final hidden state before the LM head. What can still move
 * a logit is the LM head's GEMM seeing fewer rows (a different kernel / accumulation order for M = 1 than for
 * M = s: float addition is not associative) and onnxruntime fusing the rewritten subgraph differently. Each logit is
 * a 64-term dot product of values below ~10, so reassociation moves it by a few ulps of ~10 (ulp 1e-6):
 * the tolerance is 1e-4 absolute.
 */
import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { prepareModel } from '../../src/prepare/prepare';
import { EQUIVALENCE, TOL, copyFixture, maxAbsDiff, removeFixtures, run } from './replicas';

afterAll(removeFixtures);

const measured: Record<string, number> = {};

describe('model prepare: equivalence on every family and variant', () => {
  for (const family of EQUIVALENCE) {
    it(`${family}: prepared (k=1, weight 1) gives the original logits; logits_to_keep=1 is the last row; k=2 of one id equals k=1`, async () => {
      const dir = copyFixture(family);
      const variants = readdirSync(path.join(dir, 'onnx')).filter((f) => f.endsWith('.onnx'));
      const expected: Record<string, string[]> = { 'qwen2-quantized': ['model_fp16.onnx', 'model_int8.onnx', 'model_q4g.onnx'], gpt_bigcode: ['model.onnx'] };
      expect(variants).toEqual(expected[family] ?? ['model.onnx', 'model_q4.onnx']);
      const originals = await Promise.all(variants.map((v) => ort.InferenceSession.create(path.join(dir, 'onnx', v))));
      const prompt = [5, 17, 300, 42, 99, 7, 120, 3];
      const before = [];
      for (const s of originals) {
        const pre = await run(s, { ids: prompt, pastLen: 0 });
        const step = await run(s, { ids: [11], past: pre, pastLen: prompt.length });
        before.push({ pre: pre.logits.data as Float32Array, step: step.logits.data as Float32Array });
      }
      const dataBefore = variants.map((v) => readFileSync(path.join(dir, 'onnx', `${v}_data`)));
      const report = prepareModel(dir);
      expect(report.changed).toBe(true);
      expect(report.variants.map((v) => v.status)).toEqual(variants.map(() => 'prepared'));
      // The external data is untouched (not rewritten, same bytes).
      variants.forEach((v, i) => expect(readFileSync(path.join(dir, 'onnx', `${v}_data`)).equals(dataBefore[i])).toBe(true));
      for (let i = 0; i < variants.length; i++) {
        const s = await ort.InferenceSession.create(path.join(dir, 'onnx', variants[i]));
        expect(s.inputNames).toContain('token_weights');
        expect(s.inputNames).toContain('logits_to_keep');
        const pre = await run(s, { ids: prompt, pastLen: 0 });
        const step = await run(s, { ids: [11], past: pre, pastLen: prompt.length });
        const d = Math.max(maxAbsDiff(pre.logits.data as Float32Array, before[i].pre), maxAbsDiff(step.logits.data as Float32Array, before[i].step));
        measured[`${family}/${variants[i]}`] = d;
        expect(d, `${family}/${variants[i]}`).toBeLessThanOrEqual(TOL);
        // logits_to_keep = 1: one row, equal to the last row of the full logits; the KV cache is the full one.
        const last = await run(s, { ids: prompt, pastLen: 0 }, { logits_to_keep: new ort.Tensor('int64', BigInt64Array.of(1n), [1]) });
        expect(last.logits.dims).toEqual([1, 1, pre.logits.dims[2]]);
        const V = pre.logits.dims[2];
        expect(maxAbsDiff(last.logits.data as Float32Array, (pre.logits.data as Float32Array).subarray((prompt.length - 1) * V))).toBeLessThanOrEqual(TOL);
        expect(maxAbsDiff(last['present.0.key'].data as Float32Array, pre['present.0.key'].data as Float32Array)).toBe(0);
        // A scalar logits_to_keep works too.
        // present_delta.{i}.*: what this forward appends (the whole present after a prefill, the last entry after a step).
        const layers = s.outputNames.filter((n) => /^present\.\d+\.key$/.test(n)).length;
        expect(s.outputNames.filter((n) => n.startsWith('present_delta.')).length).toBe(2 * layers);
        for (let l = 0; l < layers; l++) {
          for (const t of ['key', 'value']) {
            const all = pre[`present.${l}.${t}`];
            expect(pre[`present_delta.${l}.${t}`].dims).toEqual(all.dims);
            expect(maxAbsDiff(pre[`present_delta.${l}.${t}`].data as Float32Array, all.data as Float32Array)).toBe(0);
            const [, H, T, D] = step[`present.${l}.${t}`].dims;
            expect(step[`present_delta.${l}.${t}`].dims).toEqual([1, H, 1, D]);
            const whole = step[`present.${l}.${t}`].data as Float32Array;
            const lastRows = Float32Array.from({ length: H * D }, (_, j) => whole[(Math.floor(j / D) * T + T - 1) * D + (j % D)]);
            expect(maxAbsDiff(step[`present_delta.${l}.${t}`].data as Float32Array, lastRows)).toBe(0);
          }
        }
        const scalar = await run(s, { ids: prompt, pastLen: 0 }, { logits_to_keep: new ort.Tensor('int64', BigInt64Array.of(2n), []) });
        expect(scalar.logits.dims[1]).toBe(2);
        // k = 2 copies of each id with weight 1/2: 0.5·e + 0.5·e = e exactly.
        const k2 = await run(s, { ids: prompt, pastLen: 0 }, {}, 2);
        expect(maxAbsDiff(k2.logits.data as Float32Array, pre.logits.data as Float32Array)).toBeLessThanOrEqual(TOL);
        await s.release();
      }
      for (const s of originals) await s.release();
      const cfg = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
      expect(cfg.superdraft.superposition).toEqual({ input: 'input_ids', weights: 'token_weights' });
      expect(cfg.superdraft.prepared.version).toBe(2);
      for (const v of variants) expect(cfg.superdraft.prepared.variants[`onnx/${v}`].present_delta_layers).toBe(2);
      expect(report.variants.every((v) => v.deltas === 2)).toBe(true);
      if (family === 'gpt_bigcode') {
        // The fused key_value cache is split into key and value: [b, 1, past, head_dim] each (multi-query).
        expect(report.variants[0].splitCache).toBe(2);
        const s = await ort.InferenceSession.create(path.join(dir, 'onnx', 'model.onnx'));
        expect(s.inputNames).toContain('past_key_values.1.value');
        expect(s.inputNames.some((n) => n.endsWith('.key_value'))).toBe(false);
        expect(s.outputNames.filter((n) => !n.startsWith('present_delta.'))).toEqual(['logits', 'present.0.key', 'present.0.value', 'present.1.key', 'present.1.value']);
        await s.release();
      } else if (family === 'qwen2-quantized') {
        expect(cfg.superdraft.prepared.variants['onnx/model_int8.onnx']).toMatchObject({ embedding: expect.stringMatching(/^Gather .* \+ DequantizeLinear /), lm_head: expect.stringMatching(/^MatMulInteger/) });
        expect(cfg.superdraft.prepared.variants['onnx/model_q4g.onnx']).toMatchObject({ embedding: expect.stringMatching(/^GatherBlockQuantized /), lm_head: expect.stringMatching(/^MatMulNBits/) });
      } else expect(cfg.superdraft.prepared.variants['onnx/model_q4.onnx'].lm_head).toMatch(/^MatMulNBits/);
      expect(cfg.model_type).toBeTypeOf('string');
      // Idempotent: a second run changes nothing.
      const graphBefore = readFileSync(path.join(dir, 'onnx', variants[0]));
      const again = prepareModel(dir);
      expect(again.changed).toBe(false);
      expect(readFileSync(path.join(dir, 'onnx', variants[0])).equals(graphBefore)).toBe(true);
    });
  }

  afterAll(() => {
    // Measured prepared-vs-original max |Δlogit| (reported with the test run).
    process.stderr.write(`prepare max |Δlogit|: ${JSON.stringify(measured)}\n`);
  });
});
