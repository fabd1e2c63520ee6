/** Shared by the `model prepare` tests: the replicas, temporary copies of them, and one forward pass on a graph. */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { expect } from 'vitest';
import { REPLICAS } from '../helpers/paths';

const FIXTURES = REPLICAS;
export const FAMILIES = ['qwen2', 'llama', 'deepseek', 'starcoder2', 'gpt_bigcode'];
/**
 * qwen2-quantized: fp16, int8 (onnxruntime's dynamic quantization, as transformers.js writes it) and q4g (q4 with the
 * embedding table in com.microsoft GatherBlockQuantized, uint4 blocks of 32).
 */
export const EQUIVALENCE = [...FAMILIES, 'qwen2-quantized'];
export const TOL = 1e-4;
const tmps: string[] = [];

export function copyFixture(family: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `superdraft-prepare-${family}-`));
  cpSync(path.join(FIXTURES, family), dir, { recursive: true });
  tmps.push(dir);
  return dir;
}
/** Removes the copies made by this test file (call from its afterAll). */
export function removeFixtures(): void {
  for (const d of tmps.splice(0)) rmSync(d, { recursive: true, force: true });
}

export interface Feeds {
  ids: number[];
  past?: ort.InferenceSession.ReturnType;
  pastLen: number;
}

export async function run(s: ort.InferenceSession, f: Feeds, extra: Record<string, ort.Tensor> = {}, k = 1): Promise<ort.InferenceSession.ReturnType> {
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

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
