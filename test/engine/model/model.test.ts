/**
 * The shipped model directory (models/default) on the real onnxruntime-node and @huggingface/tokenizers:
 * reference logits recorded at export time, prefill + cached decode == one full forward, the superposition input
 * with k=1 (and with a zero-weighted second token) == the plain path, config.json agrees with the graph, the
 * n-gram file is well formed, and the tokenizer gives the Python tokenizer's ids and round-trips exactly.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { Tokenizer } from '@huggingface/tokenizers';
import { beforeAll, describe, expect, it } from 'vitest';
import { EMBEDDED_MODEL } from '../../helpers/paths';

const DIR = EMBEDDED_MODEL;
const readJson = (name: string): any => JSON.parse(fs.readFileSync(path.join(DIR, name), 'utf8'));

interface RefCase {
  name: string;
  text?: string;
  input_ids?: number[];
  input_ids_k?: number[][];
  token_weights?: number[][];
  top_ids: number[];
  top_logits: number[];
  logsumexp: number;
}

const cfg = readJson('config.json');
const ref = readJson('reference.json');
const L: number = cfg.num_hidden_layers;
const KVH: number = cfg.num_key_value_heads;
const HD: number = cfg.head_dim;
const V: number = cfg.vocab_size;
// The reference logits are PyTorch fp32 outputs of the exported graph. Any two fp32 implementations of the same graph
// differ only by the order of their additions (which kernel a CPU gets: AVX2, AVX-512, NEON): each dot product of
// n terms moves by at most about n·ε·Σ|terms| (ε = 2^-24; n ≤ 384 here), a few 1e-5 in a logit of magnitude ~20
// after six layers. ref.tolerance.fp32_abs (2e-3) is two orders of magnitude above that on any CPU, and far below
// the gaps between competing tokens that the argmax checks rely on. The shipped model has only fp32 variants (an int8
// graph with dynamic activation quantization is not chunking-consistent and its error depends on the CPU's integer
// kernels: see training/evaluate.py).
const variants: Record<string, string> = cfg.superdraft.onnx.variants;
const FP32_ABS: number = ref.tolerance.fp32_abs;

type Feeds = Record<string, ort.Tensor>;
type Outputs = ort.InferenceSession.OnnxValueMapType;

function feeds(idsK: number[][], weights: number[][], past: Outputs | null, pastLen: number): Feeds {
  const S = idsK.length;
  const K = idsK[0].length;
  const f: Feeds = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(idsK.flat().map((x) => BigInt(x))), [1, S, K]),
    token_weights: new ort.Tensor('float32', Float32Array.from(weights.flat()), [1, S, K]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(pastLen + S).fill(1n), [1, pastLen + S]),
    position_ids: new ort.Tensor('int64', BigInt64Array.from({ length: S }, (_, i) => BigInt(pastLen + i)), [1, S]),
  };
  for (let i = 0; i < L; i++) {
    for (const kind of ['key', 'value']) {
      f[`past_key_values.${i}.${kind}`] = past
        ? (past[`present.${i}.${kind}`] as ort.Tensor)
        : new ort.Tensor('float32', new Float32Array(0), [1, KVH, 0, HD]);
    }
  }
  return f;
}
const plain = (ids: number[]): [number[][], number[][]] => [ids.map((i) => [i]), ids.map(() => [1])];
const row = (t: ort.Tensor, pos: number): Float32Array => (t.data as Float32Array).subarray(pos * V, (pos + 1) * V);
function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

describe('models/default', () => {
  const sessions: Record<string, ort.InferenceSession> = {};

  beforeAll(async () => {
    for (const [variant, file] of Object.entries(variants)) {
      sessions[variant] = await ort.InferenceSession.create(path.join(DIR, file));
    }
  });

  it('config.json names the shipped files and matches the graph inputs/outputs', () => {
    expect(fs.existsSync(path.join(DIR, cfg.superdraft.onnx.default))).toBe(true);
    expect(Object.values(variants)).toContain(cfg.superdraft.onnx.default);
    expect(fs.existsSync(path.join(DIR, cfg.superdraft.ngrams))).toBe(true);
    expect(cfg.head_dim * cfg.num_attention_heads).toBeGreaterThanOrEqual(cfg.hidden_size / 2);
    expect(cfg.max_position_embeddings).toBeGreaterThanOrEqual(1024);
    const expectedIn = ['input_ids', 'token_weights', 'attention_mask', 'position_ids'];
    const expectedOut = ['logits'];
    for (let i = 0; i < L; i++) {
      expectedIn.push(`past_key_values.${i}.key`, `past_key_values.${i}.value`);
      expectedOut.push(`present.${i}.key`, `present.${i}.value`, `present_delta.${i}.key`, `present_delta.${i}.value`);
    }
    for (const s of Object.values(sessions)) {
      expect([...s.inputNames].sort()).toEqual([...expectedIn].sort());
      expect([...s.outputNames].sort()).toEqual([...expectedOut].sort());
    }
    const tok = readJson('tokenizer.json');
    const special = Object.fromEntries(tok.added_tokens.map((t: { content: string; id: number }) => [t.content, t.id]));
    for (const key of ['prefix', 'suffix', 'middle', 'pad', 'file_sep', 'eos']) {
      expect(special[cfg.superdraft.fim[key]]).toBeTypeOf('number');
    }
    expect(special[cfg.superdraft.fim.eos]).toBe(cfg.eos_token_id);
    expect(Object.keys(tok.model.vocab).length + tok.added_tokens.length).toBe(V);
  });

  it('graph shapes agree with config.json (logits vocab, KV heads, head dim)', async () => {
    for (const s of Object.values(sessions)) {
      const out = await s.run(feeds(...plain([5, 100, 200]), null, 0));
      expect(out.logits.dims).toEqual([1, 3, V]);
      expect(out['present.0.key'].dims).toEqual([1, KVH, 3, HD]);
      expect(out[`present.${L - 1}.value`].dims).toEqual([1, KVH, 3, HD]);
    }
  });

  for (const variant of Object.keys(variants)) {
    it(`${variant}: logits match the reference recorded at export`, async () => {
      const tol = FP32_ABS;
      for (const c of ref.cases as RefCase[]) {
        const [idsK, w] = c.input_ids_k ? [c.input_ids_k, c.token_weights!] : plain(c.input_ids!);
        const out = await sessions[variant].run(feeds(idsK, w, null, 0));
        const last = row(out.logits as ort.Tensor, idsK.length - 1);
        const worst = Math.max(...c.top_ids.map((id, j) => Math.abs(last[id] - c.top_logits[j])));
        expect(worst, `${c.name}`).toBeLessThanOrEqual(tol);
        expect(argmax(last), c.name).toBe(c.top_ids[0]);
      }
    });

    it(`${variant}: prefill + cached decode equals one full forward`, async () => {
      const ids: number[] = ref.cases[1].input_ids;
      const s = sessions[variant];
      const full = await s.run(feeds(...plain(ids), null, 0));
      const cut = ids.length - 4;
      let out = await s.run(feeds(...plain(ids.slice(0, cut)), null, 0));
      let worst = maxAbs(row(out.logits as ort.Tensor, cut - 1), row(full.logits as ort.Tensor, cut - 1));
      for (let t = cut; t < ids.length; t++) {
        out = await s.run(feeds(...plain([ids[t]]), out, t));
        worst = Math.max(worst, maxAbs(row(out.logits as ort.Tensor, 0), row(full.logits as ort.Tensor, t)));
      }
      // only float reassociation differs (a different matrix shape may pick another kernel): see FP32_ABS
      expect(worst).toBeLessThanOrEqual(FP32_ABS);
      expect((out['present.0.key'] as ort.Tensor).dims[2]).toBe(ids.length);
    });

    it(`${variant}: present_delta.* are the entries a forward appends to present.*`, async () => {
      const ids: number[] = ref.cases[1].input_ids;
      const s = sessions[variant];
      const first = await s.run(feeds(...plain(ids.slice(0, 5)), null, 0));
      const next = await s.run(feeds(...plain(ids.slice(5, 8)), first, 5));
      for (let i = 0; i < L; i++) {
        for (const kind of ['key', 'value']) {
          const present = next[`present.${i}.${kind}`] as ort.Tensor;
          const delta = next[`present_delta.${i}.${kind}`] as ort.Tensor;
          expect(delta.dims).toEqual([1, KVH, 3, HD]);
          expect(Array.from(delta.data as Float32Array)).toEqual(Array.from((present.data as Float32Array).subarray(5 * HD, 8 * HD)));
        }
      }
    });

    it(`${variant}: superposition with k=1 (and a zero-weighted 2nd token) equals the plain path`, async () => {
      const ids: number[] = ref.cases[0].input_ids;
      const s = sessions[variant];
      const a = await s.run(feeds(...plain(ids), null, 0));
      const b = await s.run(feeds(ids.map((i) => [i]), ids.map(() => [1]), null, 0));
      const c = await s.run(feeds(ids.map((i) => [i, (i * 31 + 7) % V]), ids.map(() => [1, 0]), null, 0));
      expect(maxAbs(a.logits.data as Float32Array, b.logits.data as Float32Array)).toBe(0);
      expect(maxAbs(a.logits.data as Float32Array, c.logits.data as Float32Array)).toBeLessThanOrEqual(1e-4);
      // and a real mix differs from either token alone
      const m = await s.run(feeds(ids.map((i) => [i, (i * 31 + 7) % V]), ids.map(() => [0.5, 0.5]), null, 0));
      expect(maxAbs(a.logits.data as Float32Array, m.logits.data as Float32Array)).toBeGreaterThan(1e-3);
    });
  }

  it('tokenizer: same ids as the training tokenizer and exact round trips (tabs, CRLF, non-ASCII)', () => {
    const tok = new Tokenizer(readJson('tokenizer.json'), readJson('tokenizer_config.json'));
    for (const c of ref.tokenizer as { text: string; ids: number[] }[]) {
      expect(tok.encode(c.text).ids, JSON.stringify(c.text)).toEqual(c.ids);
      expect(tok.decode(c.ids, { skip_special_tokens: false })).toBe(c.text);
    }
    for (const c of (ref.cases as RefCase[]).filter((x) => x.text)) {
      expect(tok.encode(c.text!).ids).toEqual(c.input_ids);
    }
    for (const text of ['\t\tx = 1\r\n\ty = "é"\r\n', 'naïve café — 東京 🙂\n', '    \n\n\t \r\n', 'a\u00a0b\u2028c\r\rd']) {
      const ids = tok.encode(text).ids;
      expect(ids.every((i) => i >= 0 && i < V)).toBe(true);
      expect(tok.decode(ids, { skip_special_tokens: false })).toBe(text);
    }
    expect(tok.encode('<|fim_prefix|><|fim_suffix|><|fim_middle|><|file_sep|><|endoftext|>').ids).toEqual([
      cfg.superdraft.token_ids['<|fim_prefix|>'],
      cfg.superdraft.token_ids['<|fim_suffix|>'],
      cfg.superdraft.token_ids['<|fim_middle|>'],
      cfg.superdraft.token_ids['<|file_sep|>'],
      cfg.superdraft.token_ids['<|endoftext|>'],
    ]);
  });

  it('ngrams.bin follows the documented format', () => {
    const buf = fs.readFileSync(path.join(DIR, cfg.superdraft.ngrams));
    expect(buf.subarray(0, 4).toString('ascii')).toBe('SDNG');
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    expect(dv.getUint32(4, true)).toBe(1);
    expect(dv.getUint32(8, true)).toBe(V);
    const k = dv.getUint32(12, true);
    expect(k).toBeGreaterThanOrEqual(1);
    let off = 32 + 16 * k;
    const align = (x: number): number => (x + 3) & ~3;
    for (let i = 0; i < k; i++) {
      const n = dv.getUint32(32 + 16 * i, true);
      const nc = dv.getUint32(36 + 16 * i, true);
      const ne = dv.getUint32(40 + 16 * i, true);
      expect(n).toBeGreaterThanOrEqual(2);
      expect(n).toBeLessThanOrEqual(6);
      const ctxOff = off;
      off += align(nc * (n - 1) * 2);
      const totOff = off;
      off += align(nc * 4);
      const offsOff = off;
      off += align((nc + 1) * 4);
      const tokOff = off;
      off += align(ne * 2);
      const probOff = off;
      off += align(ne * 2);
      expect(dv.getUint32(offsOff, true)).toBe(0);
      expect(dv.getUint32(offsOff + nc * 4, true)).toBe(ne);
      // spot-check a few contexts: entries sorted by probability, probabilities sum to <= 1, ids in range
      for (const c of [0, Math.floor(nc / 2), nc - 1]) {
        const a = dv.getUint32(offsOff + c * 4, true);
        const b = dv.getUint32(offsOff + (c + 1) * 4, true);
        expect(b).toBeGreaterThan(a);
        expect(dv.getUint32(totOff + c * 4, true)).toBeGreaterThan(0);
        let sum = 0;
        let prev = Infinity;
        for (let e = a; e < b; e++) {
          const p = dv.getUint16(probOff + e * 2, true);
          expect(p).toBeLessThanOrEqual(prev);
          prev = p;
          sum += p;
          expect(dv.getUint16(tokOff + e * 2, true)).toBeLessThan(V);
        }
        expect(sum).toBeLessThanOrEqual(65535 + (b - a));
        for (let j = 0; j < n - 1; j++) expect(dv.getUint16(ctxOff + (c * (n - 1) + j) * 2, true)).toBeLessThan(V);
      }
    }
    expect(off).toBe(buf.length);
  });
});
