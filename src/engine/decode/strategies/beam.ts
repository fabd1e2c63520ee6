/**
 * Beam search: k beams advanced in one batch per step; each step keeps the k best extensions by total
 * log-probability. Beams that end (EOS or a stop rule) move to the finished pool; the search stops when no
 * live beam can still beat the k-th finished one (log-probabilities only decrease) or at max tokens. Every finished
 * beam is returned, best first: the ranking keeps the first k that stay distinct after cleaning.
 */
import { DecodeContext, DraftState, RawDraft, Strategy, checkAbort, logSoftmax, restoreCollidingCuts, topN } from '../decode';

export class BeamStrategy implements Strategy {
  readonly name = 'beam' as const;

  async decode(ctx: DecodeContext): Promise<RawDraft[]> {
    const { k, vocab: V, runtime } = ctx;
    let beams = [new DraftState(ctx.prompt.heal)];
    let kv = ctx.kv;
    let logits = ctx.lastLogits;
    const finished: DraftState[] = [];
    const lsm = new Float64Array(V);
    while (beams.length > 0) {
      checkAbort(ctx.signal);
      const cands: { parent: number; token: number; lp: number; total: number }[] = [];
      for (let b = 0; b < beams.length; b++) {
        const beam = beams[b];
        const allowed = beam.healLeft.length > 0 ? ctx.healing.allowed(beam.healLeft) : undefined;
        logSoftmax(logits, V, b, lsm);
        for (const t of topN(lsm, k, 0, V, allowed)) cands.push({ parent: b, token: t, lp: lsm[t], total: beam.logprob + lsm[t] });
      }
      cands.sort((a, b) => b.total - a.total || a.parent - b.parent || a.token - b.token);
      const next: DraftState[] = [];
      const parents: number[] = [];
      for (const c of cands) {
        if (next.length >= k) break;
        const d = beams[c.parent].clone();
        if (d.push(ctx, c.token, c.lp)) {
          finished.push(d);
        } else {
          next.push(d);
          parents.push(c.parent);
        }
      }
      finished.sort((a, b) => b.logprob - a.logprob);
      const bar = finished.length >= k ? finished[k - 1].logprob : -Infinity;
      const live = next.filter((d) => d.logprob > bar);
      if (live.length === 0) break;
      const keepIdx = next.map((d, i) => (d.logprob > bar ? i : -1)).filter((i) => i >= 0);
      beams = live;
      const rows = keepIdx.map((i) => parents[i]);
      const sameRows = rows.length === kv.batch && rows.every((r, i) => r === i);
      const past = sameRows ? kv : runtime.selectRows(kv, rows);
      const out = await runtime.forward({ ids: beams.map((d) => d.tokens[d.tokens.length - 1]), batch: beams.length, seq: 1, past });
      ctx.stats.forwards++;
      kv = out.kv;
      logits = out.logits;
    }
    finished.sort((a, b) => b.logprob - a.logprob);
    restoreCollidingCuts(finished, ctx);
    return finished.map((d) => d.toRaw());
  }
}
