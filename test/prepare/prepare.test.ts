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
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine';
import { readModelConfig } from '../../src/engine/model/config';
import { modelBytes } from '../../src/engine/model/modelSize';
import { buildPrompt } from '../../src/engine/prompt/prompt';
import { Tokenizer } from '../../src/engine/model/tokenizer';
import { PrepareError, prepareModel } from '../../src/prepare/prepare';
import { decodeModel, encodeModel } from '../../src/engine/model/onnx/proto';
import { modelInfo } from '../../src/cli/model';
import { REPLICAS } from '../helpers/paths';

const FIXTURES = REPLICAS;
const FAMILIES = ['qwen2', 'llama', 'deepseek', 'starcoder2', 'gpt_bigcode'];
/**
 * qwen2-quantized: fp16, int8 (onnxruntime's dynamic quantization, as transformers.js writes it) and q4g (q4 with the
 * embedding table in com.microsoft GatherBlockQuantized, uint4 blocks of 32).
 */
const EQUIVALENCE = [...FAMILIES, 'qwen2-quantized'];
const TOL = 1e-4;
const tmps: string[] = [];

function copyFixture(family: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `superdraft-prepare-${family}-`));
  cpSync(path.join(FIXTURES, family), dir, { recursive: true });
  tmps.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of tmps) rmSync(d, { recursive: true, force: true });
});

interface Feeds {
  ids: number[];
  past?: ort.InferenceSession.ReturnType;
  pastLen: number;
}

async function run(s: ort.InferenceSession, f: Feeds, extra: Record<string, ort.Tensor> = {}, k = 1): Promise<ort.InferenceSession.ReturnType> {
  const fused = s.inputNames.includes('past_key_values.0.key_value'); // gpt_bigcode before prepare
  const L = s.inputNames.filter((n) => n.startsWith('past_key_values.') && n.endsWith(fused ? '.key_value' : '.key')).length;
  const meta = s.inputMetadata.find((m) => m.name === (fused ? 'past_key_values.0.key_value' : 'past_key_values.0.key')) as unknown as { shape: readonly (number | string)[] };
  const [kv, hd] = fused ? [0, meta.shape[2] as number] : [meta.shape[1] as number, meta.shape[3] as number];
  const n = f.ids.length;
  const superposed = s.inputNames.includes('token_weights');
  const ids = BigInt64Array.from(f.ids.flatMap((t) => Array(superposed ? k : 1).fill(BigInt(t))));
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', ids, superposed ? [1, n, k] : [1, n]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(f.pastLen + n).fill(1n), [1, f.pastLen + n]),
    position_ids: new ort.Tensor('int64', BigInt64Array.from(f.ids.map((_, i) => BigInt(f.pastLen + i))), [1, n]),
    ...extra,
  };
  if (superposed) feeds.token_weights = new ort.Tensor('float32', new Float32Array(n * k).fill(1 / k), [1, n, k]);
  if (s.inputNames.includes('logits_to_keep') && !extra.logits_to_keep) feeds.logits_to_keep = new ort.Tensor('int64', BigInt64Array.of(0n), [1]);
  for (let i = 0; i < L; i++) {
    if (fused) {
      feeds[`past_key_values.${i}.key_value`] = f.past ? f.past[`present.${i}.key_value`] : new ort.Tensor('float32', new Float32Array(0), [1, 0, hd]);
      continue;
    }
    for (const t of ['key', 'value']) {
      feeds[`past_key_values.${i}.${t}`] = f.past ? f.past[`present.${i}.${t}`] : new ort.Tensor('float32', new Float32Array(0), [1, kv, 0, hd]);
    }
  }
  return s.run(feeds);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

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

describe('model prepare: the engine runs every strategy on a prepared replica', () => {
  for (const family of FAMILIES) {
    it(`${family}: greedy, beam, sampling, superposed; superposed k=1 equals greedy; no special token text in a draft`, async () => {
      const dir = copyFixture(family);
      prepareModel(dir);
      const engine = await Engine.load({ modelDir: dir, device: 'cpu' });
      try {
        expect(engine.info.superposition).toBe(true);
        const req = { prefix: 'function add(a, b) {\n  return ', suffix: '\n}\n', k: 3, maxTokens: 8, mode: 'line' as const, speculative: false, languageId: 'javascript', path: 'a.js', seed: 7, ignoreStop: true };
        for (const strategy of ['greedy', 'beam', 'sampling', 'superposed'] as const) {
          const res = await engine.complete({ ...req, strategy });
          expect(res.drafts.length, strategy).toBeGreaterThan(0);
          for (const d of res.drafts) expect(d.text, strategy).not.toMatch(/<\||\|>|<fim_|<｜|<PRE>|<SUF>|<MID>|<EOT>|<\/s>/);
        }
        const g = await engine.complete({ ...req, strategy: 'greedy', k: 1 });
        const s = await engine.complete({ ...req, strategy: 'superposed', k: 1 });
        expect(s.drafts[0]?.text).toBe(g.drafts[0]?.text);
      } finally {
        await engine.dispose();
      }
    });
  }
});

describe('typing on a PSM prompt (anchor.ts): the prompt is kept, the typed text is generated', () => {
  it('qwen2: typing the first character of the greedy draft computes no prompt token, and greedy goes on with the same draft', async () => {
    const dir = copyFixture('qwen2');
    prepareModel(dir);
    const engine = await Engine.load({ modelDir: dir, device: 'cpu' });
    try {
      const req = { prefix: 'function add(a, b) {\n  return a', suffix: ';\n}\n\nfunction sub(a, b) {\n  return a - b;\n}\n', k: 1, maxTokens: 8, mode: 'line' as const, speculative: true, languageId: 'javascript', path: 'a.js', ignoreStop: true, strategy: 'greedy' as const };
      // PSM: a prompt built afresh for the typed text changes before the suffix.
      const cfg = readModelConfig(dir);
      const tok = Tokenizer.load(cfg.tokenizerFile);
      const fresh = [buildPrompt(tok, cfg, req).ids, buildPrompt(tok, cfg, { ...req, prefix: req.prefix + ' ' }).ids];
      let same = 0;
      while (fresh[0]![same] === fresh[1]![same]) same++;
      expect(fresh[0]!.length - same).toBeGreaterThan(10);

      const cold = await engine.complete(req);
      const text = cold.drafts[0]!.text;
      const typedChar = [...text][0]!;
      const typed = await engine.complete({ ...req, prefix: req.prefix + typedChar });
      expect(typed.timing.typedChars).toBe(typedChar.length);
      expect(typed.timing.prefillTokens).toBe(0);
      expect(typed.timing.reusedTokens).toBe(cold.timing.prefillTokens + cold.timing.reusedTokens);
      expect(typed.drafts[0]!.text).toBe(text.slice(typedChar.length));
      // Greedy again with the previous draft recycled: fewer forwards than the cold request's 8 steps.
      expect(typed.timing.forwards).toBeLessThan(cold.timing.forwards);
    } finally {
      await engine.dispose();
    }
  });
});

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

describe('model prepare: the engine runs on the prepared quantized variants', () => {
  for (const variant of ['fp16', 'int8', 'q4g']) {
    it(`qwen2 ${variant}: every strategy runs; superposed k=1 equals greedy`, async () => {
      const dir = copyFixture('qwen2-quantized');
      prepareModel(dir);
      const engine = await Engine.load({ modelDir: dir, device: 'cpu', variant });
      try {
        expect(engine.info.superposition).toBe(true);
        const req = { prefix: 'def f(x):\n    return ', suffix: '', k: 2, maxTokens: 6, mode: 'line' as const, speculative: false, languageId: 'python', path: 'a.py', seed: 3, ignoreStop: true };
        for (const strategy of ['greedy', 'beam', 'sampling', 'superposed'] as const) expect((await engine.complete({ ...req, strategy })).drafts.length, strategy).toBeGreaterThan(0);
        const g = await engine.complete({ ...req, strategy: 'greedy', k: 1 });
        const s = await engine.complete({ ...req, strategy: 'superposed', k: 1 });
        expect(s.drafts[0]?.text).toBe(g.drafts[0]?.text);
      } finally {
        await engine.dispose();
      }
    });
  }
});

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

describe('model families: FIM conventions from the tokenizers', () => {
  const want: Record<string, { convention: string; prefix: string; suffix: string; middle: string; ends: string[]; bos?: string }> = {
    qwen2: { convention: 'qwen', prefix: '<|fim_prefix|>', suffix: '<|fim_suffix|>', middle: '<|fim_middle|>', ends: ['<|endoftext|>', '<|im_end|>', '<|file_sep|>'] },
    starcoder2: { convention: 'starcoder', prefix: '<fim_prefix>', suffix: '<fim_suffix>', middle: '<fim_middle>', ends: ['<|endoftext|>', '<file_sep>'] },
    gpt_bigcode: { convention: 'starcoder', prefix: '<fim_prefix>', suffix: '<fim_suffix>', middle: '<fim_middle>', ends: ['<|endoftext|>'] },
    deepseek: { convention: 'deepseek', prefix: '<｜fim▁begin｜>', suffix: '<｜fim▁hole｜>', middle: '<｜fim▁end｜>', ends: ['<｜end▁of▁sentence｜>'], bos: '<｜begin▁of▁sentence｜>' },
    llama: { convention: 'codellama', prefix: '▁<PRE>', suffix: '▁<SUF>', middle: '▁<MID>', ends: ['▁<EOT>', '</s>'], bos: '<s>' },
  };
  for (const family of FAMILIES) {
    it(`${family}: PSM with the family's tokens and end tokens`, () => {
      const cfg = readModelConfig(path.join(FIXTURES, family));
      const w = want[family];
      expect(cfg.fim).toMatchObject({ format: 'psm', convention: w.convention, prefix: w.prefix, suffix: w.suffix, middle: w.middle });
      for (const e of w.ends) expect(cfg.fim?.ends).toContain(e);
      expect(cfg.fim?.bos).toBe(w.bos);
    });
  }

  it("prompts are PSM in each family's tokens, with the BOS the tokenizer adds, and no special text in the prompt body", () => {
    const req = { prefix: 'const a = 1;\nconst b = ', suffix: ';\nexport { a, b };\n', languageId: 'typescript', path: 'src/x.ts', strategy: 'greedy' as const, k: 1, maxTokens: 16, mode: 'line' as const, speculative: false };
    for (const family of FAMILIES) {
      const cfg = readModelConfig(path.join(FIXTURES, family));
      const tok = Tokenizer.load(cfg.tokenizerFile);
      const p = buildPrompt(tok, cfg, req);
      const id = (t: string | undefined): number => (t ? tok.specialId(t) ?? -1 : -1);
      const [pre, suf, mid] = [id(cfg.fim!.prefix), id(cfg.fim!.suffix), id(cfg.fim!.middle)];
      const at = (t: number): number => p.ids.indexOf(t);
      expect(at(pre), family).toBeGreaterThanOrEqual(0);
      expect(at(pre) < at(suf) && at(suf) < at(mid), family).toBe(true);
      expect(at(mid), family).toBe(p.ids.length - 1);
      if (cfg.fim!.bos) expect(p.ids[0], family).toBe(id(cfg.fim!.bos));
      else expect(p.ids[0], family).not.toBe(id('<s>'));
      expect(tok.decode(p.ids.slice(at(pre) + 1, at(suf))), family).toBe(req.prefix.slice(0, -1)); // last token healed
      expect(tok.decode(p.ids.slice(at(suf) + 1, at(mid))), family).toBe(req.suffix);
    }
  });

  it('model info: family, fim, superposition and how to fix it, variants', () => {
    const dir = copyFixture('qwen2');
    const before = modelInfo(dir);
    expect(before).toMatchObject({ family: 'qwen2', superposition: false, fix: `superdraft model prepare ${dir}`, layers: 2, vocab: 465 });
    expect(before.superposition_reason).toMatch(/no superposition input \(token_weights\)/);
    expect(before.fim?.tokens).toMatchObject({ prefix: '<|fim_prefix|>', suffix: '<|fim_suffix|>', middle: '<|fim_middle|>', file_sep: '<|file_sep|>', repo_name: '<|repo_name|>' });
    expect(before.variants.map((v) => v.file)).toEqual(['onnx/model.onnx', 'onnx/model_q4.onnx']);
    expect(before.external_data_bytes).toBe(before.variants.reduce((a, v) => a + v.external_data_bytes, 0));
    prepareModel(dir);
    const after = modelInfo(dir);
    expect(after.superposition).toBe(true);
    expect(after.present_delta).toBe(true);
    expect(before.present_delta).toBe(false);
    expect(after.fix).toBeUndefined();
    expect(after.variants.every((v) => v.prepared)).toBe(true);
  });
});

describe('model prepare: bad input fails clearly, naming the file, with nothing written', () => {
  const snapshot = (dir: string): Record<string, string> => {
    const out: Record<string, string> = {};
    const walk = (d: string): void => {
      for (const f of readdirSync(d)) {
        const p = path.join(d, f);
        if (statSync(p).isDirectory()) walk(p);
        else out[path.relative(dir, p)] = readFileSync(p).toString('base64');
      }
    };
    walk(dir);
    return out;
  };
  const expectFailure = (dir: string, re: RegExp): void => {
    const before = snapshot(dir);
    expect(() => prepareModel(dir)).toThrow(PrepareError);
    expect(() => prepareModel(dir)).toThrow(re);
    expect(snapshot(dir)).toEqual(before);
  };

  it('no embedding lookup on input_ids', () => {
    const dir = copyFixture('qwen2');
    const file = path.join(dir, 'onnx', 'model_q4.onnx');
    const m = decodeModel(readFileSync(file));
    for (const n of m.graph.node) if (n.op_type === 'Gather' && n.input[1] === 'input_ids') n.op_type = 'GatherElements';
    writeFileSync(file, encodeModel(m));
    expectFailure(dir, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: no embedding lookup`));
  });

  it('unknown model_type', () => {
    const dir = copyFixture('qwen2');
    const cfgFile = path.join(dir, 'config.json');
    writeFileSync(cfgFile, JSON.stringify({ ...JSON.parse(readFileSync(cfgFile, 'utf8')), model_type: 'mamba' }));
    expectFailure(dir, /config\.json: unknown model_type "mamba"/);
  });

  it('missing tokenizer', () => {
    const dir = copyFixture('starcoder2');
    unlinkSync(path.join(dir, 'tokenizer.json'));
    expectFailure(dir, /tokenizer not found: .*tokenizer\.json/);
  });

  it('missing external data', () => {
    const dir = copyFixture('llama');
    unlinkSync(path.join(dir, 'onnx', 'model_q4.onnx_data'));
    expectFailure(dir, /model_q4\.onnx: external data file .*model_q4\.onnx_data is missing/);
  });

  it('truncated external data', () => {
    const dir = copyFixture('deepseek');
    const data = path.join(dir, 'onnx', 'model.onnx_data');
    truncateSync(data, statSync(data).size - 100);
    expectFailure(dir, /model\.onnx: external data file .*model\.onnx_data is truncated/);
  });

  it('a graph whose attention takes the cache length from the mask (GroupQueryAttention) gets no present_delta.*', () => {
    const dir = copyFixture('qwen2');
    const file = path.join(dir, 'onnx', 'model_q4.onnx');
    const m = decodeModel(readFileSync(file));
    const sm = m.graph.node.find((n) => n.op_type === 'Softmax')!;
    Object.assign(sm, { op_type: 'GroupQueryAttention', domain: 'com.microsoft' }); // prepare reads the graph only
    writeFileSync(file, encodeModel(m));
    const r = prepareModel(dir);
    const q4 = r.variants.find((v) => v.file === file)!;
    expect(q4.noDeltas).toMatch(/^GroupQueryAttention .* takes the cache length from the attention mask$/);
    expect(q4.deltas).toBeUndefined();
    expect(q4.embedding).toMatch(/^Gather /); // the rest is prepared
    expect(decodeModel(readFileSync(file)).graph.output.some((o) => o.name.startsWith('present_delta.'))).toBe(false);
    expect(r.variants.find((v) => v.file !== file)!.deltas).toBe(2);
    expect(JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')).superdraft.prepared.variants['onnx/model_q4.onnx'].present_delta_layers).toBe(0);
    expect(prepareModel(dir).changed).toBe(false); // and it counts as prepared
  });

  it('already prepared: no-op', () => {
    const dir = copyFixture('qwen2');
    prepareModel(dir);
    const before = snapshot(dir);
    const r = prepareModel(dir);
    expect(r.changed).toBe(false);
    expect(r.variants.every((v) => v.status === 'already')).toBe(true);
    expect(snapshot(dir)).toEqual(before);
    expect(existsSync(path.join(dir, 'onnx', 'model.onnx'))).toBe(true);
  });
});
