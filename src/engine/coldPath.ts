/**
 * The cold path on slow devices: how many prompt tokens one prefill forward takes (a new keystroke cancels a prefill
 * between forwards, so a forward's length bounds how late a cancellation lands), and how large a prompt a cold
 * request may build (its prefill must fit a latency target). Both come from the measured prefill speed, ms per token.
 *
 * Measured: the embedded model prefills ~0.02–0.3 ms per token (512-token chunks, the whole default budget of ~1,000
 * tokens cold in 20–300 ms): nothing changes for it. The real-size Qwen2.5-0.5B replica (q4, 2 threads, shared
 * machine) takes ~7 ms per token: 512-token chunks would delay a cancellation by 3.8 s and the default budget would
 * cost 7 s cold; here chunks shrink to ~32 tokens and the prompt to a quarter of the budget (~250 tokens, ~1.8 s).
 * Applied to large models only (ModelRuntime.large): a small one keeps 512-token chunks and the whole budget whatever
 * the load, so its completions never depend on how busy the machine is.
 */
import type { PromptBudget } from './prompt';

export const COLD_PATH = {
  /** Target ms per prefill forward (cancellation latency). */
  chunkMs: 250,
  /** Fewest tokens per prefill forward (smaller ones waste the matrix units). */
  minChunk: 32,
  /** A cold request's prefill should fit this many ms. */
  coldTargetMs: 2000,
  /** The prompt budget shrinks by halves, to at most this fraction (a prompt of nothing helps nobody). */
  minScale: 0.25,
};

/** Tokens per prefill forward for a measured `msPerToken` (NaN: unmeasured → `maxChunk`). */
export function prefillChunkTokens(msPerToken: number, maxChunk: number, policy = COLD_PATH): number {
  if (!(msPerToken > 0)) return maxChunk;
  return Math.max(Math.min(policy.minChunk, maxChunk), Math.min(maxChunk, Math.floor(policy.chunkMs / msPerToken)));
}

/**
 * Fraction of the default prompt budget (1, 1/2, 1/4 …, at least `minScale`) whose cold prefill fits the latency
 * target. Powers of two only, so the prompt (and the prompt cache's prefix) does not move with every measurement.
 */
export function promptBudgetScale(msPerToken: number, budgetTokens: number, policy = COLD_PATH): number {
  if (!(msPerToken > 0)) return 1;
  let scale = 1;
  while (scale / 2 >= policy.minScale && msPerToken * budgetTokens * scale > policy.coldTargetMs) scale /= 2;
  return scale;
}

export function scaleBudget(b: PromptBudget, scale: number): PromptBudget {
  if (scale >= 1) return b;
  return { prefixTokens: Math.floor(b.prefixTokens * scale), suffixTokens: Math.floor(b.suffixTokens * scale), snippetTokens: Math.floor(b.snippetTokens * scale) };
}
