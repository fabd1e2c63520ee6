/**
 * training/onnx_to_gguf.py on the committed tiny qwen2 replica (real child process, Debian's python3 with onnx):
 * the GGUF it writes is read back here by an independent reader (header, metadata, tensor infos, aligned offsets),
 * its Q4_0 blocks dequantise to exactly the MatMulNBits weights of the ONNX graph (float16 scale rounding aside), and
 * bad input fails with a message naming the problem and leaves no file behind.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/paths';

const PY = '/usr/bin/python3';
const TINY = path.join(ROOT, 'test/fixtures/replicas/qwen2');
const tmp = mkdtempSync(path.join(tmpdir(), 'sd-gguf-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Gguf {
  version: number;
  meta: Map<string, unknown>;
  tensors: { name: string; dims: number[]; type: number; offset: number }[];
  dataStart: number;
  buf: Buffer;
}

/** A GGUF v3 reader written from the format's description (independent of training/gguf.py). */
function readGguf(file: string): Gguf {
  const buf = readFileSync(file);
  let pos = 0;
  const u32 = () => ((pos += 4), buf.readUInt32LE(pos - 4));
  const u64 = () => ((pos += 8), Number(buf.readBigUInt64LE(pos - 8)));
  const str = () => {
    const n = u64();
    pos += n;
    return buf.toString('utf8', pos - n, pos);
  };
  const value = (t: number): unknown => {
    switch (t) {
      case 0: return buf.readUInt8(pos++);
      case 4: return u32();
      case 5: return ((pos += 4), buf.readInt32LE(pos - 4));
      case 6: return ((pos += 4), buf.readFloatLE(pos - 4));
      case 7: return buf.readUInt8(pos++) !== 0;
      case 8: return str();
      case 9: {
        const et = u32();
        const n = u64();
        return Array.from({ length: n }, () => value(et));
      }
      case 10: return u64();
      default: throw new Error(`metadata type ${t} not expected here`);
    }
  };
  expect(buf.toString('latin1', 0, 4)).toBe('GGUF');
  pos = 4;
  const version = u32();
  const nTensors = u64();
  const nKv = u64();
  const meta = new Map<string, unknown>();
  for (let i = 0; i < nKv; i++) {
    const k = str();
    meta.set(k, value(u32()));
  }
  const tensors = [];
  for (let i = 0; i < nTensors; i++) {
    const name = str();
    const nd = u32();
    const dims = Array.from({ length: nd }, u64);
    tensors.push({ name, dims, type: u32(), offset: u64() });
  }
  const align = (meta.get('general.alignment') as number | undefined) ?? 32;
  return { version, meta, tensors, dataStart: Math.ceil(pos / align) * align, buf };
}

function convert(variant: string): Gguf {
  const out = path.join(tmp, `tiny-${variant}.gguf`);
  execFileSync(PY, [path.join(ROOT, 'training/onnx_to_gguf.py'), TINY, '--variant', variant, '--out', out], { stdio: 'pipe' });
  return readGguf(out);
}

const config = JSON.parse(readFileSync(path.join(TINY, 'config.json'), 'utf8'));

describe('onnx_to_gguf.py', () => {
  it('writes a GGUF v3 qwen2 file whose header, metadata and tensor infos read back', () => {
    const g = convert('q4');
    expect(g.version).toBe(3);
    expect(g.meta.get('general.architecture')).toBe('qwen2');
    expect(g.meta.get('qwen2.block_count')).toBe(config.num_hidden_layers);
    expect(g.meta.get('qwen2.embedding_length')).toBe(config.hidden_size);
    expect(g.meta.get('qwen2.attention.head_count_kv')).toBe(config.num_key_value_heads);
    expect(g.meta.get('general.file_type')).toBe(2); // mostly Q4_0: the replica's blocks are symmetric
    const tokens = g.meta.get('tokenizer.ggml.tokens') as string[];
    expect(tokens.length).toBe(config.vocab_size); // one token per embedding row
    expect(g.meta.get('tokenizer.ggml.model')).toBe('gpt2');
    expect((g.meta.get('tokenizer.ggml.merges') as string[]).length).toBeGreaterThan(0);
    // 1 embedding + 12 per layer + output norm + output
    expect(g.tensors.length).toBe(1 + 12 * config.num_hidden_layers + 2);
    const byName = new Map(g.tensors.map((t) => [t.name, t]));
    expect(byName.get('token_embd.weight')).toMatchObject({ dims: [config.hidden_size, config.vocab_size], type: 0 });
    expect(byName.get('blk.0.ffn_down.weight')).toMatchObject({ dims: [config.intermediate_size, config.hidden_size], type: 2 });
    expect(byName.get('output.weight')).toMatchObject({ dims: [config.hidden_size, config.vocab_size], type: 2 });
    const size = (t: { dims: number[]; type: number }) => { const n = t.dims.reduce((a, b) => a * b, 1); return t.type === 0 ? n * 4 : (n / 32) * 18; };
    let end = 0;
    for (const t of g.tensors) {
      expect(t.offset % 32).toBe(0);
      expect(t.offset).toBeGreaterThanOrEqual(end);
      end = t.offset + size(t);
    }
    expect(g.dataStart + end).toBeLessThanOrEqual(g.buf.length);
  });

  it('Q4_0 blocks dequantise to the MatMulNBits weights of the ONNX graph', () => {
    const g = convert('q4');
    const t = g.tensors.find((x) => x.name === 'blk.0.attn_q.weight')!;
    const [K, N] = t.dims as [number, number];
    const deq = new Float32Array(K * N); // row n (output), column k (input)
    let p = g.dataStart + t.offset;
    for (let b = 0; b < (K * N) / 32; b++, p += 18) {
      const d = g.buf.readUInt16LE(p);
      const scale = halfToFloat(d);
      for (let j = 0; j < 16; j++) {
        const q = g.buf[p + 2 + j]!;
        deq[b * 32 + j] = ((q & 15) - 8) * scale;
        deq[b * 32 + j + 16] = ((q >> 4) - 8) * scale;
      }
    }
    // The ONNX side, dequantised by MatMulNBits' own rule (element 2i low nibble, 2i+1 high nibble; zero point 8).
    const ref = JSON.parse(execFileSync(PY, ['-c', `
import json, onnx
from onnx import numpy_helper
m = onnx.load(${JSON.stringify(path.join(TINY, 'onnx/model_q4.onnx'))})
i = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
B = i["model/layers.0/self_attn/q_proj.weight_Q4"]; s = i["model/layers.0/self_attn/q_proj.weight_scales"]
N, nb, _ = B.shape
out = []
for n in range(N):
    for b in range(nb):
        for byte in B[n, b]:
            for q in (byte & 15, byte >> 4):
                out.append(float((int(q) - 8) * s[n * nb + b]))
print(json.dumps(out))
`], { maxBuffer: 64 * 1024 * 1024 }).toString());
    expect(ref.length).toBe(K * N);
    let maxRel = 0;
    for (let i = 0; i < ref.length; i++) maxRel = Math.max(maxRel, Math.abs(deq[i]! - ref[i]) / Math.max(1e-6, Math.abs(ref[i])));
    expect(maxRel).toBeLessThan(1e-3); // float16 scale: relative rounding ≤ 2^-11
  });

  it('fp32 keeps every weight exactly (F32 tensors)', () => {
    const g = convert('fp32');
    expect(g.meta.get('general.file_type')).toBe(0);
    expect(g.tensors.every((t) => t.type === 0)).toBe(true);
  });

  it('refuses a model it cannot convert, naming why, and writes nothing', () => {
    const out = path.join(tmp, 'llama.gguf');
    const r = spawnSync(PY, [path.join(ROOT, 'training/onnx_to_gguf.py'), path.join(ROOT, 'test/fixtures/replicas/llama'), '--out', out]);
    expect(r.status).toBe(1);
    expect(r.stderr.toString()).toMatch(/model_type 'llama'.*qwen2/);
    expect(existsSync(out)).toBe(false);
    const r2 = spawnSync(PY, [path.join(ROOT, 'training/onnx_to_gguf.py'), TINY, '--variant', 'q8', '--out', out]);
    expect(r2.status).toBe(1);
    expect(r2.stderr.toString()).toMatch(/--variant q8/);
  });
});

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}
