/**
 * Verification: scores drafts under the model with a clean cache, all in ONE batched forward (right-padded; a causal
 * model never lets a pad affect earlier positions). Each draft's per-token log-probabilities are its true likelihood
 * given the prompt (its most recent `window` entries), whatever produced it: superposed decoding (whose search
 * scores mix in n-grams and blended inputs) or a copy from the code (which the model never scored).
 */
import { DecodeContext, checkAbort, logSumExp } from '../decode/decode';

/** Per-token log-probabilities of each token list (row r of the result belongs to drafts[r]). */
export async function verifyTokens(ctx: DecodeContext, drafts: readonly (readonly number[])[], window: number): Promise<number[][]> {
  const { runtime, vocab: V } = ctx;
  const n = drafts.length;
  if (n === 0) return [];
  const len = Math.max(...drafts.map((d) => d.length));
  // Row-major [n, len-1]: position j predicts token j+1. Token 0 is predicted by the prompt's logits.
  const seq = len - 1;
  let out: { logits: Float32Array } | null = null;
  let lses: ArrayLike<number> = [];
  if (seq > 0) {
    checkAbort(ctx.signal);
    const ids: number[] = [];
    for (const d of drafts) for (let j = 0; j < seq; j++) ids.push(d[Math.min(j, d.length - 1)] ?? 0);
    const t0 = performance.now();
    const past = runtime.selectRows(ctx.kv, new Array(n).fill(0), ctx.kv.length - window);
    out = await runtime.forward({ ids, batch: n, seq, past, wantKv: false });
    ctx.stats.forwards++;
    // Every row's normaliser at once (natively for many rows): the dominant cost of verification in JavaScript.
    lses = await runtime.rowLogSumExp(out.logits, n * seq, V);
    runtime.costs.recordRows(n * seq, performance.now() - t0);
  }
  const firstLse = logSumExp(ctx.lastLogits, V, 0);
  return drafts.map((d, r) =>
    d.map((t, j) => {
      if (j === 0) return ctx.lastLogits[t] - firstLse;
      const row = r * seq + (j - 1);
      return out!.logits[row * V + t] - lses[row]!;
    }),
  );
}
