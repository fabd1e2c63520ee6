/**
 * Filling k: when a strategy's drafts, once cleaned and de-duplicated, are fewer than the k asked for (their
 * differences were only whitespace, or a stop rule cut them to the same line), the next candidates are the model's
 * alternatives for the first token: the best first tokens not yet tried, each continued greedily, in one batch per
 * step. Their log-probabilities are the model's own, so they rank with the other drafts. A filler is kept short and
 * cheap: one spare row, the verification window of the prompt cache (a batch copies its cache every step), at most
 * FILL_TOKENS tokens.
 */
import { DecodeContext, DraftState, RawDraft, argmax, checkAbort, logSumExp, topN } from '../decode/decode';

/** Rows beyond the places to fill (a row may clean to an existing draft's text). */
const SPARE_ROWS = 1;
/** Longest filler (tokens): enough for a line; a block filler shows its first lines. */
const FILL_TOKENS = 16;

export async function fillAlternatives(ctx: DecodeContext, need: number, usedFirst: ReadonlySet<number>, window: number): Promise<RawDraft[]> {
  const { runtime, vocab: V } = ctx;
  const heal = ctx.prompt.heal;
  const allowed = heal.length > 0 ? ctx.healing.allowed(heal) : undefined;
  const firstLse = logSumExp(ctx.lastLogits, V, 0);
  const rows = need + SPARE_ROWS;
  const firsts = topN(ctx.lastLogits, rows + usedFirst.size + 1, 0, V, allowed)
    .filter((t) => !usedFirst.has(t) && !ctx.eos.has(t))
    .slice(0, rows);
  if (firsts.length === 0) return [];
  const drafts = firsts.map((t) => {
    const d = new DraftState(heal);
    d.push(ctx, t, ctx.lastLogits[t] - firstLse);
    return d;
  });
  const n = drafts.length;
  let kv = runtime.selectRows(ctx.kv, new Array(n).fill(0), ctx.kv.length - window);
  let last = firsts.slice();
  for (let step = 1; step < FILL_TOKENS && !drafts.every((d) => d.done); step++) {
    checkAbort(ctx.signal);
    // finished rows keep being fed (their outputs are ignored) so the batch stays rectangular
    const out = await runtime.forward({ ids: last, batch: n, seq: 1, past: kv });
    ctx.stats.forwards++;
    kv = out.kv;
    last = drafts.map((d, r) => {
      if (d.done) return last[r];
      const rowAllowed = d.healLeft.length > 0 ? ctx.healing.allowed(d.healLeft) : undefined;
      const t = argmax(out.logits, V, r, rowAllowed);
      d.push(ctx, t, out.logits[r * V + t] - logSumExp(out.logits, V, r));
      return t;
    });
  }
  return drafts.map((d) => d.toRaw());
}
