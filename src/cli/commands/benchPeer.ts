/**
 * `superdraft bench --peer`: llama.cpp (node-llama-cpp, installed by scripts/install-peer.sh into .cache/peer, never a
 * dependency of the project) on the same weights converted to GGUF (training/onnx_to_gguf.py), same threads, same
 * prompts: greedy tokens/s, and 4 parallel sequences (what llama.vscode's n_cmpl asks for) against superposed k=4.
 * The conversion is checked first: both runtimes' log-probabilities on the same input tokens.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { readModelConfig } from '../../engine/model/config';
import { weightsVariant } from '../../prepare/prepare';
import { ModelRuntime } from '../../engine/model/runtime';
import { percentile, round } from '../metrics';
import { packageRoot, progress } from '../run';

export const PEER_PACKAGE = 'node-llama-cpp';
export const PEER_VERSION = '3.21.1';

export interface PeerInput {
  modelDir: string;
  variant: string;
  gguf?: string;
  threads: number;
  /** Prompt token ids (our tokenizer), one list per bench prompt, cut by the caller to the prefix's last PEER_CONTEXT tokens. */
  prompts: number[][];
  maxTokens: number;
  /**
   * Ours on prompt i with the same context (those tokens' text as the prefix), timed right before the peer on it
   * (load on a shared machine changes by the minute): greedy (1 draft) or superposed k=4; ms and the tokens of all
   * drafts.
   */
  ours: (prompt: number, kind: 'greedy' | 'superposed_k4') => Promise<{ ms: number; tokens: number }>;
}

/** Tokens of context the peer gets per prompt (its 4 sequences each prefill it: kept short on a slow CPU). */
export const PEER_CONTEXT = 256;

// The peer's API, as far as the bench uses it (typed loosely: it is loaded at run time, never compiled against).
/* eslint-disable @typescript-eslint/no-explicit-any */
type Any = any;

/** Runs an ES module import that bundling leaves alone (node-llama-cpp is ESM only; dist/cli.js is CommonJS). */
const importEsm = new Function('u', 'return import(u)') as (u: string) => Promise<Any>;

export function peerEntry(root = packageRoot()): string {
  return path.join(root, '.cache', 'peer', 'node_modules', PEER_PACKAGE, 'dist', 'index.js');
}

function logSoftmax(row: ArrayLike<number>): Float64Array {
  let m = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i]! > m) m = row[i]!;
  let s = 0;
  for (let i = 0; i < row.length; i++) s += Math.exp(row[i]! - m);
  const lse = m + Math.log(s);
  const out = new Float64Array(row.length);
  for (let i = 0; i < row.length; i++) out[i] = row[i]! - lse;
  return out;
}

export async function benchPeer(input: PeerInput): Promise<Record<string, unknown>> {
  const name = `llama.cpp (${PEER_PACKAGE} ${PEER_VERSION}, prebuilt CPU binary)`;
  const entry = peerEntry();
  if (!existsSync(entry)) return { name, absent: `${PEER_PACKAGE} is not installed in .cache/peer: run \`bash scripts/install-peer.sh\`` };
  // q4a8 (model prepare --int8-activations) multiplies the q4 weights: the peer reads the same weights' GGUF.
  const weights = weightsVariant(input.variant);
  const gguf = input.gguf ?? path.join(input.modelDir, `model-${weights}.gguf`);
  if (!existsSync(gguf)) {
    return { name, absent: `no GGUF file ${gguf}: convert the replica with \`/usr/bin/python3 training/onnx_to_gguf.py ${input.modelDir} --variant ${weights}\`` };
  }
  const { getLlama } = await importEsm(pathToFileURL(entry).href);
  const llama = await getLlama({ gpu: false, build: 'never', progressLogs: false, logLevel: 'error' });
  const model = await llama.loadModel({ modelPath: gguf });
  const T = input.threads;
  const ctx = await model.createContext({ contextSize: 2048, sequences: 4, batchSize: 512, threads: { ideal: T, min: T } });
  try {
    const seqs = [0, 1, 2, 3].map(() => ctx.getSequence());
    const check = await compareLogits(input, seqs[0]);
    const prompts = input.prompts;
    // Per prompt, interleaved: ours greedy, theirs greedy, ours superposed k=4, theirs 4 parallel sequences (sampled,
    // as n_cmpl is; the peer batches them into one decode per step). Drafts/s count full-length draft equivalents
    // (draft tokens ÷ maxTokens; both sides decode maxTokens tokens per draft: an end token does not end one, here
    // through yieldEogToken, ours through the request's ignoreStop).
    const g = { ours: [] as number[], theirs: [] as number[] };
    const k4 = { ours: [] as number[], theirs: [] as number[] };
    for (let i = 0; i < prompts.length; i++) {
      const p = prompts[i]!;
      progress(`peer: prompt ${i + 1}/${prompts.length} ...`);
      const og = await input.ours(i, 'greedy');
      g.ours.push((1000 * og.tokens) / og.ms);
      await seqs[0].clearHistory();
      await seqs[0].evaluateWithoutGeneratingNewTokens(p.slice(0, -1));
      let t = performance.now();
      let n = 0;
      for await (const _tok of seqs[0].evaluate([p[p.length - 1]!], { temperature: 0, yieldEogToken: true })) if (++n >= input.maxTokens) break;
      g.theirs.push((1000 * n) / (performance.now() - t));
      const os = await input.ours(i, 'superposed_k4');
      k4.ours.push((1000 * os.tokens) / input.maxTokens / os.ms);
      for (const s of seqs) {
        await s.clearHistory();
        await s.evaluateWithoutGeneratingNewTokens(p.slice(0, -1));
      }
      let total = 0;
      t = performance.now();
      await Promise.all(
        seqs.map(async (s, j) => {
          let m = 0;
          for await (const _tok of s.evaluate([p[p.length - 1]!], { temperature: 0.8, topP: 0.95, seed: 1 + j, yieldEogToken: true })) if (++m >= input.maxTokens) break;
          total += m;
        }),
      );
      k4.theirs.push((1000 * total) / input.maxTokens / (performance.now() - t));
    }
    for (const s of seqs) s.dispose();
    const ratio = (a: number[], b: number[]) => percentile(a.map((x, i) => x / b[i]!), 0.5);
    return {
      name,
      gguf: path.basename(gguf),
      threads: T,
      peer_context_tokens: PEER_CONTEXT,
      logits_check: check,
      greedy_tokens_per_s: { ours: round(percentile(g.ours, 0.5), 2), theirs: round(percentile(g.theirs, 0.5), 2) },
      k4_drafts_per_s: { ours_superposed: round(percentile(k4.ours, 0.5), 3), theirs_4_parallel: round(percentile(k4.theirs, 0.5), 3) },
      // paired per prompt (same minute of load), median over prompts
      greedy_tokens_per_s_ratio: round(ratio(g.ours, g.theirs)),
      k4_drafts_per_s_ratio: round(ratio(k4.ours, k4.theirs)),
    };
  } finally {
    await ctx.dispose();
    await model.dispose();
    await llama.dispose?.();
  }
}

/**
 * Both runtimes on the same input tokens: log-probabilities of the next token at the last 8 positions. Reports the
 * largest |Δ log p| over each position's 50 most likely tokens (ours) and how often the most likely token agrees.
 */
async function compareLogits(input: PeerInput, seq: Any): Promise<Record<string, unknown>> {
  progress('peer: logits check ...');
  const ids = (input.prompts[0] ?? []).slice(0, 48);
  if (ids.length < 9) return { skipped: 'first prompt shorter than 9 tokens' };
  const positions = 8;
  const config = readModelConfig(input.modelDir, input.variant);
  const rt = await ModelRuntime.load(config, { device: 'cpu', threads: input.threads });
  let ours: { logits: Float32Array; vocab: number; rows: number };
  try {
    ours = await rt.forward({ ids, batch: 1, seq: ids.length, past: rt.emptyKv(1), wantKv: false });
  } finally {
    await rt.dispose();
  }
  await seq.clearHistory();
  const items = ids.map((t, i) => (i >= ids.length - positions ? [t, { generateNext: { probabilities: true } }] : t));
  const res = await seq.controlledEvaluate(items);
  await seq.clearHistory();
  let maxDiff = 0;
  let agree = 0;
  const V = ours.vocab;
  for (let p = 0; p < positions; p++) {
    const pos = ids.length - positions + p;
    const row = ours.rows === ids.length ? pos : ours.rows - positions + p;
    const lp = logSoftmax(ours.logits.subarray(row * V, (row + 1) * V));
    const theirs: Map<number, number> = res[pos]?.next?.probabilities ?? new Map();
    const order = Array.from(lp.keys()).sort((a, b) => lp[b]! - lp[a]!).slice(0, 50);
    let theirBest = -1;
    let theirBestP = -1;
    for (const [tok, pr] of theirs) if (pr > theirBestP) (theirBestP = pr), (theirBest = tok);
    if (theirBest === order[0]) agree++;
    for (const t of order) maxDiff = Math.max(maxDiff, Math.abs(lp[t]! - Math.log(Math.max(theirs.get(t) ?? 0, 1e-30))));
  }
  return { positions, input_tokens: ids.length, max_abs_logprob_diff_top50: round(maxDiff, 4), top1_agreement: `${agree}/${positions}` };
}
