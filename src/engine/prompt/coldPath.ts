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
  /** Tokens of the first prefill forward before any measurement (it measures the speed). */
  firstChunk: 64,
};

/**
 * Tokens per prefill forward for a measured `msPerToken`. Unmeasured (NaN: the first request after loading a large
 * model): a short first forward, whose time measures the speed for the rest.
 */
export function prefillChunkTokens(msPerToken: number, maxChunk: number, policy = COLD_PATH): number {
  if (!(msPerToken > 0)) return Math.min(maxChunk, policy.firstChunk);
  return Math.max(Math.min(policy.minChunk, maxChunk), Math.min(maxChunk, Math.floor(policy.chunkMs / msPerToken)));
}

/**
 * Fraction of the default prompt budget (1, 1/2, 1/4 …, at least `minScale`) whose cold prefill fits the latency
 * target. Powers of two only, so the prompt (and the prompt cache's prefix) does not move with every measurement.
 * Unmeasured (the first request after loading a large model): the floor, so that the first completion does not take
 * the whole budget's prefill (13 s for the 0.5B replica's 618-token prompt on a busy 2-core CPU); the next request
 * grows it if the device is fast.
 */
export function promptBudgetScale(msPerToken: number, budgetTokens: number, policy = COLD_PATH, current?: number): number {
  if (!(msPerToken > 0)) return current ?? policy.minScale;
  // Hysteresis: the scale in use stays until it is clearly too slow (25 % over) or twice as much fits. Every
  // change moves the prompt, so the next request prefills it all again (typing one character then costs a cold
  // request: a measurement near a boundary flipping the scale between two keystrokes did exactly that).
  const cost = (s: number) => msPerToken * budgetTokens * s;
  if (current !== undefined && cost(current) <= policy.coldTargetMs * 1.25 && (current >= 1 || cost(current * 2) > policy.coldTargetMs)) return current;
  let scale = 1;
  while (scale / 2 >= policy.minScale && msPerToken * budgetTokens * scale > policy.coldTargetMs) scale /= 2;
  return scale;
}

export function scaleBudget(b: PromptBudget, scale: number): PromptBudget {
  if (scale >= 1) return b;
  return { prefixTokens: Math.floor(b.prefixTokens * scale), suffixTokens: Math.floor(b.suffixTokens * scale), snippetTokens: Math.floor(b.snippetTokens * scale) };
}
