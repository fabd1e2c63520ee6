/**
 * Nucleus sampling: k drafts sampled in one batch (batch k per forward), temperature and top-p from the
 * request, a seeded PRNG so that a request with a seed reproduces exactly. When samples coincide (after cleaning),
 * one more batch of twice the missing count is drawn, so that k distinct drafts come back whenever the distribution
 * offers them, at the cost of at most one more batch.
 */
import { DecodeContext, DraftState, RawDraft, Strategy, checkAbort, logSoftmax, restoreCollidingCuts, rng } from '../decode';

export class SamplingStrategy implements Strategy {
  readonly name = 'sampling' as const;

  async decode(ctx: DecodeContext): Promise<RawDraft[]> {
    const random = rng(ctx.seed);
    const out: RawDraft[] = [];
    const distinct = new Set<string>();
    const rounds = ctx.fillDistinct ? MAX_ROUNDS : 1;
    for (let round = 0; round < rounds && distinct.size < ctx.k; round++) {
      for (const d of await sampleBatch(ctx, round === 0 ? ctx.k : Math.min(16, 2 * (ctx.k - distinct.size)), random)) {
        out.push(d);
        const key = ctx.clean(d.text)?.trim();
        if (key) distinct.add(key);
      }
    }
    return out;
  }
}

const MAX_ROUNDS = 2;

/** `k` drafts sampled in one batch. */
async function sampleBatch(ctx: DecodeContext, k: number, random: () => number): Promise<RawDraft[]> {
  const { vocab: V, runtime } = ctx;
  const drafts = Array.from({ length: k }, () => new DraftState(ctx.prompt.heal));
  let kv = k === 1 ? ctx.kv : runtime.selectRows(ctx.kv, new Array(k).fill(0));
  let logits = ctx.lastLogits;
  let rowOf = (_d: number): number => 0; // the first step samples all drafts from the prompt's logits
  const lsm = new Float64Array(V);
  const scaled = new Float64Array(V);
  const last = new Array<number>(k).fill(0);
  for (;;) {
    checkAbort(ctx.signal);
    for (let d = 0; d < k; d++) {
      const draft = drafts[d];
      if (draft.done) continue;
      const allowed = draft.healLeft.length > 0 ? ctx.healing.allowed(draft.healLeft) : undefined;
      logSoftmax(logits, V, rowOf(d), lsm);
      logSoftmax(logits, V, rowOf(d), scaled, Math.max(1e-4, ctx.temperature));
      const t = sampleNucleus(scaled, ctx.topP, random, allowed);
      last[d] = t;
      draft.push(ctx, t, lsm[t]);
    }
    if (drafts.every((d) => d.done)) break;
    // Finished rows keep being fed (their outputs are ignored) so the batch stays rectangular.
    const out = await runtime.forward({ ids: last, batch: k, seq: 1, past: kv });
    ctx.stats.forwards++;
    kv = out.kv;
    logits = out.logits;
    rowOf = (d) => d;
  }
  restoreCollidingCuts(drafts, ctx);
  return drafts.map((d) => d.toRaw());
}

/**
 * Samples from the smallest set of tokens whose probability mass reaches topP (log-probs in `lp`).
 * Tokens below 1e-6 of the best one cannot matter for any top-p < 1 - 1e-6·|V| and are skipped before sorting.
 */
export function sampleNucleus(lp: Float64Array, topP: number, random: () => number, allowed?: Int32Array): number {
  let best = -Infinity;
  const consider = (i: number): void => {
    if (lp[i] > best) best = lp[i];
  };
  if (allowed) for (let j = 0; j < allowed.length; j++) consider(allowed[j]);
  else for (let i = 0; i < lp.length; i++) consider(i);
  const floor = best + Math.log(1e-6);
  const ids: number[] = [];
  if (allowed) {
    for (let j = 0; j < allowed.length; j++) if (lp[allowed[j]] >= floor) ids.push(allowed[j]);
  } else for (let i = 0; i < lp.length; i++) if (lp[i] >= floor) ids.push(i);
  ids.sort((a, b) => lp[b] - lp[a] || a - b);
  let total = 0;
  for (const i of ids) total += Math.exp(lp[i] - best);
  let kept = 0;
  let mass = 0;
  while (kept < ids.length) {
    mass += Math.exp(lp[ids[kept]] - best);
    kept++;
    if (mass >= topP * total) break;
  }
  let r = random() * mass;
  for (let j = 0; j < kept; j++) {
    r -= Math.exp(lp[ids[j]] - best);
    if (r <= 0) return ids[j];
  }
  return ids[kept - 1];
}
