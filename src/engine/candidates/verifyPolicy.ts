/**
 * How many tokens of each draft the verification pass scores, chosen from the measured cost of the model's forwards.
 *
 * A verification pass over n drafts of T tokens is one batched forward of n × (T − 1) rows (token 0 is scored by the
 * prompt's logits, free). On a small model (the embedded one: ~1 ms per decoding step) the whole pass costs a few ms
 * and all `VERIFY_MAX_TOKENS` are scored. On a real-size model every row pays the transformer and the LM head over a
 * 150k vocabulary (Qwen2.5-0.5B q4 here: ~50 ms fixed + ~7 ms per row, against ~50 ms per decoding step), so scoring
 * 3 × 16 tokens would cost ~8 decoding steps. The pass then gets a share of the request's own decoding time: the
 * first tokens of each draft, which decide most of the ranking (a copy's matched context and the head of a line weigh most),
 * at least two.
 */
import { VERIFY_MAX_TOKENS } from './rank';

export const VERIFY_POLICY = {
  /** A pass estimated below this many ms always scores up to VERIFY_MAX_TOKENS (small models: unchanged ranking). */
  freeMs: 50,
  /** Otherwise the pass may take this share of the request's decoding time. */
  share: 0.06,
};

/** Measured costs of the model's forwards (ModelRuntime.costs), ms. */
export interface ForwardCosts {
  /** A decoding step (one position, batch 1): also the fixed part of any forward. */
  stepMs: number;
  /** Each further row of a scoring (logits-only) forward, log-sum-exp included. */
  rowMs: number;
}

/** Estimated ms of a verification pass over `drafts` drafts of `tokens` tokens each. */
export function verifyCostMs(drafts: number, tokens: number, c: ForwardCosts): number {
  const rows = drafts * Math.max(0, tokens - 1);
  return rows === 0 ? 0 : c.stepMs + rows * c.rowMs;
}

/**
 * Tokens per draft to verify (2..VERIFY_MAX_TOKENS, or the draft length when shorter): the most that fit
 * max(freeMs, share × decodeMs), where `decodeMs` is what decoding the drafts took in this request. Never fewer than
 * 2: on the embedded model's dev set (300 cases, superposed k=3) ranking by the free first token alone is worse than
 * no verification at all (top-1 edit similarity 0.4552 against 0.4690), while 2 tokens keep the whole gain of 16
 * (0.4746 against 0.4731); a 2-token pass is one forward of k rows (~1.6 decoding steps on Qwen2.5-0.5B q4).
 */
export function verifyTokenCount(drafts: number, longest: number, decodeMs: number, c: ForwardCosts, policy = VERIFY_POLICY): number {
  const cap = Math.max(1, Math.min(VERIFY_MAX_TOKENS, longest));
  const floor = Math.min(MIN_TOKENS, cap);
  const budget = Math.max(policy.freeMs, policy.share * decodeMs);
  let t = cap;
  while (t > floor && verifyCostMs(drafts, t, c) > budget) t--;
  return t;
}

const MIN_TOKENS = 2;
